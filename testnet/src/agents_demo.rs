//! `tim testnet demo --agents`: three node processes, two agents, one human (docs/agents.md,
//! "The demo"). A catalyst on node 2 wakes a quiet space; the human on node 1 asks for
//! `text.summarize`, which a summarizer agent on node 3 serves with its offline built-in; the
//! human rates the answer, and the provider's reputation moves on every node. The transcript
//! names authors by DID only: who is an agent is what the agents' own messages say.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;
use tim_client::{Client, RequestStep};
use tim_protocol::api::{AbilitySearchQuery, DeclareAbility, NewAgent, NewRequest};
use tim_protocol::{Did, SpaceId};

use crate::{ms, short, Cluster, Progress};

/// How long the demo waits for each step.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The catalyst's persona: the shipped one, with a quiet period short enough for a demo.
const QUICK_CATALYST: &str = r#"
name = "catalyst"
description = "An agent that wakes a quiet space with a question about what the space is for."
template = "catalyst"
proactivity = 0.6
style = "casual"

[budget]
actions_per_hour = 6
tokens_per_day = 0

[[triggers]]
kind = "quiet_space"
after_secs = 3
"#;

/// The text the human asks to summarize.
const NOTES: &str = "The garden meeting agreed on new watering shifts. Watering shifts start on \
                     Monday and each plot has a watering shift. Someone brought cake. The seed \
                     swap moves to the first Saturday of the month.";

