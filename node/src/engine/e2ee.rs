//! The engine's end-to-end encryption duties (docs/privacy.md §4.3–4.4), for the hosted
//! timites that are members of encrypted spaces.
//!
//! After changes are applied to an encrypted space (the gate judged them, as for any space),
//! the engine runs, for each hosted member, one step:
//!
//! 1. publish the member's public keys in the space if it has not (`keys`);
//! 2. give its group the key bundles members published, and take in the control messages of
//!    others that it has not (in the group's order, which respects causality), applying
//!    Tim's concurrency rules of §3.3 with the causal past the document gives;
//! 3. do what falls to it: the owner creates the group; the member who invited a newcomer
//!    (or the owner) adds it once its keys are published; the member `update_issuer` names
//!    removes a former member (a rotation) and issues the update rule (a) asks for.
//!
//! The key agreement draws its randomness from one ChaCha20 generator per engine, seeded by
//! the operating system (the library takes no seed outside its tests): the simulator's runs
//! are deterministic in what nodes do, not in the bytes of keys and ciphertexts.
//!
//! Control messages it writes are ordinary signed changes, stored and published like any
//! local write; its group state is sealed (`crate::e2ee::seal`) and written to the store
//! before the flush that makes those changes leave the node. A node that hosts no member
//! does none of this: it judges, stores and relays ciphertext.

use std::collections::BTreeSet;

use rand::RngCore;
use tim_crdt::encryption::{ControlOp, ControlView};
use tim_crdt::{Applied, Effect, Role, Space, Writer};
use tim_protocol::api::MessageView;
use tim_protocol::{Did, SpaceId};
use tracing::{info, warn};

use super::{AfterFlush, Engine};
use crate::e2ee::{
    self, open, seal, Body, Bundle, ControlKind, E2eeError, Group, Keys, MemberState, Processed,
};
use crate::store::SpaceStore;
use crate::NodeError;

/// Most duty rounds in one input (each round may write control messages that touch the
/// space again; the second finds nothing to do).
const MAX_ROUNDS: usize = 16;

fn keys_slot(who: &Did) -> Vec<u8> {
    [&b"k"[..], &who.public_bytes()[..]].concat()
}

fn state_slot(space: &SpaceId, who: &Did) -> Vec<u8> {
    [space.as_bytes(), &who.public_bytes()[..]].concat()
}

impl From<E2eeError> for NodeError {
    fn from(e: E2eeError) -> Self {
        Self::Invalid(format!("end-to-end encryption: {e}"))
    }
}

/// What falls to a member after taking in the space's control messages.
enum Duty {
    Create,
    Add(Did),
    Remove(Did),
    Update,
}

