//! Helpers for tests: run the sync protocol between replicas, forge arbitrary changes, and
//! verify credentials in test formats.

use automerge::transaction::Transaction;
use automerge::Automerge;
use ed25519_dalek::SigningKey;
use serde_json::Value;
use tim_protocol::{ChangeHash, Did, Envelope};

use crate::admission::{
    AdmissionVerifier, PresentedCredential, StatusRef, VerifiedCredential, VerifiedStatusList,
};
use crate::{Ingested, Rejection, Space, SpaceError, SyncState, Writer};

/// A writer with a key and a session id made from `seed` (tests only: real sessions are
/// random).
pub fn writer(seed: u8) -> Writer {
    Writer::new(
        SigningKey::from_bytes(&[seed; 32]),
        [seed; crate::SESSION_BYTES],
    )
}

/// Asserts that a change was refused for a reason that mentions `words`.
pub fn assert_refused(r: Result<Ingested, Rejection>, words: &str) {
    match r {
        Err(e) => assert!(
            e.to_string().contains(words),
            "reason `{e}` lacks `{words}`"
        ),
        Ok(o) => panic!("expected a refusal mentioning `{words}`, got {o:?}"),
    }
}

/// Asserts that a local write was refused for a reason that mentions `words`.
pub fn assert_refused_locally<T: std::fmt::Debug>(r: Result<T, SpaceError>, words: &str) {
    match r {
        Err(e) => assert!(e.to_string().contains(words), "`{e}` lacks `{words}`"),
        Ok(o) => panic!("expected a refusal mentioning `{words}`, got {o:?}"),
    }
}

/// The document of `s`, saved and loaded again: a copy to forge changes against.
pub fn reloaded(s: &Space) -> Automerge {
    Automerge::load(&s.save()).expect("a saved space loads")
}

/// Runs the sync protocol between two replicas until neither has anything to say; returns the
/// number of rounds. Panics if a replica refuses anything the other sends (honest replicas
/// never hold a change the rules refuse) or if it takes over 100 rounds.
pub fn sync_pair(a: &mut Space, b: &mut Space) -> usize {
    let (mut sa, mut sb) = (SyncState::new(), SyncState::new());
    for round in 0..100 {
        let ma = a.generate_sync(&mut sa);
        let mb = b.generate_sync(&mut sb);
        if ma.is_none() && mb.is_none() {
            return round;
        }
        if let Some(m) = ma {
            let r = b.receive_sync(&mut sb, m).expect("sync message");
            assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        }
        if let Some(m) = mb {
            let r = a.receive_sync(&mut sa, m).expect("sync message");
            assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        }
    }
    panic!("sync did not finish in 100 rounds");
}

