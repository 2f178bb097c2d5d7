//! The node's metrics, served in the OpenMetrics text format at `GET /metrics` (operator
//! token only): the node's own counters (`tim_*`), libp2p's bytes on the wire by direction
//! (`libp2p_bandwidth_bytes_total`) and gossipsub's message counts, including duplicates
//! (`gossipsub_topic_msg_recv_counts_unfiltered_total` minus `…_recv_counts_total`), mesh
//! sizes and peer scores.
//!
//! No label names a space or a timite: gossipsub labels its metrics by topic (a space's
//! topic carries its id), so they are kept in a registry of their own and summed over topics
//! when served ([`encode`]). The series are the same whatever the number of spaces.

use std::collections::HashMap;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// Labels gossipsub puts a topic in.
const TOPIC_LABELS: [&str; 2] = ["hash", "topic_hash"];

/// The node's registries: `node` is served as it is, `gossipsub` summed over topics.
#[derive(Debug, Default)]
pub(crate) struct Registries {
    pub(crate) node: Registry,
    pub(crate) gossipsub: Registry,
}

/// The node's own counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeMetrics {
    /// Sync requests sent (each one a round trip).
    pub(crate) sync_requests: Counter,
    /// Changes stored, whatever their path (local, gossip, sync, import).
    pub(crate) changes_stored: Counter,
    /// Changes refused, whatever their path.
    pub(crate) changes_rejected: Counter,
    /// Connections from banned peers closed as they were established.
    pub(crate) peers_refused: Counter,
    /// Peers banned because gossipsub's score graylisted them.
    pub(crate) peers_graylisted: Counter,
}

impl NodeMetrics {
    /// Registers the counters under `tim_`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        let tim = registry.sub_registry_with_prefix("tim");
        tim.register(
            "sync_requests_sent",
            "Sync requests sent to peers (round trips)",
            self.sync_requests.clone(),
        );
        tim.register(
            "changes_stored",
            "Signed changes stored (local, gossip, sync, import)",
            self.changes_stored.clone(),
        );
        tim.register(
            "changes_rejected",
            "Changes refused (bad signature, rules, malformed)",
            self.changes_rejected.clone(),
        );
        tim.register(
            "peers_refused",
            "Connections of banned peers closed as they were established",
            self.peers_refused.clone(),
        );
        tim.register(
            "peers_graylisted",
            "Peers banned because their gossipsub score fell below the graylist threshold",
            self.peers_graylisted.clone(),
        );
    }
}

/// The registries as OpenMetrics text, gossipsub's summed over topics.
pub(crate) fn encode(r: &Registries) -> String {
    let mut node = String::new();
    let mut gossip = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut node, &r.node);
    let _ = prometheus_client::encoding::text::encode(&mut gossip, &r.gossipsub);
    let mut out = String::with_capacity(node.len() + gossip.len());
    out.push_str(node.trim_end().trim_end_matches("# EOF").trim_end());
    out.push('\n');
    out.push_str(&without_topics(&gossip));
    out.push_str("# EOF\n");
    out
}

/// OpenMetrics text with the topic labels taken out and the samples that differed only by
/// topic summed. Gauges of the last message's size mean nothing summed: they are left out.
fn without_topics(text: &str) -> String {
    let mut out = String::new();
    // The samples of the current family, in the order first seen.
    let mut samples: Vec<(String, f64)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let flush = |out: &mut String, samples: &mut Vec<(String, f64)>, index: &mut HashMap<_, _>| {
        for (series, v) in samples.drain(..) {
            out.push_str(&format!("{series} {}\n", number(v)));
        }
        index.clear();
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut out, &mut samples, &mut index);
            let family = line.split_whitespace().nth(2).unwrap_or_default();
            if line != "# EOF" && !family.contains("_last_") {
                out.push_str(line);
                out.push('\n');
            }
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if series.contains("_last_") {
            continue;
        }
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let series = drop_topic_labels(series);
        match index.get(&series) {
            Some(&i) => samples[i].1 += value,
            None => {
                index.insert(series.clone(), samples.len());
                samples.push((series, value));
            }
        }
    }
    flush(&mut out, &mut samples, &mut index);
    out
}

/// `name{a="x",hash="t",b="y"}` → `name{a="x",b="y"}` (and `name` if no label is left).
fn drop_topic_labels(series: &str) -> String {
    let Some((name, labels)) = series.split_once('{') else {
        return series.to_string();
    };
    let labels = labels.strip_suffix('}').unwrap_or(labels);
    let kept: Vec<&str> = split_labels(labels)
        .into_iter()
        .filter(|l| {
            let key = l.split('=').next().unwrap_or_default();
            !TOPIC_LABELS.contains(&key)
        })
        .collect();
    if kept.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", kept.join(","))
    }
}

/// Splits `a="x",b="y,z"` at the commas outside quoted values (which escape `"` as `\"`).
fn split_labels(labels: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        parts.push(&labels[start..]);
    }
    parts
}

/// A sample's value as OpenMetrics text: whole numbers without a fraction.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_summed_away_and_other_labels_kept() {
        let text = "# HELP g_mesh Mesh peers.\n# TYPE g_mesh gauge\n\
            g_mesh{topic_hash=\"tim/space/aa/1\"} 2\n\
            g_mesh{topic_hash=\"tim/space/bb/1\"} 3\n\
            # HELP g_score Score.\n# TYPE g_score histogram\n\
            g_score_bucket{hash=\"tim/space/aa/1\",le=\"0.0\"} 1\n\
            g_score_bucket{hash=\"tim/space/bb/1\",le=\"0.0\"} 4\n\
            g_score_sum{hash=\"tim/space/bb/1\"} 0.5\n\
            g_score_sum{hash=\"tim/space/aa/1\"} 0.25\n\
            # HELP g_topic_msg_last_recv_bytes Last size.\n# TYPE g_topic_msg_last_recv_bytes gauge\n\
            g_topic_msg_last_recv_bytes{hash=\"tim/space/aa/1\"} 9\n\
            # EOF\n";
        let out = without_topics(text);
        assert!(!out.contains("tim/space"), "{out}");
        assert!(out.contains("g_mesh 5\n"), "{out}");
        assert!(out.contains("g_score_bucket{le=\"0.0\"} 5\n"), "{out}");
        assert!(out.contains("g_score_sum 0.75\n"), "{out}");
        assert!(!out.contains("_last_"), "{out}");
        assert!(!out.contains("# EOF"), "{out}");
    }

    #[test]
    fn commas_inside_quoted_values_do_not_split() {
        assert_eq!(
            drop_topic_labels(r#"m{a="x,\"y",hash="t",b="z"}"#),
            r#"m{a="x,\"y",b="z"}"#
        );
    }
}
