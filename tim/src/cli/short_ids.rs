//! Short space ids: wherever the command line takes a space, an unambiguous prefix of the id
//! of a space the node hosts will do (`tim read 3f9a`). Done once, for every command: a value
//! clap refuses for an argument that takes a space, if it is a hex prefix shorter than a space
//! id, is looked up among the node's spaces and replaced by the whole id, and the command line
//! is parsed again.

use std::any::TypeId;
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::error::{ContextKind, ContextValue};
use clap::Parser;
use tim_node::home;
use tim_protocol::SpaceId;

use super::link::JoinTarget;

/// Hex digits in a whole space id.
const SPACE_ID_LEN: usize = 64;

/// Parses `args` as `P`, expanding short space ids. The outer error is a failed lookup (no
/// node, no such space, an ambiguous prefix); the inner one is clap's, for everything else.
pub(crate) fn parse<P: Parser>(mut args: Vec<OsString>) -> Result<Result<P, clap::Error>> {
    // Which arguments take a space: looked up only once a command line is refused.
    let mut takes_space: Option<HashSet<String>> = None;
    loop {
        let e = match P::try_parse_from(&args) {
            Ok(parsed) => return Ok(Ok(parsed)),
            Err(e) => e,
        };
        let takes_space = takes_space.get_or_insert_with(|| {
            let mut command = P::command();
            command.build();
            let mut found = HashSet::new();
            space_args(&command, &mut found);
            found
        });
        let Some(prefix) = refused_prefix(&e, takes_space) else {
            return Ok(Err(e));
        };
        let id = resolve(&args, &prefix)?;
        for a in args.iter_mut().filter(|a| **a == *prefix) {
            *a = OsString::from(&id);
        }
    }
}

/// Every argument (as clap names it in errors, e.g. `<SPACE>`, `--from <FROM>`) of `command`
/// and its subcommands whose value is a space.
fn space_args(command: &clap::Command, out: &mut HashSet<String>) {
    for arg in command.get_arguments() {
        let t = arg.get_value_parser().type_id();
        if t == TypeId::of::<SpaceId>() || t == TypeId::of::<JoinTarget>() {
            out.insert(arg.to_string());
        }
    }
    for sub in command.get_subcommands() {
        space_args(sub, out);
    }
}

/// The value clap refused for an argument that takes a space, if it looks like the start of a
/// space id.
fn refused_prefix(e: &clap::Error, takes_space: &HashSet<String>) -> Option<String> {
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let Some(ContextValue::String(v)) = e.get(ContextKind::InvalidValue) else {
        return None;
    };
    if !takes_space.contains(arg) {
        return None;
    }
    let hex = v.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !v.is_empty() && v.len() < SPACE_ID_LEN).then(|| v.clone())
}

/// The one space the node hosts whose id starts with `prefix`.
fn resolve(args: &[OsString], prefix: &str) -> Result<String> {
    let home = home::resolve(flag(args, "home").map(PathBuf::from));
    let node = flag(args, "node").or_else(|| std::env::var("TIM_NODE").ok());
    let token = flag(args, "token").or_else(|| std::env::var("TIM_TOKEN").ok());
    let client = super::client(&home, node, token)
        .with_context(|| format!("`{prefix}` is not a whole space id, and to expand it"))?;
    let spaces = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(client.spaces())
        .context("cannot list the node's spaces to expand a short space id")?;
    let lower = prefix.to_ascii_lowercase();
    let found: Vec<_> = spaces
        .iter()
        .filter(|s| s.id.to_string().starts_with(&lower))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.id.to_string()),
        [] => bail!("no space this node hosts has an id starting with `{prefix}`"),
        many => bail!(
            "`{prefix}` starts the ids of {} spaces; give more of it: {}",
            many.len(),
            many.iter()
                .map(|s| format!("{} ({})", s.id, crate::output::shown(&s.name)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The value of the global flag `--name V` or `--name=V` (before any `--`).
fn flag(args: &[OsString], name: &str) -> Option<String> {
    let (long, with_eq) = (format!("--{name}"), format!("--{name}="));
    let mut it = args
        .iter()
        .take_while(|a| *a != "--")
        .map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == long {
            return it.next().map(|v| v.into_owned());
        }
        if let Some(v) = a.strip_prefix(&with_eq) {
            return Some(v.to_string());
        }
    }
    None
}