/// Polls `probe` every 50 ms until it gives a value, or fails after [`STEP_TIMEOUT`] naming
/// `what`.
async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!(
                "timed out after {}s waiting for {what}",
                STEP_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn agent(name: &str, persona: &str, space: SpaceId, via: &str) -> NewAgent {
    NewAgent {
        name: name.into(),
        persona: persona.into(),
        model: None,
        endpoint: None,
        key_env: None,
        key_file: None,
        spaces: vec![space],
        via: vec![via.to_string()],
    }
}

/// Runs the agents demo on 3 fresh nodes, writing its transcript to `out`; answers whether
/// every step happened.
pub async fn demo_agents(
    exe: &std::path::Path,
    progress: Option<Progress<'_>>,
    out: &mut (dyn Write + Send),
) -> Result<bool> {
    let started = Instant::now();
    writeln!(
        out,
        "== Tim testnet demo: agents on 3 nodes on 127.0.0.1 =="
    )?;
    let mut cluster = Cluster::start(exe, 3, None, progress).await?;
    let result = run(&cluster, out).await;
    cluster.stop().await;
    let ok = result?;
    writeln!(out)?;
    writeln!(
        out,
        "RESULT: {} (total {:.1} s)",
        if ok {
            "the agents took part"
        } else {
            "SOMETHING WAS MISSING"
        },
        started.elapsed().as_secs_f64()
    )?;
    Ok(ok)
}

async fn run(cluster: &Cluster, out: &mut (dyn Write + Send)) -> Result<bool> {
    let [n1, n2, n3] = [&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]];
    let human = n1.client.status().await?.timite;
    let space = n1
        .client
        .create_space("garden", "The community garden: plots, seeds and watering.")
        .await?
        .id;
    writeln!(
        out,
        "\nnode 1: timite {} made the space \"garden\" ({})",
        short(&human.to_string()),
        short(&space.to_string())
    )?;
    // Its first declaration brings the space to the abilities' schema.
    let advice = DeclareAbility {
        description: "Advice on what to plant, and when".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: None,
        attestation: None,
        price: None,
    };
    n1.client
        .declare_ability(space, "garden.advice", &advice)
        .await?;
    writeln!(out, "  and declared the ability garden.advice")?;
    let via = n1.listen[0].as_str();

    let t = Instant::now();
    let digest = n3
        .client
        .new_agent(&agent("digest", "summarizer", space, via))
        .await?;
    writeln!(
        out,
        "node 3: the operator made agent \"digest\" (summarizer) {}, which joined in {} and offers {}",
        short(&digest.did.to_string()),
        ms(t.elapsed()),
        digest.abilities.join(", ")
    )?;
    let t = Instant::now();
    let spark = n2
        .client
        .new_agent(&agent("spark", QUICK_CATALYST, space, via))
        .await?;
    writeln!(
        out,
        "node 2: the operator made agent \"spark\" (catalyst, wakes the space after 3 s of quiet) {}, which joined in {}",
        short(&spark.did.to_string()),
        ms(t.elapsed())
    )?;

    // The quiet space is woken.
    let t = Instant::now();
    let question = wait_for("the catalyst's question on node 1", || async {
        let timeline = n1.client.timeline(space).await?;
        Ok(timeline
            .messages
            .into_iter()
            .find(|m| m.author == spark.did))
    })
    .await?;
    writeln!(
        out,
        "\nthe space was quiet; {} later node 1 reads: \"{}\"",
        ms(t.elapsed()),
        question.text
    )?;
    n1.client
        .post_message(
            space,
            "Good question. Here are the notes of the last meeting.",
        )
        .await?;

    // The human finds who summarizes, asks, and rates.
    let query = AbilitySearchQuery {
        q: "summarize".into(),
        space: Some(space),
        network: false,
    };
    let provider = wait_for("text.summarize in node 1's search", || async {
        let hits = n1.client.search_abilities(&query).await?;
        Ok(hits
            .into_iter()
            .find(|h| h.name == "text.summarize")
            .map(|h| h.provider))
    })
    .await?;
    let before = reputations(cluster, space, provider).await?;
    let t = Instant::now();
    let made = n1
        .client
        .request_ability(
            space,
            &NewRequest {
                ability: "text.summarize".into(),
                input: json!({ "text": NOTES, "sentences": 2 }),
                to: Some(provider),
                timeout_secs: Some(60),
                reward: None,
            },
        )
        .await?;
    writeln!(
        out,
        "\nnode 1 asks {} for text.summarize of the meeting notes (request {})",
        short(&provider.to_string()),
        short(&made.id)
    )?;
    let done = wait_for("the summary on node 1", || async {
        let r = n1.client.request(space, &made.id).await?;
        Ok(matches!(r.state.as_str(), "completed" | "failed").then_some(r))
    })
    .await?;
    writeln!(
        out,
        "  {} after asking, the request is {}: {}",
        ms(t.elapsed()),
        done.state,
        done.output.clone().unwrap_or(json!(done.failure))
    )?;
    if done.state != "completed" {
        return Ok(false);
    }
    n1.client
        .request_step(space, &made.id, RequestStep::rating(5))
        .await?;
    writeln!(out, "node 1 rates the answer 5/5")?;
    let after = wait_for("the rating on every node", || async {
        let now = reputations(cluster, space, provider).await?;
        Ok(now
            .iter()
            .all(|(_, ratings, _)| *ratings > 0)
            .then_some(now))
    })
    .await?;
    writeln!(
        out,
        "\nreputation of {} for text.summarize, per node (before → after):",
        short(&provider.to_string())
    )?;
    for (i, ((b_score, b_ratings, b_member), (a_score, a_ratings, a_member))) in
        before.iter().zip(&after).enumerate()
    {
        writeln!(
            out,
            "  node {}: rating score {b_score}‰ ({b_ratings} ratings) → {a_score}‰ ({a_ratings} ratings); member reputation {b_member} → {a_member}",
            i + 1
        )?;
    }
    let moved = before
        .iter()
        .zip(&after)
        .all(|(b, a)| a.1 > b.1 && a.0 > b.0 && a.2 > b.2);

    // The transcript, as node 1 has it: authors by DID; an agent is one whose messages say so.
    writeln!(
        out,
        "\ntranscript on node 1 (authors by DID, as every node sees them):"
    )?;
    let timeline = n1.client.timeline(space).await?;
    let mut agents: Vec<Did> = Vec::new();
    for m in &timeline.messages {
        writeln!(out, "  {}: {}", short(&m.author.to_string()), m.text)?;
        if m.text.ends_with(", an agent)") && !agents.contains(&m.author) {
            agents.push(m.author);
        }
    }
    for a in &agents {
        writeln!(
            out,
            "  ({} says in its messages that it is an agent)",
            short(&a.to_string())
        )?;
    }
    let _ = (n2, n3);
    Ok(moved)
}

/// Per node: the provider's `text.summarize` rating score (per mille), its number of ratings,
/// and its member reputation in the space.
async fn reputations(
    cluster: &Cluster,
    space: SpaceId,
    provider: Did,
) -> Result<Vec<(u64, u64, u64)>> {
    let mut all = Vec::new();
    for n in &cluster.nodes {
        all.push(reputation(&n.client, space, provider).await?);
    }
    Ok(all)
}

async fn reputation(client: &Client, space: SpaceId, provider: Did) -> Result<(u64, u64, u64)> {
    let ability = client
        .abilities(space)
        .await?
        .into_iter()
        .find(|a| a.provider == provider && a.name == "text.summarize");
    let member = client
        .members(space)
        .await?
        .into_iter()
        .find(|m| m.did == provider)
        .map_or(0, |m| m.reputation);
    Ok(match ability {
        Some(a) => (a.reputation.rating_score, a.reputation.ratings, member),
        None => (0, 0, member),
    })
}
