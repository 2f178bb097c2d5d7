//! `tim mcp`: an MCP server on stdio acting as the home's timite, for desktop MCP clients that
//! start a command (docs/mcp.md).
//!
//! It is a bridge, not a second server: each JSON-RPC message read from standard input (one
//! per line) goes to the running node's `/mcp` with the home's token ([`Client::mcp`]), and
//! every message the node answers is written to standard output, one per line. The tools,
//! resources and prompts are the node's, so they are the same over stdio and HTTP. Requests
//! run concurrently (at most [`MAX_IN_FLIGHT`]), so a tool that waits for a request's outcome
//! does not hold up the others; `initialize` is answered before the next line is read, and the
//! protocol version it negotiates goes with every later message. Logs go to standard error.

use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use tim_client::{Client, ClientError};
use tim_node::api::MAX_JSON_BODY;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::output::Stream;

/// Most requests forwarded to the node at once.
const MAX_IN_FLIGHT: usize = 16;
/// Lines read ahead of the forwarding, and answers waiting to be written.
const QUEUE: usize = 64;
/// The JSON-RPC error code of a message the node could not take (unreachable, refused token).
const NODE_FAILED: i64 = -32000;

/// A line of standard input.
enum Input {
    /// A message, without its line end.
    Line(Vec<u8>),
    /// A line over [`MAX_JSON_BODY`] bytes, skipped.
    TooLong,
}

/// Reads standard input line by line, each at most [`MAX_JSON_BODY`] bytes, until it ends or
/// the receiver is gone (a blocking thread: tokio's stdin is not built into `tim`).
fn read_lines(tx: mpsc::Sender<Input>) {
    let stdin = io::stdin();
    let mut reader = stdin.lock();
    let limit = MAX_JSON_BODY as u64 + 1;
    loop {
        let mut line = Vec::new();
        let input = match (&mut reader).take(limit).read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) if line.len() as u64 == limit && !line.ends_with(b"\n") => {
                // Skip the rest of the line.
                let mut rest = Vec::new();
                if reader.read_until(b'\n', &mut rest).is_err() {
                    return;
                }
                Input::TooLong
            }
            Ok(_) => {
                while line.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                    line.pop();
                }
                Input::Line(line)
            }
            Err(e) => {
                tracing::warn!("cannot read standard input: {e}");
                return;
            }
        };
        if tx.blocking_send(input).is_err() {
            return;
        }
    }
}

/// A JSON-RPC error answer to the request `id`.
fn error_answer(id: &Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Forwards one message; answers what to write back: the node's messages, or for a request
/// the node could not take, an error answer saying why (a notification's failure is logged).
async fn forward(client: &Client, message: &Value, version: Option<&str>) -> Vec<Value> {
    let body = message.to_string().into_bytes();
    match client.mcp(body, version).await {
        Ok(answers) => answers,
        Err(e) => {
            let why = match &e {
                ClientError::Unreachable { url, source } => {
                    format!(
                        "the node at {url} did not answer ({source}); is `tim node run` running?"
                    )
                }
                e => format!("the node refused the message: {e}"),
            };
            match message.get("id") {
                Some(id) => vec![error_answer(id, NODE_FAILED, why)],
                None => {
                    tracing::warn!("{why}");
                    Vec::new()
                }
            }
        }
    }
}

/// Writes each message it receives to standard output, one JSON line each.
async fn write_answers(mut rx: mpsc::Receiver<Value>) -> io::Result<()> {
    while let Some(message) = rx.recv().await {
        let mut line = message.to_string();
        line.push('\n');
        Stream::Stdout.write_all(line.as_bytes())?;
        Stream::Stdout.flush()?;
    }
    Ok(())
}

/// `tim mcp`: serves MCP on stdio through the node `client` talks to, until standard input
/// ends.
pub(crate) async fn serve(client: Client) -> Result<()> {
    let me = client
        .me()
        .await
        .with_context(|| format!("`tim mcp` cannot use the node at {}", client.base()))?;
    tracing::info!(
        "MCP on stdio, acting as {} through {}/mcp",
        me.did,
        client.base()
    );
    let client = Arc::new(client);
    let (line_tx, mut lines) = mpsc::channel(QUEUE);
    std::thread::spawn(move || read_lines(line_tx));
    let (out, answers) = mpsc::channel(QUEUE);
    let writer = tokio::spawn(write_answers(answers));
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut running = JoinSet::new();
    let mut version: Option<String> = None;
    while let Some(input) = lines.recv().await {
        let message: Value = match input {
            Input::TooLong => {
                let why = format!("a message is at most {MAX_JSON_BODY} bytes");
                out.send(error_answer(&Value::Null, -32600, why)).await?;
                continue;
            }
            Input::Line(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Input::Line(line) => match serde_json::from_slice(&line) {
                Ok(v) => v,
                Err(e) => {
                    let why = format!("not JSON: {e}");
                    out.send(error_answer(&Value::Null, -32700, why)).await?;
                    continue;
                }
            },
        };
        if message["method"] == "initialize" {
            for answer in forward(&client, &message, None).await {
                if let Some(v) = answer["result"]["protocolVersion"].as_str() {
                    version = Some(v.to_string());
                }
                out.send(answer).await?;
            }
            continue;
        }
        let slot = slots.clone().acquire_owned().await?;
        let (client, out, version) = (client.clone(), out.clone(), version.clone());
        running.spawn(async move {
            let _slot = slot;
            for answer in forward(&client, &message, version.as_deref()).await {
                if out.send(answer).await.is_err() {
                    return;
                }
            }
        });
        // Forget the finished ones as we go.
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
    drop(out);
    writer.await??;
    Ok(())
}