/// A change made with `actor`'s session actor id on a copy of `space` by `write`, signed by
/// `signer`: anything a hostile timite could send.
pub fn forge(
    space: &Space,
    actor: &Writer,
    signer: &Writer,
    at_ms: i64,
    write: impl FnOnce(&mut Transaction<'_>, &Automerge),
) -> Envelope {
    let mut doc = Automerge::load(&space.save()).expect("own document loads");
    doc.set_actor(actor.actor().clone());
    let snapshot = doc.clone();
    let mut tx = doc.transaction();
    write(&mut tx, &snapshot);
    tx.commit_with(automerge::transaction::CommitOptions::default().with_time(at_ms));
    let change = doc
        .get_last_local_change()
        .expect("the write made a change");
    let hash = ChangeHash::from(change.hash().0);
    Envelope::sign(
        space.id(),
        change.raw_bytes().to_vec(),
        &hash,
        signer.signing_key(),
    )
}

/// The id of the object under `key` at the document root.
pub fn root(doc: &Automerge, key: &str) -> automerge::ObjId {
    use automerge::ReadDoc;
    doc.get(automerge::ROOT, key)
        .ok()
        .flatten()
        .expect("root key exists")
        .1
}

/// An [`AdmissionVerifier`] that reads test formats instead of checking signatures (the
/// node's real one, with ssi, is tested in `node/`): a presentation is `{holder,
/// credentials: [{kind, space, issuer, list, index}]}`; a status list `{id, issuer,
/// validFrom, purpose, set: [bits], proof}`; a credential `{id, subject, kind, space, issuer,
/// ability, list?, index?, proof}`. Status lists and credentials verify when their `proof`
/// is `"good"`.
#[derive(Debug)]
pub struct TestVerifier;

fn status_of(c: &Value) -> Option<StatusRef> {
    Some(StatusRef {
        list: c["list"].as_str()?.into(),
        index: c["index"].as_u64()?,
    })
}

impl AdmissionVerifier for TestVerifier {
    fn verify(
        &self,
        presentation: &str,
        _domain: &str,
        _challenges: &[String],
        holder: &Did,
        _at_ms: i64,
    ) -> Result<Vec<PresentedCredential>, String> {
        let vp: Value = serde_json::from_str(presentation).map_err(|e| e.to_string())?;
        if vp["holder"] != holder.to_string() {
            return Err("its holder is not the joiner".into());
        }
        Ok(vp["credentials"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| PresentedCredential {
                kind: c["kind"].as_str().unwrap().into(),
                space: c["space"].as_str().and_then(|s| s.parse().ok()),
                issuer: c["issuer"].as_str().unwrap().parse().unwrap(),
                score: None,
                ability: c["ability"].as_str().map(String::from),
                status: status_of(c),
            })
            .collect())
    }

    fn verify_status_list(&self, list: &str) -> Result<VerifiedStatusList, String> {
        let l: Value = serde_json::from_str(list).map_err(|e| e.to_string())?;
        if l["proof"] != "good" {
            return Err("the proof does not verify".into());
        }
        let mut bits = vec![0u8; 16];
        for b in l["set"].as_array().into_iter().flatten() {
            let b = b.as_u64().unwrap();
            bits[(b / 8) as usize] |= 0x80 >> (b % 8);
        }
        Ok(VerifiedStatusList {
            id: l["id"].as_str().unwrap().into(),
            issuer: l["issuer"].as_str().unwrap().parse().unwrap(),
            valid_from: l["validFrom"].as_str().unwrap().into(),
            purpose: l["purpose"].as_str().unwrap().into(),
            bits,
        })
    }

    fn verify_credential(
        &self,
        credential: &str,
        subject: &Did,
        _at_ms: i64,
    ) -> Result<VerifiedCredential, String> {
        let c: Value = serde_json::from_str(credential).map_err(|e| e.to_string())?;
        if c["proof"] != "good" {
            return Err("the proof does not verify".into());
        }
        if c["subject"] != subject.to_string() {
            return Err(format!("it is not about {subject}"));
        }
        Ok(VerifiedCredential {
            id: c["id"].as_str().unwrap().into(),
            credential: PresentedCredential {
                kind: c["kind"].as_str().unwrap().into(),
                space: c["space"].as_str().and_then(|s| s.parse().ok()),
                issuer: c["issuer"].as_str().unwrap().parse().unwrap(),
                score: None,
                ability: c["ability"].as_str().map(String::from),
                status: status_of(&c),
            },
        })
    }
}

/// What `s` holds for `me` past `marker`, by a walk of [`Space::timeline`] (what a node did on
/// every request before the timeline index): the reference that [`Space::inbox`] must equal.
pub fn inbox_by_scan(s: &Space, me: &Did, marker: Option<&str>) -> crate::inbox::Inbox {
    use tim_protocol::api::{Notification, NotificationKind};
    let timeline = s.timeline();
    let read_up_to = marker.and_then(|m| timeline.iter().position(|v| v.id == m));
    let mine: std::collections::HashSet<&str> = timeline
        .iter()
        .filter(|m| m.author == *me)
        .map(|m| m.id.as_str())
        .collect();
    let mut out = crate::inbox::Inbox::default();
    for (i, m) in timeline.iter().enumerate() {
        if m.author == *me {
            continue;
        }
        let seen = read_up_to.is_some_and(|r| i <= r);
        let reply_to_mine = m.reply_to.as_deref().is_some_and(|p| mine.contains(p));
        let kind = crate::inbox::notification_kind(me, &m.author, &m.mentions, reply_to_mine);
        if !seen {
            out.unread += 1;
            if kind == Some(NotificationKind::Mention) {
                out.unread_mentions += 1;
            }
        }
        if let Some(kind) = kind {
            out.notifications.push(Notification {
                space: s.id(),
                message: m.id.clone(),
                author: m.author,
                kind,
                at: m.at,
                text: m.text.clone(),
                seen,
            });
        }
    }
    out
}

/// The ids of the messages that `s`'s timeline index shows, in its order: what
/// [`Space::timeline`] lists, if the index is right.
pub fn indexed_timeline(s: &Space) -> Vec<String> {
    let index = s.timeline_index();
    index
        .entries()
        .iter()
        .filter(|e| e.facts.as_ref().is_some_and(|f| f.shown))
        .map(|e| index.obj(e.key).to_string())
        .collect()
}
