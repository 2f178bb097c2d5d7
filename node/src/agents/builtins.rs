//! What the offline templates say and the built-in abilities compute: pure functions of their
//! inputs, so an agent without a model is deterministic (docs/agents.md, "Templates").
//!
//! * [`summarize`]: extractive; each sentence scores the mean frequency (in the whole text) of
//!   its words that are not stop words, and the best `k` are kept in their original order
//!   (ties go to the earlier sentence).
//! * [`keywords`]: the most frequent words that are not stop words, ties alphabetical.
//! * [`catalyst_question`]: one of a fixed list of question frames, chosen by an FNV-1a hash
//!   of the space id and its message count, filled with the purpose's key phrase.
//! * [`greeting`] and [`activity_report`]: fixed sentences filled with the facts.
//! * [`signed`]: every message an agent posts says who it is and that it is an agent.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use tim_protocol::api::{AgentStyle, MemberView, MessageView};
use tim_protocol::{Did, SpaceId};

/// Sentences a summary keeps unless the input says otherwise.
pub const DEFAULT_SUMMARY_SENTENCES: usize = 2;
/// Keywords unless the input says otherwise.
pub const DEFAULT_KEYWORDS: usize = 5;
/// Longest text a built-in takes (bytes).
pub const MAX_BUILTIN_INPUT: usize = 256 * 1024;

const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he",
    "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "may", "more", "most",
    "my", "no", "not", "of", "on", "one", "or", "our", "out", "over", "she", "so", "some", "such",
    "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "to", "too", "up", "us", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "why", "will", "with", "would", "you", "your",
];

/// Why a built-in refused its input (posted as the request's failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuiltinError {
    /// A field is missing or of the wrong type.
    #[error("the input needs {0}")]
    Input(&'static str),
    /// The text is over [`MAX_BUILTIN_INPUT`].
    #[error("the text is over {MAX_BUILTIN_INPUT} bytes")]
    TooLong,
}

fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(&w.as_str()))
}

fn frequencies(text: &str) -> HashMap<String, usize> {
    let mut f = HashMap::new();
    for w in words(text) {
        *f.entry(w).or_insert(0) += 1;
    }
    f
}

/// The sentences of `text`: split after `.`, `!` or `?` followed by white space, and at line
/// breaks; trimmed, empty ones left out.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        if (matches!(c, '.' | '!' | '?') && next_is_space) || c == '\n' {
            let end = i + c.len_utf8();
            out.push(text[start..end].trim());
            start = end;
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

fn text_field<'a>(input: &'a Value, what: &'static str) -> Result<&'a str, BuiltinError> {
    let text = input["text"].as_str().ok_or(BuiltinError::Input(what))?;
    if text.len() > MAX_BUILTIN_INPUT {
        return Err(BuiltinError::TooLong);
    }
    Ok(text)
}

fn count_field(input: &Value, field: &str, default: usize) -> usize {
    input[field]
        .as_u64()
        .map_or(default, |n| n.clamp(1, 100) as usize)
}

/// `text.summarize`: `{text, sentences?}` → `{summary}`; see the [module documentation](self).
pub fn summarize(input: &Value) -> Result<Value, BuiltinError> {
    let text = text_field(input, "`text`, a string")?;
    let k = count_field(input, "sentences", DEFAULT_SUMMARY_SENTENCES);
    let freq = frequencies(text);
    let all = sentences(text);
    let mut scored: Vec<(usize, f64)> = all
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ws: Vec<String> = words(s).collect();
            let total: usize = ws.iter().map(|w| freq[w]).sum();
            (i, total as f64 / ws.len().max(1) as f64)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut keep: Vec<usize> = scored.into_iter().take(k).map(|(i, _)| i).collect();
    keep.sort_unstable();
    let summary: Vec<&str> = keep.into_iter().map(|i| all[i]).collect();
    Ok(json!({ "summary": summary.join(" ") }))
}

/// `text.keywords`: `{text, count?}` → `{keywords}`; see the [module documentation](self).
pub fn keywords(input: &Value) -> Result<Value, BuiltinError> {
    let text = text_field(input, "`text`, a string")?;
    let k = count_field(input, "count", DEFAULT_KEYWORDS);
    let mut f: Vec<(String, usize)> = frequencies(text).into_iter().collect();
    f.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let keywords: Vec<String> = f.into_iter().take(k).map(|(w, _)| w).collect();
    Ok(json!({ "keywords": keywords }))
}

/// The first 8 characters after `did:key:z6Mk`, which tell timites apart in a sentence.
pub fn short_did(did: &Did) -> String {
    let s = did.to_string();
    let tail = s.strip_prefix("did:key:z6Mk").unwrap_or(&s);
    format!("…{}", tail.chars().take(8).collect::<String>())
}

