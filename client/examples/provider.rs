//! An agent as provider (docs/abilities.md §10.1): declares `text.shout` in a space and serves
//! every request for it addressed to its timite, answering with the text in capitals.
//!
//! ```text
//! cargo run -p tim-client --example provider -- API_URL TOKEN SPACE
//! ```
//! `API_URL` is the node's API (`http://127.0.0.1:4711`), `TOKEN` a bearer token of the timite
//! that provides (`tim token new DID`), `SPACE` the space's id.

use serde_json::{json, Value};
use tim_client::provider::{serve, Served};
use tim_client::Client;
use tim_protocol::api::{AbilityRequest, DeclareAbility};
use tim_protocol::SpaceId;

const ABILITY: &str = "text.shout";

/// The work: the input's `text`, in capitals.
async fn shout(request: AbilityRequest) -> Result<Value, String> {
    let text = request.input["text"]
        .as_str()
        .ok_or("the input has no `text`")?;
    Ok(json!({ "text": text.to_uppercase() }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [api, token, space] = args.as_slice() else {
        return Err("usage: provider API_URL TOKEN SPACE".into());
    };
    let space: SpaceId = space.parse().map_err(|e| format!("SPACE: {e}"))?;
    let client = Client::new(api, token);
    let me = client.me().await?.did;
    let text = json!({ "type": "object", "properties": { "text": { "type": "string" } },
                       "required": ["text"] });
    let declaration = DeclareAbility {
        description: "Answers with the text in capitals".into(),
        input_schema: text.clone(),
        output_schema: text,
        credential: None,
        attestation: None,
        price: None,
    };
    client.declare_ability(space, ABILITY, &declaration).await?;
    println!("{me} serves {ABILITY} in {space}");
    let report = |s: Served| match s.outcome {
        Ok(out) => println!("{}: answered {out}", s.request.id),
        Err(why) => println!("{}: failed: {why}", s.request.id),
    };
    serve(&client, space, me, shout, report).await?;
    Ok(())
}