impl<S: SpaceStore> Engine<S> {
    /// Marks an encrypted space for the encryption duties when applied changes touch what
    /// they follow (members, roles, keys, the group, the schema; posts do not), or always when
    /// `applied` is empty (a space just loaded), and notes the removals and bans hosted
    /// timites made: their rotation falls to them (docs/privacy.md §4.4).
    pub(super) fn e2ee_touch(&mut self, id: SpaceId, applied: &[Applied]) {
        if self.spaces.get(&id).and_then(Space::encryption).is_none() {
            return;
        }
        let relevant = applied.is_empty()
            || applied.iter().flat_map(|a| &a.effects).any(|e| {
                matches!(
                    e,
                    Effect::Joined { .. }
                        | Effect::Removed { .. }
                        | Effect::RoleChanged { .. }
                        | Effect::KeysPublished { .. }
                        | Effect::Control { .. }
                        | Effect::Migrated { .. }
                )
            });
        if relevant {
            self.e2ee_dirty.insert(id);
        }
        for a in applied {
            let author = a.envelope.author;
            if !self.writers.contains_key(&author) {
                continue;
            }
            for effect in &a.effects {
                match effect {
                    Effect::Removed { did }
                    | Effect::RoleChanged {
                        did,
                        role: Role::Banned,
                    } if *did != author => {
                        self.e2ee_removals
                            .entry((id, author))
                            .or_default()
                            .insert(*did);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Runs the duties of every touched space, for each hosted member (at the end of every
    /// input).
    pub(super) fn e2ee_duties(&mut self, rng: &mut impl RngCore) {
        for _ in 0..MAX_ROUNDS {
            let Some(id) = self.e2ee_dirty.pop_first() else {
                return;
            };
            let Some(space) = self.spaces.get(&id).filter(|s| s.is_ready()) else {
                continue;
            };
            let mut members: Vec<Did> = self
                .writers
                .keys()
                .filter(|w| space.role_of(w).is_some_and(|r| r != Role::Banned))
                .copied()
                .collect();
            members.sort();
            for who in members {
                if let Err(e) = self.e2ee_step(id, who, rng) {
                    warn!(space = %id, timite = %who, "encryption duties failed: {e}");
                }
            }
            // Removals by timites that are no longer members fall to the others.
            self.e2ee_removals.retain(|(s, _), _| *s != id);
        }
        if !self.e2ee_dirty.is_empty() {
            warn!(
                spaces = self.e2ee_dirty.len(),
                "encryption duties left for the next input"
            );
        }
    }

    /// `who`'s encryption keys: stored (sealed), or made now and stored.
    fn e2ee_keys(&mut self, who: &Did, rng: &mut impl RngCore) -> Result<Keys, NodeError> {
        if let Some(k) = self.e2ee_keys.get(who) {
            return Ok(k.clone());
        }
        let writer = self.writer(who)?;
        let slot = keys_slot(who);
        let keys = match self.store.sealed(&slot)? {
            Some(sealed) => {
                let bytes = open(writer.signing_key(), &slot, &sealed).ok_or_else(|| {
                    NodeError::Storage(format!("the encryption keys of {who} do not open"))
                })?;
                Keys::from_bytes(&bytes)?
            }
            None => {
                let keys = Keys::generate(&self.lib_rng)?;
                let sealed = seal(writer.signing_key(), &slot, &keys.to_bytes(), rng);
                self.store.put_sealed(&slot, &sealed)?;
                info!(timite = %who, "encryption keys made");
                keys
            }
        };
        self.e2ee_keys.insert(*who, keys.clone());
        Ok(keys)
    }

    /// Takes `who`'s state of space `id` out of the cache, or the store, or makes it.
    fn e2ee_take(
        &mut self,
        id: SpaceId,
        who: &Did,
        rng: &mut impl RngCore,
    ) -> Result<MemberState, NodeError> {
        match self.e2ee_stored(id, who)? {
            Some(st) => Ok(st),
            None => {
                let keys = self.e2ee_keys(who, rng)?;
                Ok(MemberState::new(Group::new(*who, &keys)))
            }
        }
    }

    /// Takes `who`'s state of space `id` out of the cache or the store, if it has one.
    fn e2ee_stored(&mut self, id: SpaceId, who: &Did) -> Result<Option<MemberState>, NodeError> {
        if let Some(st) = self.e2ee.remove(&(id, *who)) {
            return Ok(Some(st));
        }
        let writer = self.writer(who)?;
        let slot = state_slot(&id, who);
        let Some(sealed) = self.store.sealed(&slot)? else {
            return Ok(None);
        };
        // A state that does not open is an error, never a silent reset (a reset would lose
        // the secrets that read the history).
        let bytes = open(writer.signing_key(), &slot, &sealed).ok_or_else(|| {
            NodeError::Storage(format!(
                "the encryption state of {who} in space {id} does not open"
            ))
        })?;
        Ok(Some(MemberState::from_bytes(&bytes)?))
    }

    /// Reads with `who`'s state of space `id`, if it has one (reads never make keys).
    fn with_state<T>(
        &mut self,
        id: SpaceId,
        who: &Did,
        read: impl FnOnce(&Self, Option<&MemberState>) -> T,
    ) -> Result<T, NodeError> {
        let st = self.e2ee_stored(id, who)?;
        let out = read(self, st.as_ref());
        if let Some(st) = st {
            self.e2ee.insert((id, *who), st);
        }
        Ok(out)
    }

    /// Seals and stores `who`'s state of space `id`, and keeps it in the cache.
    fn e2ee_put(
        &mut self,
        id: SpaceId,
        who: Did,
        st: MemberState,
        rng: &mut impl RngCore,
    ) -> Result<(), NodeError> {
        let writer = self.writer(&who)?;
        let slot = state_slot(&id, &who);
        let sealed = seal(writer.signing_key(), &slot, &st.to_bytes()?, rng);
        self.e2ee.insert((id, who), st);
        self.store.put_sealed(&slot, &sealed)?;
        Ok(())
    }

    /// Stores a change this node made on its own (no caller waits) and publishes it once it
    /// is on disk.
    pub(super) fn write_own(&mut self, id: SpaceId, applied: Applied) -> Result<(), NodeError> {
        self.absorb(id, std::slice::from_ref(&applied))?;
        self.after_flush(AfterFlush {
            publish: vec![(id, applied.envelope)],
            from: None,
            answers: vec![],
        });
        Ok(())
    }

    fn e2ee_step(
        &mut self,
        id: SpaceId,
        who: Did,
        rng: &mut impl RngCore,
    ) -> Result<(), NodeError> {
        let writer = self.writer(&who)?;
        let keys = self.e2ee_keys(&who, rng)?;
        if self.ready_space_mut(id)?.keys_of(&who).is_none() {
            let bundle = keys.bundle()?;
            let now = self.now;
            let applied = self.ready_space_mut(id)?.publish_keys(
                &writer,
                &bundle.identity_key(),
                &bundle.to_bytes(),
                now,
            )?;
            info!(space = %id, timite = %who, "encryption keys published");
            self.write_own(id, applied)?;
        }
        let mut st = self.e2ee_take(id, &who, rng)?;
        let removed_here = self.e2ee_removals.remove(&(id, who)).unwrap_or_default();
        let duties = take_in(&self.spaces[&id], who, &mut st, &removed_here);
        let mut result = Ok(());
        for duty in duties {
            if let Err(e) = self.perform(id, &writer, &mut st, duty) {
                result = Err(e);
                break;
            }
        }
        self.e2ee_put(id, who, st, rng)?;
        result
    }

    /// Does one duty: the group operation, then its control message. If the message cannot
    /// be written, the group is put back as it was (its new secret was never sent).
    fn perform(
        &mut self,
        id: SpaceId,
        writer: &Writer,
        st: &mut MemberState,
        duty: Duty,
    ) -> Result<(), NodeError> {
        let backup = st.group.to_bytes()?;
        let (op, subject, ctl) = match duty {
            Duty::Create => (
                ControlOp::Create,
                None,
                st.group.create(&[writer.did()], &self.lib_rng)?,
            ),
            Duty::Add(x) => (ControlOp::Add, Some(x), st.group.add(x, &self.lib_rng)?),
            Duty::Remove(x) => (
                ControlOp::Remove,
                Some(x),
                st.group.remove(x, &self.lib_rng)?,
            ),
            Duty::Update => (ControlOp::Update, None, st.group.update(&self.lib_rng)?),
        };
        let now = self.now;
        let written = self
            .ready_space_mut(id)
            .and_then(|s| {
                s.write_control(writer, op, subject.as_ref(), &ctl, now)
                    .map_err(NodeError::from)
            })
            .and_then(|(applied, control)| {
                self.write_own(id, applied)?;
                Ok(control)
            });
        match written {
            Ok(control) => {
                info!(space = %id, op = op.as_str(), subject = ?subject, "encryption group: control message written");
                st.processed.insert(control);
                if matches!(op, ControlOp::Remove | ControlOp::Update) {
                    // A rotation gives every remaining member a fresh secret.
                    st.update_due = None;
                }
                Ok(())
            }
            Err(e) => {
                st.group = Group::from_bytes(&backup)?;
                Err(e)
            }
        }
    }

    /// Encrypts `text` as `who`'s message in encrypted space `id` at `at`: the `ct` bytes.
    pub(super) fn e2ee_encrypt(
        &mut self,
        id: SpaceId,
        who: Did,
        text: &str,
        at: u64,
        rng: &mut impl RngCore,
    ) -> Result<Vec<u8>, NodeError> {
        let st = self.e2ee_take(id, &who, rng)?;
        let r = if can_write(&st, &who) {
            let body = Body {
                text: text.to_string(),
                author: who,
                space: id,
                at,
            };
            st.group
                .encrypt(&body.to_bytes(), &self.lib_rng)
                .map_err(NodeError::from)
        } else {
            Err(NodeError::KeysPending(id))
        };
        self.e2ee.insert((id, who), st);
        r
    }

    /// Fills in the text of the encrypted messages among `messages` as `who` reads them: what
    /// its group decrypts, or why it cannot.
    pub fn reveal(&mut self, who: &Did, id: SpaceId, messages: &mut [MessageView]) {
        if !messages.iter().any(|m| m.encrypted) {
            return;
        }
        let revealed = self.with_state(id, who, |engine, st| {
            let space = engine.spaces.get(&id);
            for m in messages.iter_mut().filter(|m| m.encrypted) {
                let opened = match (st, space) {
                    (Some(st), Some(space)) => space
                        .ciphertext(&m.id)
                        .ok_or_else(|| "the message has no ciphertext".to_string())
                        .and_then(|ct| decrypt(&st.group, id, &ct, &m.author, m.at)),
                    _ => Err(NO_KEYS.to_string()),
                };
                match opened {
                    Ok(text) => m.text = text,
                    Err(why) => m.unreadable = Some(why),
                }
            }
        });
        if let Err(e) = revealed {
            for m in messages.iter_mut().filter(|m| m.encrypted) {
                m.unreadable = Some(e.to_string());
            }
        }
    }

    /// Decrypts `ct`, a message by `author` at `at` in space `id`, as `who` (tests and
    /// tools: what a timite's keys open).
    pub fn decrypt_as(
        &mut self,
        who: &Did,
        id: SpaceId,
        ct: &[u8],
        author: &Did,
        at: u64,
    ) -> Result<String, String> {
        self.with_state(id, who, |_, st| match st {
            Some(st) => decrypt(&st.group, id, ct, author, at),
            None => Err(NO_KEYS.to_string()),
        })
        .map_err(|e| e.to_string())?
    }

    /// The text of an encrypted message for a live event: decrypted by the first hosted
    /// member's group that can (events reach only members of the space).
    pub(super) fn reveal_for_event(&mut self, id: SpaceId, message: &mut MessageView) {
        let mut members: Vec<Did> = self
            .writers
            .keys()
            .filter(|w| self.spaces.get(&id).is_some_and(|s| s.may_read(w)))
            .copied()
            .collect();
        members.sort();
        for who in members {
            let mut m = [message.clone()];
            self.reveal(&who, id, &mut m);
            let [m] = m;
            if m.unreadable.is_none() {
                *message = m;
                return;
            }
        }
        message.unreadable = Some("no timite of this node can decrypt it".into());
    }

    /// Whether `who`'s group still holds someone who is no longer a member of space `id`
    /// (left, removed or banned) and has not been rotated out yet.
    pub fn rotation_pending(&mut self, who: &Did, id: SpaceId) -> bool {
        self.with_state(id, who, |engine, st| {
            let (Some(st), Some(space)) = (st, engine.spaces.get(&id)) else {
                return false;
            };
            st.group.members().is_ok_and(|m| {
                m.iter()
                    .any(|x| space.role_of(x).is_none_or(|r| r == Role::Banned))
            })
        })
        .unwrap_or(false)
    }

    /// Whether `who` can write in encrypted space `id` now (its group holds a secret).
    pub fn keys_ready(&mut self, who: &Did, id: SpaceId) -> bool {
        self.with_state(id, who, |_, st| st.is_some_and(|st| can_write(st, who)))
            .unwrap_or(false)
    }
}

/// Why a member without any group state reads nothing.
const NO_KEYS: &str = "this timite holds no keys of the space yet";

/// Whether `who`'s group holds a secret to write with.
fn can_write(st: &MemberState, who: &Did) -> bool {
    st.group.current_secret().ok().flatten().is_some()
        && st.group.members().is_ok_and(|m| m.contains(who))
}

fn decrypt(group: &Group, id: SpaceId, ct: &[u8], author: &Did, at: u64) -> Result<String, String> {
    let plain = group.decrypt(ct).map_err(|e| e.to_string())?;
    Body::open(&plain, author, &id, at)
}

/// Gives the group the bundles members published and takes in the control messages `who`
/// has not; returns what then falls to `who`.
fn take_in(
    space: &Space,
    who: Did,
    st: &mut MemberState,
    removed_here: &BTreeSet<Did>,
) -> Vec<Duty> {
    let roster = space.member_roles();
    for (did, _) in &roster {
        let Some((_, bytes)) = space.keys_of(did) else {
            continue;
        };
        if st.bundles.get(did) == Some(&bytes) {
            continue;
        }
        let added = Bundle::from_bytes(&bytes).and_then(|b| st.group.add_bundle(*did, &b));
        if let Err(e) = added {
            warn!(space = %space.id(), member = %did, "key bundle not taken: {e}");
        }
        st.bundles.insert(*did, bytes);
    }
    let controls = space.controls();
    for c in &controls {
        if st.processed.insert(c.id.clone()) && c.author != who {
            process(space, st, c, &controls);
        }
    }
    let current: BTreeSet<Did> = roster
        .iter()
        .filter(|(_, r)| *r != Role::Banned)
        .map(|(d, _)| *d)
        .collect();
    let mut duties = Vec::new();
    let Some(meta) = space.meta() else {
        return duties;
    };
    if !st.group.is_established().unwrap_or(false) {
        if who == meta.created_by && !controls.iter().any(|c| c.op == ControlOp::Create) {
            duties.push(Duty::Create);
        }
        return duties;
    }
    let Ok(in_group) = st.group.members() else {
        return duties;
    };
    if !in_group.contains(&who) {
        return duties;
    }
    let staying: BTreeSet<Did> = in_group.intersection(&current).copied().collect();
    // Former members: whoever removed them rotates them out at once, and the smallest
    // staying member does for those who left (or whose remover's node never did).
    let issuer = e2ee::update_issuer(&staying, &[]) == Some(who);
    for x in in_group.difference(&current) {
        if issuer || removed_here.contains(x) {
            duties.push(Duty::Remove(*x));
        }
    }
    // Newcomers with published keys: their inviter adds them, or else the owner.
    for x in current.difference(&in_group) {
        if !st.bundles.contains_key(x) {
            continue;
        }
        let adder = space
            .invited_by(x)
            .filter(|by| staying.contains(by))
            .unwrap_or(meta.created_by);
        if adder == who {
            duties.push(Duty::Add(*x));
        }
    }
    let rotating = duties.iter().any(|d| matches!(d, Duty::Remove(_)));
    if let Some(authors) = st.update_due.clone() {
        if !rotating && e2ee::update_issuer(&staying, &authors) == Some(who) {
            duties.push(Duty::Update);
        }
    }
    duties
}

/// Takes in one control message of another member, with Tim's concurrency rules
/// (docs/privacy.md §3.3).
fn process(space: &Space, st: &mut MemberState, c: &ControlView, controls: &[ControlView]) {
    let processed = st
        .group
        .process_control(e2ee::op_id(&c.id), c.author, &c.ctl);
    let (kind, welcomed) = match processed {
        Ok(Processed::NotYetWelcomed) => {
            st.waiting.push(c.id.clone());
            return;
        }
        Ok(Processed::Applied { kind, welcomed, .. }) => (kind, welcomed),
        Err(e) => {
            warn!(space = %space.id(), control = %c.id, author = %c.author, "control message not taken in: {e}");
            return;
        }
    };
    let clear_matches = match (&kind, c.op, c.subject) {
        (ControlKind::Create { .. }, ControlOp::Create, None)
        | (ControlKind::Update, ControlOp::Update, None) => true,
        (ControlKind::Add { added }, ControlOp::Add, Some(s)) => *added == s,
        (ControlKind::Remove { removed }, ControlOp::Remove, Some(s)) => *removed == s,
        _ => false,
    };
    if !clear_matches {
        warn!(space = %space.id(), control = %c.id, "a control message's clear fields do not say what it does");
    }
    let past = space
        .control_past(&c.id)
        .map(|(_, p)| p)
        .unwrap_or_default();
    if let ControlKind::Remove { removed } = kind {
        // Rule (b): secrets the removed member brought concurrently with its removal.
        let past_ops: BTreeSet<_> = past.iter().map(|p| e2ee::op_id(p)).collect();
        if let Err(e) = st
            .group
            .retire_concurrent_secrets(removed, |h| past_ops.contains(h))
        {
            warn!(space = %space.id(), "rule (b) not applied: {e}");
        }
    }
    if matches!(c.op, ControlOp::Add | ControlOp::Remove) {
        // Rule (a): a membership operation concurrent with another one taken in before.
        let concurrent: Vec<Did> = controls
            .iter()
            .filter(|p| {
                p.id != c.id
                    && st.processed.contains(&p.id)
                    && !st.waiting.contains(&p.id)
                    && matches!(p.op, ControlOp::Add | ControlOp::Remove)
                    && !past.contains(&p.id)
            })
            .map(|p| p.author)
            .collect();
        if !concurrent.is_empty() {
            let mut authors = concurrent;
            authors.push(c.author);
            st.update_due = Some(authors);
        }
    }
    if welcomed {
        // Messages that waited for the welcome and are concurrent with it are taken in now;
        // those in its causal past are already in the welcome's state.
        for w in std::mem::take(&mut st.waiting) {
            if past.contains(&w) {
                continue;
            }
            if let Some(m) = controls.iter().find(|m| m.id == w) {
                process(space, st, m, controls);
            }
        }
    }
}