/// `space.activity` and the observer's periodic report: messages per author in the window
/// (most first, ties by DID) and members who joined in it.
pub fn activity_report(
    messages: &[MessageView],
    members: &[MemberView],
    since: u64,
    window_secs: u64,
) -> String {
    let mut per: BTreeMap<Did, usize> = BTreeMap::new();
    for m in messages.iter().filter(|m| m.at >= since) {
        *per.entry(m.author).or_insert(0) += 1;
    }
    let total: usize = per.values().sum();
    let mut per: Vec<(Did, usize)> = per.into_iter().collect();
    per.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let counts: Vec<String> = per
        .iter()
        .map(|(d, n)| format!("{} {n}", short_did(d)))
        .collect();
    let joined: Vec<String> = members
        .iter()
        .filter(|m| m.joined_at >= since)
        .map(|m| short_did(&m.did))
        .collect();
    let window = if window_secs.is_multiple_of(3600) {
        format!("{} h", window_secs / 3600)
    } else {
        format!("{window_secs} s")
    };
    format!(
        "Activity over the last {window}: {total} messages{}; {} new members{}.",
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        },
        joined.len(),
        if joined.is_empty() {
            String::new()
        } else {
            format!(" ({})", joined.join(", "))
        }
    )
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and Rust version.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const QUESTION_FRAMES: [&str; 6] = [
    "What is one small step we could take on {} this week?",
    "What has surprised you lately about {}?",
    "If we started {} over today, what would we do differently?",
    "Who else should be part of {}, and how could we invite them?",
    "What is the hardest open question about {} right now?",
    "What would make {} clearly better a month from now?",
];

/// The key phrase of a purpose: its first clause, without a leading article, lower-cased at
/// the start; the space's name if the purpose is empty.
fn key_phrase(name: &str, purpose: &str) -> String {
    let first = purpose
        .split(['.', ';', ':', '!', '?', '\n'])
        .next()
        .unwrap_or("")
        .trim();
    let phrase = if first.is_empty() { name.trim() } else { first };
    let lower = phrase.to_lowercase();
    let stripped = ["the ", "a ", "an ", "to "]
        .iter()
        .find_map(|a| lower.starts_with(a).then(|| &phrase[a.len()..]))
        .unwrap_or(phrase);
    // An acronym keeps its capitals; any other first letter is lowered for mid-sentence use.
    let first_word = stripped.split_whitespace().next().unwrap_or("");
    if first_word.chars().count() > 1 && !first_word.chars().any(char::is_lowercase) {
        return stripped.to_string();
    }
    let mut chars = stripped.chars();
    chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The catalyst's question for a quiet space; see the [module documentation](self).
pub fn catalyst_question(
    space: &SpaceId,
    messages: usize,
    name: &str,
    purpose: &str,
    style: AgentStyle,
) -> String {
    let mut seed = space.as_bytes().to_vec();
    seed.extend_from_slice(&(messages as u64).to_be_bytes());
    let frame = QUESTION_FRAMES[(fnv1a(&seed) % QUESTION_FRAMES.len() as u64) as usize];
    let question = frame.replace("{}", &key_phrase(name, purpose));
    match style {
        AgentStyle::Casual => format!("It's been quiet here. {question}"),
        AgentStyle::Formal => format!("This space has been quiet for a while. {question}"),
    }
}

/// An agent's message as it posts it: the text, then who says it and that it is an agent, so
/// that readers learn it from the agent itself (Tim does not label authors).
pub fn signed(text: &str, agent: &str) -> String {
    format!("{text} ({agent}, an agent)")
}

/// The greeter's welcome to a new member (named by its short DID).
pub fn greeting(member: &Did, name: &str, purpose: &str, style: AgentStyle) -> String {
    let about = if purpose.trim().is_empty() {
        format!("This is {name}.")
    } else {
        format!("This space is for {}.", key_phrase(name, purpose))
    };
    match style {
        AgentStyle::Casual => format!("Welcome, {}! {about}", short_did(member)),
        AgentStyle::Formal => format!("Welcome, {}. {about}", short_did(member)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_keeps_the_most_representative_sentences_in_order() {
        let text = "Gardens need water. Water keeps gardens alive in summer. \
                    Cats sleep a lot. Summer gardens need water every day.";
        let out = summarize(&json!({ "text": text })).unwrap();
        assert_eq!(
            out["summary"],
            "Gardens need water. Water keeps gardens alive in summer."
        );
        let one = summarize(&json!({ "text": text, "sentences": 1 })).unwrap();
        assert_eq!(one["summary"], "Gardens need water.");
        assert_eq!(
            summarize(&json!({ "words": 1 })),
            Err(BuiltinError::Input("`text`, a string"))
        );
    }

    #[test]
    fn keywords_are_the_most_frequent_words_then_alphabetical() {
        let out =
            keywords(&json!({ "text": "the bee and the bee and a hive, honey hive", "count": 3 }))
                .unwrap();
        assert_eq!(out["keywords"], json!(["bee", "hive", "honey"]));
    }

    #[test]
    fn the_catalyst_question_depends_only_on_its_inputs() {
        let space: SpaceId = "07".repeat(32).parse().unwrap();
        let a = catalyst_question(
            &space,
            3,
            "garden",
            "The community garden.",
            AgentStyle::Casual,
        );
        let b = catalyst_question(
            &space,
            3,
            "garden",
            "The community garden.",
            AgentStyle::Casual,
        );
        assert_eq!(a, b);
        assert!(a.contains("community garden"), "{a}");
        let others: std::collections::HashSet<String> = (0..20)
            .map(|n| catalyst_question(&space, n, "garden", "the garden", AgentStyle::Formal))
            .collect();
        assert!(others.len() > 1, "the frame varies with the message count");
    }
}
