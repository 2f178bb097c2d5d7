//! [`Space`]: a space's document, the envelopes of its changes, and the one way in.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, Change, ObjType, ReadDoc, ScalarValue, ROOT};
use tim_protocol::api::{MemberView, MessageView};
use tim_protocol::wire::{MAX_NAME_BYTES, MAX_PURPOSE_BYTES, MAX_TEXT_BYTES};
use tim_protocol::{ChangeHash, Did, Envelope, SpaceId};

use crate::admission::{AdmissionVerifier, Requirement};
use crate::encryption::{Encryption, ENCRYPTED_VERSION, ENCRYPTION_SCHEME};
use crate::issuance::Issuance;
use crate::notices::NoticeCache;
use crate::reputation::Tally;
use crate::roles::{Permissions, RoleDef, RoleName};
pub use crate::rules::Effect;
use crate::rules::{Role, Visibility};
use crate::schema::{self, Container, Policy};
use crate::writer::{actor_is_author, Writer};
use crate::{doc, rules, Rejection, SpaceError};

/// Most abilities a member may declare in one space.
pub(crate) const MAX_ABILITIES: usize = 32;
/// Longest declared ability, in characters.
pub(crate) const MAX_ABILITY_LEN: usize = 64;

/// A member's reputation in a space (docs/reputation.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Reputation {
    /// The score: `contributions + 5 × Σ(rating − 3)`, at least 0, below schema version
    /// [`schema::REPUTATION_V2`]; the v2 formula from it ([`crate::reputation`]).
    pub score: i64,
    /// Messages by the member in the timeline.
    pub contributions: u64,
    /// Live ratings from current members.
    pub ratings_received: u64,
    /// Their average (0 when none).
    pub average_rating: f64,
    /// The inputs of the v2 formula, in a space at schema version [`schema::REPUTATION_V2`]
    /// or later; `None` below it.
    pub v2: Option<crate::reputation::Basis>,
}

/// The record of a credential a space issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRecord {
    /// Whom it is about.
    pub subject: Did,
    /// Its kind: `membership`, `reputation` or `ability`.
    pub kind: String,
    /// The admin who issued it.
    pub issuer: Did,
    /// Its bit in the space's status list.
    pub status_index: u64,
    /// When it was recorded, milliseconds since the Unix epoch.
    pub at: u64,
    /// The signed credential (its JSON), if the record carries it: what the subject's node
    /// verifies and keeps (docs/passports.md, "Delivery to the subject").
    pub credential: Option<String>,
}

/// The outcome of [`Space::ingest_batch`].
#[derive(Debug, Default)]
pub struct BatchIngested {
    /// Changes applied, in causal order.
    pub applied: Vec<Applied>,
    /// Envelopes refused, with their authors.
    pub rejected: Vec<(Did, Rejection)>,
    /// Envelopes that were already here.
    pub duplicates: usize,
}

/// What the gate did with a batch: applied (in causal order), refused, already here.
#[derive(Debug, Default)]
struct Admitted {
    applied: Vec<Applied>,
    rejected: Vec<(automerge::ChangeHash, Did, Rejection)>,
    duplicates: usize,
}

impl Admitted {
    fn reject(&mut self, c: &Checked, why: Rejection) {
        self.rejected
            .push((c.change.hash(), c.envelope.author, why));
    }
}

/// A space restored from this node's store ([`Space::load_stored`]).
#[derive(Debug)]
pub struct Restored {
    /// The space.
    pub space: Space,
    /// Stored changes still waiting for a dependency (sync brings it).
    pub waiting: Vec<ChangeHash>,
    /// Stored changes that do not decode or that the rules refuse: never applied, to delete
    /// from the store.
    pub refused: Vec<(ChangeHash, Rejection)>,
    /// Why the snapshot was set aside, if it did not load (the changes rebuilt the space).
    pub snapshot_error: Option<String>,
}

/// What a [`Space::judged_heads`] record starts with; 32-byte change hashes follow. (A
/// snapshot that does not start with it is an Automerge document, as older nodes stored.)
const JUDGED_HEADS_MAGIC: &[u8] = b"tim judged heads 1\0";

/// How many verified changes may wait for missing dependencies, per space. Beyond this, newer
/// ones are dropped (sync brings them again).
pub const MAX_PENDING: usize = 4096;

/// A space's descriptive fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceMeta {
    /// Name.
    pub name: String,
    /// Purpose.
    pub purpose: String,
    /// Creator.
    pub created_by: Did,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: u64,
    /// Who may join.
    pub visibility: Visibility,
    /// When an ephemeral space expires, milliseconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

/// A change that passed every check and is now part of the document.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Its hash.
    pub hash: ChangeHash,
    /// Its envelope, to store and forward.
    pub envelope: Envelope,
    /// What it did.
    pub effects: Vec<Effect>,
}

/// The outcome of [`Space::ingest`] for a change that was not refused.
#[derive(Debug)]
pub enum Ingested {
    /// The change was applied, followed by any waiting changes it unblocked (in the order
    /// applied). Waiting changes that the rules then refused are in `late_rejections`.
    Applied {
        /// Applied changes.
        applied: Vec<Applied>,
        /// Waiting changes refused once their dependencies arrived.
        late_rejections: Vec<(Did, Rejection)>,
    },
    /// The space already holds this change.
    Duplicate,
    /// The change is authentic but some dependencies are missing; it waits (if the buffer has
    /// room) until they arrive. Sync with the sender should bring them.
    Pending {
        /// The change's hash.
        hash: ChangeHash,
        /// The missing dependencies.
        missing: Vec<ChangeHash>,
    },
}

pub(crate) fn am_hash(h: &ChangeHash) -> automerge::ChangeHash {
    automerge::ChangeHash(*h.as_bytes())
}

pub(crate) fn tim_hash(h: &automerge::ChangeHash) -> ChangeHash {
    ChangeHash::from(h.0)
}

/// A space: its Automerge document plus what the envelope of every change in it adds to the
/// change.
pub struct Space {
    pub(crate) id: SpaceId,
    pub(crate) verifier: Option<Arc<dyn AdmissionVerifier>>,
    /// Verdicts on revocation notices already made ([`crate::notices`]).
    pub(crate) notices: NoticeCache,
    pub(crate) doc: Automerge,
    /// The author and signature of every applied change, by hash: with the change the
    /// document holds, its envelope (see [`Signed`]).
    signed: HashMap<automerge::ChangeHash, Signed>,
    pending: HashMap<automerge::ChangeHash, Checked>,
    /// The timeline, indexed for reads at the current heads ([`crate::timeline_index`]).
    pub(crate) timeline_index: crate::timeline_index::TimelineCell,
}

/// What an applied change's envelope adds to the change the document already holds (Automerge
/// keeps every change's bytes in its history): the envelope is rebuilt from the two on demand
/// ([`Space::envelope`]), instead of holding every change's bytes twice (at 100k messages,
/// ~45 MB; docs/benchmarks.md).
#[derive(Clone)]
struct Signed {
    author: Did,
    signature: [u8; 64],
    /// The envelope's bytes when they are not the document's copy of the change (a compressed
    /// chunk), so that a rebuilt envelope is the received one byte for byte.
    bytes: Option<Box<[u8]>>,
}

impl Signed {
    fn of(envelope: &Envelope, change: &Change) -> Self {
        let bytes =
            (envelope.change != change.raw_bytes()).then(|| envelope.change.as_slice().into());
        Self {
            author: envelope.author,
            signature: envelope.signature,
            bytes,
        }
    }
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space")
            .field("id", &self.id)
            .field("changes", &self.signed.len())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Space {
    /// A space known only by its id, waiting for its history (a joiner before sync).
    pub fn empty(id: SpaceId) -> Self {
        Self {
            id,
            verifier: None,
            notices: NoticeCache::default(),
            doc: Automerge::new(),
            signed: HashMap::new(),
            pending: HashMap::new(),
            timeline_index: Default::default(),
        }
    }

    /// Creates a new public space: builds and signs its genesis change, whose hash names it.
    pub fn create(
        who: &Writer,
        name: &str,
        purpose: &str,
        at_ms: u64,
    ) -> Result<(Self, Applied), SpaceError> {
        Self::create_with(who, name, purpose, Visibility::Public, None, at_ms)
    }

    /// Creates a new space with a visibility; an ephemeral space needs `expires_at_ms`.
    pub fn create_with(
        who: &Writer,
        name: &str,
        purpose: &str,
        visibility: Visibility,
        expires_at_ms: Option<u64>,
        at_ms: u64,
    ) -> Result<(Self, Applied), SpaceError> {
        Self::create_inner(who, name, purpose, visibility, expires_at_ms, None, at_ms)
    }

    /// The genesis of every space; an encrypted one starts at the schema version that brings
    /// its containers.
    pub(crate) fn create_inner(
        who: &Writer,
        name: &str,
        purpose: &str,
        visibility: Visibility,
        expires_at_ms: Option<u64>,
        encryption: Option<Encryption>,
        at_ms: u64,
    ) -> Result<(Self, Applied), SpaceError> {
        if visibility == Visibility::Ephemeral && expires_at_ms.is_none() {
            return Err(SpaceError::Invalid(
                "an ephemeral space needs a time to live".into(),
            ));
        }
        if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(SpaceError::Invalid(format!(
                "a space name must be 1 to {MAX_NAME_BYTES} bytes"
            )));
        }
        if purpose.len() > MAX_PURPOSE_BYTES {
            return Err(SpaceError::Invalid(format!(
                "a purpose must be at most {MAX_PURPOSE_BYTES} bytes"
            )));
        }
        let creator = who.did();
        let mut scratch = Automerge::new();
        scratch.set_actor(who.actor().clone());
        let mut tx = scratch.transaction();
        // The containers of the genesis version, in the schema's order (docs/protocol.md §13
        // shows the operations this writes).
        let version = match encryption {
            Some(_) => ENCRYPTED_VERSION,
            None => schema::GENESIS_VERSION,
        };
        for c in schema::containers_at(version) {
            let obj = tx.put_object(ROOT, c.name, c.kind.obj_type())?;
            match c.policy {
                Policy::Meta => {
                    tx.put(&obj, doc::NAME, name)?;
                    tx.put(&obj, doc::PURPOSE, purpose)?;
                    tx.put(&obj, doc::CREATED_BY, creator.to_string())?;
                    tx.put(&obj, doc::CREATED_AT, ScalarValue::Timestamp(millis(at_ms)))?;
                    tx.put(&obj, doc::VERSION, ScalarValue::Uint(version))?;
                    tx.put(&obj, doc::VISIBILITY, visibility.as_str())?;
                    if let Some(e) = encryption {
                        tx.put(&obj, doc::ENCRYPTION, ENCRYPTION_SCHEME)?;
                        tx.put(&obj, doc::HISTORY, e.history.as_str())?;
                        if e.dm {
                            tx.put(&obj, doc::KIND, doc::DM)?;
                        }
                    }
                    if let Some(t) = expires_at_ms {
                        tx.put(&obj, doc::EXPIRES_AT, ScalarValue::Timestamp(millis(t)))?;
                    }
                }
                Policy::Members => {
                    let entry = tx.put_object(&obj, creator.to_string(), ObjType::Map)?;
                    tx.put(&entry, doc::ROLE, Role::Owner.as_str())?;
                    tx.put(
                        &entry,
                        doc::JOINED_AT,
                        ScalarValue::Timestamp(millis(at_ms)),
                    )?;
                }
                _ => {}
            }
        }
        tx.commit_with(CommitOptions::default().with_time(millis(at_ms)));
        let change = scratch
            .get_last_local_change()
            .expect("a transaction with operations makes a change")
            .clone();
        let hash = tim_hash(&change.hash());
        let id = SpaceId::from_genesis(&hash);
        let envelope = Envelope::sign(id, change.raw_bytes().to_vec(), &hash, who.signing_key());
        let mut space = Self::empty(id);
        let mut out = space.admit(vec![Checked::signed_here(envelope, change)]);
        if let Some((_, _, r)) = out.rejected.pop() {
            return Err(r.into());
        }
        let genesis = out
            .applied
            .pop()
            .ok_or_else(|| SpaceError::Invalid("the genesis change was not applied".into()))?;
        Ok((space, genesis))
    }

    /// Rebuilds a space from envelopes this node stored (tests and tools): like
    /// [`Space::load_stored`], but anything that does not load (a change that waits for a
    /// missing dependency, or that the rules refuse) is an error.
    pub fn load(
        id: SpaceId,
        snapshot: Option<&[u8]>,
        envelopes: impl IntoIterator<Item = Envelope>,
    ) -> Result<Self, SpaceError> {
        let restored = Self::restore(id, snapshot, envelopes.into_iter().map(|e| (None, e)))?;
        if let Some((hash, r)) = restored.refused.into_iter().next() {
            return Err(SpaceError::Invalid(format!(
                "stored change {hash} is refused: {r}"
            )));
        }
        if !restored.waiting.is_empty() {
            return Err(SpaceError::Invalid(format!(
                "{} stored changes lack their dependencies",
                restored.waiting.len()
            )));
        }
        Ok(restored.space)
    }

    /// Rebuilds a space from this node's own store at restart: an optional snapshot (this
    /// node's `Automerge::save` output) and the envelope of every change, each filed under its
    /// change's hash.
    ///
    /// Changes the snapshot holds are taken as they are: this node wrote the snapshot from
    /// changes that had passed the gate (at 100k changes, parsing them again took most of a
    /// restart). Every other change goes through the gate like any change, except that its
    /// signature is not checked again ([`Checked::own`]: bytes this node verified or signed
    /// before it stored them). A store always loads: a snapshot that does not load is set
    /// aside (the changes rebuild the space), a change whose dependencies are missing waits
    /// for sync to bring them, and one the rules refuse is returned so that the caller can
    /// delete it. Only a store whose keys do not match its changes is refused, as corrupt.
    pub fn load_stored(
        id: SpaceId,
        snapshot: Option<&[u8]>,
        stored: impl IntoIterator<Item = (ChangeHash, Envelope)>,
    ) -> Result<Restored, SpaceError> {
        let keyed = stored.into_iter().map(|(h, e)| (Some(am_hash(&h)), e));
        Self::restore(id, snapshot, keyed)
    }

    fn restore(
        id: SpaceId,
        snapshot: Option<&[u8]>,
        envelopes: impl Iterator<Item = (Option<automerge::ChangeHash>, Envelope)>,
    ) -> Result<Restored, SpaceError> {
        let mut space = Self::empty(id);
        let mut snapshot_error = None;
        let mut judged = None;
        match snapshot.map(|b| (b.strip_prefix(JUDGED_HEADS_MAGIC), b)) {
            Some((Some(heads), _)) if heads.len() % 32 == 0 => {
                judged = Some(
                    heads
                        .chunks_exact(32)
                        .map(|h| automerge::ChangeHash(h.try_into().expect("32 bytes")))
                        .collect::<Vec<_>>(),
                );
            }
            Some((Some(_), _)) => {
                snapshot_error = Some("a judged-heads record of a bad length".into())
            }
            Some((None, bytes)) => match Automerge::load(bytes) {
                Ok(doc) => space.doc = doc,
                Err(e) => snapshot_error = Some(e.to_string()),
            },
            None => {}
        }
        let mut in_snapshot = HashMap::new();
        let mut rest = Vec::new();
        let mut unreadable = Vec::new();
        let mut to_parse = Vec::new();
        for (hash, env) in envelopes {
            if let Some((h, change)) =
                hash.and_then(|h| space.doc.get_change_by_hash(&h).map(|c| (h, c)))
            {
                if in_snapshot.insert(h, Signed::of(&env, change)).is_some() {
                    return Err(SpaceError::Invalid(format!(
                        "two stored changes are filed under the hash {}",
                        tim_hash(&h)
                    )));
                }
                continue;
            }
            to_parse.push((hash, env));
        }
        // Parsing is most of a restart without a document snapshot: on every core.
        let parsed = par_map(to_parse, |(hash, env)| (Checked::own(env), hash));
        for (checked, hash) in parsed {
            let checked = match (checked, hash) {
                (Ok(c), _) => c,
                // A record that no longer decodes: reported for deletion (sync brings the
                // change again from a peer).
                (Err(r), Some(h)) => {
                    unreadable.push((tim_hash(&h), r));
                    continue;
                }
                (Err(r), None) => return Err(SpaceError::Invalid(format!("stored change: {r}"))),
            };
            let h = checked.change.hash();
            if hash.is_some_and(|k| k != h) {
                return Err(SpaceError::Invalid(format!(
                    "stored change {} is filed under another hash",
                    tim_hash(&h)
                )));
            }
            rest.push(checked);
        }
        // (A snapshot is saved only after the changes it holds were stored, in the same sled
        // log, so it is never ahead of the store; one that does not load was set aside above
        // and every change goes through the gate.)
        space.signed.extend(in_snapshot);
        if let Some(heads) = judged {
            rest = space.take_judged(&heads, rest);
        }
        let admitted = space.admit(rest);
        unreadable.extend(
            admitted
                .rejected
                .into_iter()
                .map(|(h, _, r)| (tim_hash(&h), r)),
        );
        Ok(Restored {
            waiting: space.pending.keys().map(tim_hash).collect(),
            refused: unreadable,
            snapshot_error,
            space,
        })
    }

    /// Applies, as they are and in one Automerge call, the stored changes that are ancestors
    /// of `heads` (a [`Space::judged_heads`] record: this node judged and stored them all before
    /// it wrote the record); returns the others, for the gate. If the store lacks an ancestor,
    /// the record is ignored and every change goes through the gate.
    fn take_judged(
        &mut self,
        heads: &[automerge::ChangeHash],
        stored: Vec<Checked>,
    ) -> Vec<Checked> {
        let index: HashMap<automerge::ChangeHash, usize> = stored
            .iter()
            .enumerate()
            .map(|(i, c)| (c.change.hash(), i))
            .collect();
        let mut below = vec![false; stored.len()];
        let mut queue: Vec<automerge::ChangeHash> = heads.to_vec();
        while let Some(h) = queue.pop() {
            let Some(&i) = index.get(&h) else {
                return stored;
            };
            if !below[i] {
                below[i] = true;
                queue.extend(stored[i].change.deps().iter().copied());
            }
        }
        let (judged, rest): (Vec<_>, Vec<_>) =
            stored.into_iter().zip(below).partition(|(_, below)| *below);
        let (ready, waiting) = self.causal_order(judged.into_iter().map(|(c, _)| c).collect());
        let rest = rest.into_iter().map(|(c, _)| c);
        if !waiting.is_empty() {
            // Cannot happen for a record this node wrote; judge everything instead.
            return ready.into_iter().chain(waiting).chain(rest).collect();
        }
        // The document takes each parsed change (no second copy of 100k of them); the author
        // and signature are kept beside it.
        let kept: Vec<_> = ready
            .iter()
            .map(|c| (c.change.hash(), Signed::of(&c.envelope, &c.change)))
            .collect();
        let (changes, envelopes): (Vec<_>, Vec<_>) =
            ready.into_iter().map(|c| (c.change, c.envelope)).unzip();
        if self.doc.apply_changes(changes).is_err() {
            // Cannot happen either; parse them again and judge everything.
            self.doc = Automerge::new();
            return envelopes
                .into_iter()
                .filter_map(|env| Checked::own(env).ok())
                .chain(rest)
                .collect();
        }
        self.signed.extend(kept);
        rest.collect()
    }

    /// Sets what checks presentations in joins (the node's ssi-backed verifier).
    pub fn set_verifier(&mut self, verifier: Arc<dyn AdmissionVerifier>) {
        self.verifier = Some(verifier);
    }

    fn context(&self) -> rules::Context<'_> {
        rules::Context {
            space: self.id,
            verifier: self.verifier.as_deref(),
            notices: Some(&self.notices),
        }
    }

    /// The space id.
    pub fn id(&self) -> SpaceId {
        self.id
    }

    /// Whether the genesis has arrived.
    pub fn is_ready(&self) -> bool {
        !self.signed.is_empty()
    }

    /// Number of changes applied.
    pub fn change_count(&self) -> usize {
        self.signed.len()
    }

    /// Dependencies of waiting changes that are neither applied nor waiting themselves: what
    /// sync must ask for. (Automerge cannot see the waiting changes, so it would only ask for
    /// the peer's heads, and a Bloom filter false positive could then hide these forever.)
    pub(crate) fn pending_missing(&self) -> Vec<automerge::ChangeHash> {
        let mut out: Vec<automerge::ChangeHash> = self
            .pending
            .values()
            .flat_map(|c| c.change.deps().iter().copied())
            .filter(|d| !self.signed.contains_key(d) && !self.pending.contains_key(d))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Number of changes waiting for dependencies.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The document's heads, sorted.
    pub fn heads(&self) -> Vec<ChangeHash> {
        let mut h: Vec<ChangeHash> = self.doc.get_heads().iter().map(tim_hash).collect();
        h.sort();
        h
    }

    /// The envelope of an applied change (rebuilt from the document's copy of the change).
    pub fn envelope(&self, hash: &ChangeHash) -> Option<Envelope> {
        self.envelope_by_am_hash(&am_hash(hash))
    }

    /// Every applied change's envelope, in no particular order.
    pub fn envelopes(&self) -> impl Iterator<Item = Envelope> + '_ {
        self.signed
            .keys()
            .filter_map(|h| self.envelope_by_am_hash(h))
    }

    /// Every applied change's envelope in causal order (each after its dependencies), so that
    /// a reader can apply them one by one.
    pub fn envelopes_in_order(&self) -> Vec<Envelope> {
        self.doc
            .get_changes(&[])
            .iter()
            .filter_map(|c| self.envelope_of(c))
            .collect()
    }

    fn envelope_by_am_hash(&self, hash: &automerge::ChangeHash) -> Option<Envelope> {
        self.envelope_of(self.doc.get_change_by_hash(hash)?)
    }

    /// The envelope of `change`, if it is an applied change of this space.
    pub(crate) fn envelope_of(&self, change: &Change) -> Option<Envelope> {
        let signed = self.signed.get(&change.hash())?;
        let bytes = signed.bytes.as_deref().unwrap_or(change.raw_bytes());
        Some(Envelope {
            space: self.id,
            author: signed.author,
            change: bytes.to_vec(),
            signature: signed.signature,
        })
    }

    pub(crate) fn doc(&self) -> &Automerge {
        &self.doc
    }

    pub(crate) fn doc_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    /// The whole document in Automerge's binary format, loadable by any Automerge
    /// implementation.
    pub fn save(&self) -> Vec<u8> {
        self.doc.save()
    }

    /// A record of this space's heads, to store once every change it holds is stored: a
    /// restart takes the stored changes below these heads as they are, without judging them
    /// again ([`Space::load_stored`]). It replaces a saved document as the snapshot: with
    /// Automerge 0.6, saving one meant copying it on the caller's thread first (~110 ms at 100k
    /// messages); a restart from the record is slower (docs/benchmarks.md).
    pub fn judged_heads(&self) -> Vec<u8> {
        let mut out = JUDGED_HEADS_MAGIC.to_vec();
        for h in self.doc.get_heads() {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// A copy of this space (for trying a batch of changes before committing to it).
    pub fn try_copy(&self) -> Result<Self, SpaceError> {
        Ok(Self {
            id: self.id,
            verifier: self.verifier.clone(),
            notices: self.notices.clone(),
            doc: self.doc.clone(),
            signed: self.signed.clone(),
            pending: self.pending.clone(),
            timeline_index: Default::default(),
        })
    }

    /// The rules' verdict on a change whose dependencies are all in the document (the
    /// document may already hold the change and later ones: the verdict is taken at the
    /// change's dependencies).
    fn judge(&self, c: &Checked) -> Result<Vec<Effect>, Rejection> {
        let (env, change) = (&c.envelope, &c.change);
        let hash = change.hash();
        if change.deps().is_empty() {
            if SpaceId::from_genesis(&tim_hash(&hash)) != self.id {
                return Err(Rejection::NotGenesis(tim_hash(&hash)));
            }
            let mut scratch = Automerge::new();
            scratch
                .apply_changes([change.clone()])
                .map_err(|e| Rejection::BadGenesis(e.to_string()))?;
            rules::check_genesis(&scratch, &env.author)?;
            Ok(vec![Effect::Joined { did: env.author }])
        } else {
            rules::authorize(&self.doc, change, &env.author, &self.context())
        }
    }

    fn missing_deps(&self, change: &Change) -> Vec<ChangeHash> {
        change
            .deps()
            .iter()
            .filter(|d| !self.signed.contains_key(*d))
            .map(tim_hash)
            .collect()
    }

    /// Takes in one change from a peer (gossip): the gate's checks ([`Space::admit`]), then
    /// any waiting changes it unblocks.
    pub fn ingest(&mut self, env: Envelope) -> Result<Ingested, Rejection> {
        if env.space != self.id {
            return Err(Rejection::WrongSpace {
                expected: self.id,
                got: env.space,
            });
        }
        let change = decode_change(&env)?;
        let hash = change.hash();
        // Known already: no need to check its signature again (it cannot get in twice).
        if self.signed.contains_key(&hash) || self.pending.contains_key(&hash) {
            return Ok(Ingested::Duplicate);
        }
        let checked = Checked::verify(env, change)?;
        let missing = self.missing_deps(&checked.change);
        let mut out = self.admit(vec![checked]);
        if let Some(i) = out.rejected.iter().position(|(h, _, _)| *h == hash) {
            return Err(out.rejected.swap_remove(i).2);
        }
        let Some(i) = out.applied.iter().position(|a| am_hash(&a.hash) == hash) else {
            return Ok(Ingested::Pending {
                hash: tim_hash(&hash),
                missing,
            });
        };
        // This change first, then the waiting ones it released.
        let first = out.applied.remove(i);
        out.applied.insert(0, first);
        Ok(Ingested::Applied {
            applied: out.applied,
            late_rejections: out
                .rejected
                .into_iter()
                .map(|(_, author, r)| (author, r))
                .collect(),
        })
    }

    /// Ingests many envelopes at once (a sync message): the same checks as [`Space::ingest`]
    /// with the same verdicts. Every envelope's signature is checked, on several threads for a
    /// big batch ([`check_envelopes`]), then the batch goes through [`Space::ingest_checked`].
    pub fn ingest_batch(&mut self, envelopes: Vec<Envelope>) -> BatchIngested {
        let mut rejected = Vec::new();
        let checked = check_envelopes(envelopes)
            .into_iter()
            .filter_map(|r| r.map_err(|e| rejected.push(e)).ok())
            .collect();
        let mut out = self.ingest_checked(checked);
        rejected.append(&mut out.rejected);
        out.rejected = rejected;
        out
    }

    /// Ingests envelopes whose signatures were checked, through the gate ([`Space::admit`]).
    pub fn ingest_checked(&mut self, batch: Vec<Checked>) -> BatchIngested {
        let out = self.admit(batch);
        BatchIngested {
            applied: out.applied,
            rejected: out
                .rejected
                .into_iter()
                .map(|(_, author, r)| (author, r))
                .collect(),
            duplicates: out.duplicates,
        }
    }

    /// **The gate**: the only way into the document. Every change, whatever brought it (a
    /// local write, gossip, sync, an import, a restart), passes these checks in this order:
    ///
    /// 1. it decodes, its signature verifies and its actor is its author's: done when its
    ///    [`Checked`] was made (a restart skips only the signature, for bytes this node
    ///    stored itself; a local write was signed here a moment ago);
    /// 2. its envelope names this space;
    /// 3. it is new (not applied, not waiting, not twice in the batch);
    /// 4. every dependency is present, else it waits in a bounded buffer;
    /// 5. the rules allow it, judged at its causal past (the document at its dependencies);
    /// 6. it is applied, and its envelope kept.
    ///
    /// Changes whose dependencies are all in the document are judged before anything is
    /// applied. Changes that build on others of the same batch are applied with them in one
    /// Automerge call (one call per change costs time proportional to the document), then
    /// each is judged at its own dependencies; if the rules refuse one, the document is
    /// rebuilt without it and what builds on it before anything is stored, forwarded or read.
    /// A change that Automerge does not take in (a second change at an actor's sequence
    /// number, say) is refused with its reason, never kept.
    fn admit(&mut self, batch: Vec<Checked>) -> Admitted {
        let mut out = Admitted::default();
        let mut fresh = Vec::new();
        let mut seen = HashSet::new();
        for c in batch {
            let hash = c.change.hash();
            if c.envelope.space != self.id {
                let got = c.envelope.space;
                let expected = self.id;
                out.reject(&c, Rejection::WrongSpace { expected, got });
            } else if self.signed.contains_key(&hash)
                || self.pending.contains_key(&hash)
                || !seen.insert(hash)
            {
                out.duplicates += 1;
            } else {
                fresh.push(c);
            }
        }
        let extra = fresh.len();
        self.admit_ready(fresh, extra, &mut out);
        // Waiting changes that what was just applied unblocks, as one more batch.
        if !out.applied.is_empty() && !self.pending.is_empty() {
            let mut waiting: Vec<Checked> = self.pending.drain().map(|(_, c)| c).collect();
            // In a fixed order, so that what is applied comes out the same on every run.
            waiting.sort_by_key(|c| c.change.hash());
            self.admit_ready(waiting, extra, &mut out);
        }
        out
    }

    /// Steps 4 to 6 of the gate for new changes: those whose dependencies are present, in
    /// causal order; the rest wait (at most [`MAX_PENDING`] plus this batch).
    fn admit_ready(&mut self, batch: Vec<Checked>, extra: usize, out: &mut Admitted) {
        let (ready, waiting) = self.causal_order(batch);
        for c in waiting {
            if self.pending.len() < MAX_PENDING + extra {
                self.pending.insert(c.change.hash(), c);
            }
        }
        if ready.is_empty() {
            return;
        }
        let mut refused: HashSet<automerge::ChangeHash> = HashSet::new();
        let mut accepted: Vec<(Checked, Vec<Effect>)> = Vec::new();
        let mut later = Vec::new();
        for c in ready {
            if self.builds_on_refused(&c, &refused, out) {
                refused.insert(c.change.hash());
            } else if c.change.deps().iter().all(|d| self.signed.contains_key(d)) {
                match self.judge(&c) {
                    Ok(effects) => accepted.push((c, effects)),
                    Err(r) => {
                        refused.insert(c.change.hash());
                        out.reject(&c, r);
                    }
                }
            } else {
                later.push(c);
            }
        }
        let batch: Vec<Change> = accepted
            .iter()
            .map(|(c, _)| c.change.clone())
            .chain(later.iter().map(|c| c.change.clone()))
            .collect();
        if !batch.is_empty() {
            if let Err(e) = self.doc.apply_changes(batch) {
                // Automerge refused the batch as a whole, before applying any of it (here: `{e}`):
                // one change at a time, so that only the offending ones are refused.
                drop(e);
                accepted.extend(later.into_iter().map(|c| (c, Vec::new())));
                return self.admit_one_by_one(accepted, refused, out);
            }
        }
        for c in later {
            if self.builds_on_refused(&c, &refused, out) {
                refused.insert(c.change.hash());
                continue;
            }
            match self.judge(&c) {
                Ok(effects) => accepted.push((c, effects)),
                Err(r) => {
                    refused.insert(c.change.hash());
                    out.reject(&c, r);
                }
            }
        }
        if refused
            .iter()
            .any(|h| self.doc.get_change_by_hash(h).is_some())
        {
            // A refused change was applied (with its batch, or by a local transaction).
            if let Err(e) = self.rebuild(accepted.iter().map(|(c, _)| &c.change)) {
                for (c, _) in accepted {
                    out.reject(
                        &c,
                        Rejection::Apply(format!("rebuilding the document: {e}")),
                    );
                }
                return;
            }
        }
        self.keep(accepted, out);
    }

    /// Refuses a change that builds on a change refused in this batch.
    fn builds_on_refused(
        &self,
        c: &Checked,
        refused: &HashSet<automerge::ChangeHash>,
        out: &mut Admitted,
    ) -> bool {
        if !c.change.deps().iter().any(|d| refused.contains(d)) {
            return false;
        }
        let hash = tim_hash(&c.change.hash());
        out.reject(
            c,
            Rejection::Unauthorized(format!("change {hash} builds on a refused change")),
        );
        true
    }

    /// The gate's last steps for a batch that Automerge refused as a whole: each change (in
    /// causal order) is judged at its dependencies, then applied alone.
    fn admit_one_by_one(
        &mut self,
        batch: Vec<(Checked, Vec<Effect>)>,
        mut refused: HashSet<automerge::ChangeHash>,
        out: &mut Admitted,
    ) {
        let mut accepted = Vec::new();
        for (c, _) in batch {
            let hash = c.change.hash();
            let verdict = if self.builds_on_refused(&c, &refused, out) {
                refused.insert(hash);
                continue;
            } else if let Some(d) = c
                .change
                .deps()
                .iter()
                .find(|d| self.doc.get_change_by_hash(d).is_none())
            {
                Err(Rejection::Apply(format!(
                    "its dependency {} is not in the document",
                    tim_hash(d)
                )))
            } else {
                self.judge(&c).and_then(|effects| {
                    self.doc
                        .apply_changes([c.change.clone()])
                        .map_err(Rejection::from_automerge)
                        .map(|()| effects)
                })
            };
            match verdict {
                Ok(effects) => accepted.push((c, effects)),
                Err(r) => {
                    refused.insert(hash);
                    out.reject(&c, r);
                }
            }
        }
        self.keep(accepted, out);
    }

    /// Keeps the envelopes of changes the gate accepted, once Automerge holds each of them
    /// (it silently holds back a change that lacks a dependency: such a change is refused,
    /// never kept).
    fn keep(&mut self, accepted: Vec<(Checked, Vec<Effect>)>, out: &mut Admitted) {
        let (held, back): (Vec<_>, Vec<_>) = accepted
            .into_iter()
            .partition(|(c, _)| self.doc.get_change_by_hash(&c.change.hash()).is_some());
        if !back.is_empty() {
            // Clears Automerge's queue of held-back changes.
            let rebuilt = match self.rebuild(std::iter::empty()) {
                Ok(()) => String::new(),
                Err(e) => format!(" (and clearing it from Automerge's queue failed: {e})"),
            };
            for (c, _) in back {
                let why = format!("Automerge held it back: a dependency is missing{rebuilt}");
                out.reject(&c, Rejection::Apply(why));
            }
        }
        for (c, effects) in held {
            self.signed
                .insert(c.change.hash(), Signed::of(&c.envelope, &c.change));
            out.applied.push(Applied {
                hash: tim_hash(&c.change.hash()),
                envelope: c.envelope,
                effects,
            });
        }
    }

    /// Orders a batch so that every change comes after its dependencies; returns the changes
    /// that can be applied now (in that order) and those waiting for a dependency that is
    /// neither in the document nor in the batch.
    fn causal_order(&self, batch: Vec<Checked>) -> (Vec<Checked>, Vec<Checked>) {
        let index: HashMap<automerge::ChangeHash, usize> = batch
            .iter()
            .enumerate()
            .map(|(i, c)| (c.change.hash(), i))
            .collect();
        let mut indegree = vec![0usize; batch.len()];
        let mut blocked = vec![false; batch.len()];
        let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, c) in batch.iter().enumerate() {
            for d in c.change.deps() {
                if let Some(&j) = index.get(d) {
                    indegree[i] += 1;
                    children.entry(j).or_default().push(i);
                } else if !self.signed.contains_key(d) {
                    blocked[i] = true;
                }
            }
        }
        let mut queue: Vec<usize> = (0..batch.len())
            .filter(|&i| indegree[i] == 0 && !blocked[i])
            .collect();
        let mut order = Vec::with_capacity(batch.len());
        while let Some(i) = queue.pop() {
            order.push(i);
            for &c in children.get(&i).map_or(&[][..], Vec::as_slice) {
                indegree[c] -= 1;
                if indegree[c] == 0 && !blocked[c] {
                    queue.push(c);
                }
            }
        }
        let mut slots: Vec<Option<Checked>> = batch.into_iter().map(Some).collect();
        let ready = order.iter().filter_map(|&i| slots[i].take()).collect();
        let waiting = slots.into_iter().flatten().collect();
        (ready, waiting)
    }

    /// Makes a local change as `who`: the closure writes through a transaction, which commits
    /// the change into the document; the change is then signed and goes through the gate like
    /// any other ([`Space::admit`]), which takes it out again if the rules refuse it.
    pub(crate) fn local_write<R>(
        &mut self,
        who: &Writer,
        at_ms: u64,
        write: impl FnOnce(&mut Transaction<'_>) -> Result<R, SpaceError>,
    ) -> Result<(Applied, R), SpaceError> {
        if !self.is_ready() {
            return Err(SpaceError::NotReady(self.id));
        }
        self.doc.set_actor(who.actor().clone());
        let mut tx = self.doc.transaction();
        let out = match write(&mut tx) {
            Ok(out) => out,
            Err(e) => {
                tx.rollback();
                return Err(e);
            }
        };
        let (made, _) = tx.commit_with(CommitOptions::default().with_time(millis(at_ms)));
        if made.is_none() {
            // Automerge makes no change of a transaction that writes what is already there.
            return Err(SpaceError::Unchanged);
        }
        let change = self
            .doc
            .get_last_local_change()
            .ok_or_else(|| SpaceError::Invalid("the write made no change".into()))?
            .clone();
        let hash = change.hash();
        let envelope = Envelope::sign(
            self.id,
            change.raw_bytes().to_vec(),
            &tim_hash(&hash),
            who.signing_key(),
        );
        let mut admitted = self.admit(vec![Checked::signed_here(envelope, change)]);
        if let Some((_, _, r)) = admitted.rejected.into_iter().find(|(h, _, _)| *h == hash) {
            return Err(r.into());
        }
        let i = admitted
            .applied
            .iter()
            .position(|a| am_hash(&a.hash) == hash)
            .ok_or_else(|| SpaceError::Invalid("the write was not applied".into()))?;
        Ok((admitted.applied.swap_remove(i), out))
    }

    /// Rebuilds the document from the kept changes and `more` (drops refused changes that
    /// were applied with their batch or by a local transaction). Costs time proportional to
    /// the space; only a refused local write, or a refused change that builds on another of
    /// its batch, comes here.
    fn rebuild<'c>(&mut self, more: impl Iterator<Item = &'c Change>) -> Result<(), SpaceError> {
        let mut doc = Automerge::new();
        let mut changes = self
            .signed
            .keys()
            .map(|h| {
                self.doc.get_change_by_hash(h).cloned().ok_or_else(|| {
                    SpaceError::Invalid(format!(
                        "kept change {} is not in the document",
                        tim_hash(h)
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        changes.extend(more.cloned());
        doc.apply_changes(changes)?;
        self.doc = doc;
        Ok(())
    }

    fn root(&self, c: &Container) -> Result<automerge::ObjId, SpaceError> {
        doc::root_obj(&self.doc, c, None).ok_or(SpaceError::NotReady(self.id))
    }

    /// Adds `key`'s timite to the members as `member`, using its invite if it has one.
    pub fn join(&mut self, who: &Writer, at_ms: u64) -> Result<Applied, SpaceError> {
        self.join_presenting(who, None, at_ms)
    }

    /// The member entry of `did`, if a member.
    pub(crate) fn member_entry(&self, did: &Did) -> Option<automerge::ObjId> {
        doc::child_obj(
            &self.doc,
            &self.root(&schema::MEMBERS).ok()?,
            &did.to_string(),
            None,
        )
    }

    /// The presentation `did` gave when it joined, if any (JSON).
    pub fn presentation_of(&self, did: &Did) -> Option<String> {
        doc::get_str(&self.doc, &self.member_entry(did)?, doc::PRESENTATION)
    }

    /// The join requirements set in the space's meta.
    pub fn requirements(&self) -> Vec<Requirement> {
        self.root(&schema::META)
            .ok()
            .and_then(|m| doc::get_str(&self.doc, &m, doc::REQUIREMENTS))
            .and_then(|r| crate::admission::parse_requirements(&r).ok())
            .unwrap_or_default()
    }

    /// Sets the join requirements (admins).
    pub fn set_requirements(
        &mut self,
        who: &Writer,
        requirements: &[Requirement],
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let meta = self.root(&schema::META)?;
        let json =
            serde_json::to_string(requirements).map_err(|e| SpaceError::Invalid(e.to_string()))?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&meta, doc::REQUIREMENTS, json)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// The challenge a joiner's presentation answers: one of the current heads, which the
    /// join change will then depend on.
    pub fn challenge(&self) -> String {
        self.heads()
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Joins, carrying a presentation (JSON) for the space's requirements; it must answer
    /// [`Space::challenge`] taken just before.
    pub fn join_presenting(
        &mut self,
        who: &Writer,
        presentation: Option<&str>,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let did = who.did();
        let members = self.root(&schema::MEMBERS)?;
        let invite = doc::child_obj(
            &self.doc,
            &self.root(&schema::INVITES)?,
            &did.to_string(),
            None,
        );
        self.local_write(who, at_ms, |tx| {
            let entry = tx.put_object(&members, did.to_string(), ObjType::Map)?;
            tx.put(&entry, doc::ROLE, Role::Member.as_str())?;
            tx.put(
                &entry,
                doc::JOINED_AT,
                ScalarValue::Timestamp(millis(at_ms)),
            )?;
            if let Some(p) = presentation {
                tx.put(&entry, doc::PRESENTATION, p)?;
            }
            if let Some(invite) = &invite {
                tx.put(invite, doc::USED, true)?;
            }
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Invites `did` (admins only), valid until `expires_at_ms`, for one join.
    pub fn invite(
        &mut self,
        who: &Writer,
        did: &Did,
        expires_at_ms: u64,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let by = who.did();
        let invites = self.root(&schema::INVITES)?;
        self.local_write(who, at_ms, |tx| {
            let inv = tx.put_object(&invites, did.to_string(), ObjType::Map)?;
            tx.put(&inv, doc::BY, by.to_string())?;
            tx.put(
                &inv,
                doc::EXPIRES_AT,
                ScalarValue::Timestamp(millis(expires_at_ms)),
            )?;
            tx.put(&inv, doc::USED, false)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Sets the role of member `did` (admins only; `Role::Banned` bans).
    pub fn set_role(
        &mut self,
        who: &Writer,
        did: &Did,
        role: Role,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let entry = self
            .member_entry(did)
            .ok_or_else(|| SpaceError::Invalid(format!("{did} is not a member")))?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&entry, doc::ROLE, role.as_str())?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Removes member `did` (admins only; a kicked member of a public space may join again).
    pub fn kick(&mut self, who: &Writer, did: &Did, at_ms: u64) -> Result<Applied, SpaceError> {
        let members = self.root(&schema::MEMBERS)?;
        if !self.is_member(did) {
            return Err(SpaceError::Invalid(format!("{did} is not a member")));
        }
        self.local_write(who, at_ms, |tx| {
            tx.delete(&members, did.to_string())?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Deletes a message (its author, or a moderator and above).
    pub fn delete_message(
        &mut self,
        who: &Writer,
        message_id: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let timeline = self.root(&schema::TIMELINE)?;
        let index = (0..self.doc.length(&timeline))
            .find(|&i| {
                matches!(self.doc.get(&timeline, i), Ok(Some((_, id))) if id.to_string() == message_id)
            })
            .ok_or_else(|| SpaceError::Invalid(format!("no message {message_id} in this space")))?;
        self.local_write(who, at_ms, |tx| {
            tx.delete(&timeline, index)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Rates member `ratee` from 1 to 5 as `key`'s timite (replacing its earlier rating).
    pub fn rate(
        &mut self,
        who: &Writer,
        ratee: &Did,
        score: u8,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        if !(1..=5).contains(&score) {
            return Err(SpaceError::Invalid("a rating is from 1 to 5".into()));
        }
        let rater = who.did();
        let ratings = self.root(&schema::RATINGS)?;
        self.local_write(who, at_ms, |tx| {
            tx.put(
                &ratings,
                format!("{rater} {ratee}"),
                ScalarValue::Int(i64::from(score)),
            )?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// The live ratings `did` received from current members, as (rater, score).
    pub fn ratings_of(&self, did: &Did) -> Vec<(Did, u8)> {
        let Ok(ratings) = self.root(&schema::RATINGS) else {
            return vec![];
        };
        let suffix = format!(" {did}");
        self.doc
            .keys(&ratings)
            .filter_map(|k| {
                let rater: Did = k.strip_suffix(&suffix)?.parse().ok()?;
                if !self.is_member(&rater) {
                    return None;
                }
                let score = doc::get_millis(&self.doc, &ratings, &k)?;
                Some((rater, u8::try_from(score).ok()?))
            })
            .collect()
    }

    /// `did`'s reputation in this space, computed from the document (docs/reputation.md).
    pub fn reputation(&self, did: &Did) -> Reputation {
        Tally::of(self).reputation(self, did)
    }

    /// Messages per author in the timeline (as its timeline index counts them).
    pub(crate) fn contributions(&self) -> HashMap<Did, u64> {
        let mut counts = HashMap::new();
        for (did, messages, _) in self.timeline_index().turns_by_did() {
            *counts.entry(did).or_default() += messages;
        }
        counts
    }

    /// The timeline's message maps, in document order, in one pass over the list (reading
    /// by index costs a seek per element).
    fn message_objects(&self) -> impl Iterator<Item = automerge::ObjId> + '_ {
        doc::root_obj(&self.doc, &schema::TIMELINE, None)
            .into_iter()
            .flat_map(move |timeline| {
                self.doc
                    .list_range(&timeline, ..)
                    .filter(|item| matches!(item.value, automerge::Value::Object(ObjType::Map)))
                    .map(|item| item.id)
                    .collect::<Vec<_>>()
            })
    }

    /// `did`'s reputation by the v1 formula, given its number of messages.
    pub(crate) fn reputation_v1(&self, did: &Did, contributions: u64) -> Reputation {
        let ratings = self.ratings_of(did);
        let sum: i64 = ratings.iter().map(|(_, r)| i64::from(*r)).sum();
        let n = ratings.len() as i64;
        let score = (contributions as i64 + 5 * (sum - 3 * n)).max(0);
        Reputation {
            score,
            contributions,
            ratings_received: n as u64,
            average_rating: if n == 0 { 0.0 } else { sum as f64 / n as f64 },
            v2: None,
        }
    }

    /// Records, as `who`'s timite (an admin), that it issued credential `issued` in this
    /// space's name. Returns the applied change and the credential's status list index.
    pub fn record_issued(
        &mut self,
        who: &Writer,
        issued: &Issuance<'_>,
        at_ms: u64,
    ) -> Result<(Applied, u64), SpaceError> {
        let issuer = who.did();
        let container = self.root(&schema::ISSUED)?;
        let index = self.id.status_index(issued.id);
        self.local_write(who, at_ms, |tx| {
            let rec = tx.put_object(&container, issued.id, ObjType::Map)?;
            tx.put(&rec, doc::SUBJECT, issued.subject.to_string())?;
            tx.put(&rec, doc::KIND, issued.kind)?;
            tx.put(&rec, doc::ISSUER, issuer.to_string())?;
            tx.put(&rec, doc::STATUS_INDEX, ScalarValue::Uint(index))?;
            tx.put(&rec, doc::AT, ScalarValue::Timestamp(millis(at_ms)))?;
            if let Some(a) = issued.ability {
                tx.put(&rec, crate::abilities::ABILITY, a)?;
            }
            if let Some(vc) = issued.credential {
                tx.put(&rec, crate::abilities::CREDENTIAL, vc)?;
            }
            Ok(index)
        })
    }

    /// The issuance record of a credential id, if this space issued it.
    pub fn issued(&self, id: &str) -> Option<IssuedRecord> {
        let rec = doc::child_obj(&self.doc, &self.root(&schema::ISSUED).ok()?, id, None)?;
        Some(IssuedRecord {
            subject: doc::get_str(&self.doc, &rec, doc::SUBJECT)?.parse().ok()?,
            kind: doc::get_str(&self.doc, &rec, doc::KIND)?,
            issuer: doc::get_str(&self.doc, &rec, doc::ISSUER)?.parse().ok()?,
            status_index: doc::get_millis(&self.doc, &rec, doc::STATUS_INDEX)?,
            at: doc::get_millis(&self.doc, &rec, doc::AT).unwrap_or(0),
            credential: doc::get_str(&self.doc, &rec, crate::abilities::CREDENTIAL),
        })
    }

    /// The status indices of the credentials `issuer` issued in this space's name, each with
    /// whether it is revoked.
    pub fn issued_by(&self, issuer: &Did) -> Vec<(u64, bool)> {
        let Ok(issued) = self.root(&schema::ISSUED) else {
            return vec![];
        };
        self.doc
            .keys(&issued)
            .filter_map(|id| self.issued(&id))
            .filter(|rec| rec.issuer == *issuer)
            .map(|rec| (rec.status_index, self.is_revoked(rec.status_index)))
            .collect()
    }

    /// Revokes the credential with this status index (admins).
    pub fn revoke(&mut self, who: &Writer, index: u64, at_ms: u64) -> Result<Applied, SpaceError> {
        let list = self.root(&schema::STATUS_LIST)?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&list, index.to_string(), true)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Whether the credential with this status index is revoked.
    pub fn is_revoked(&self, index: u64) -> bool {
        self.root(&schema::STATUS_LIST)
            .is_ok_and(|list| doc::is_true(&self.doc, &list, &index.to_string()))
    }

    /// The role of `did` now, if a member: `banned` for a member that revocation notices
    /// no longer admit ([`Space::no_longer_admitted`]), as the rules treat it. This is the
    /// assigned role; [`Space::effective_role`] adds the roles earned by reputation.
    pub fn role_of(&self, did: &Did) -> Option<Role> {
        let role = Role::parse(&doc::get_str(
            &self.doc,
            &self.member_entry(did)?,
            doc::ROLE,
        )?)?;
        if self.no_longer_admitted(did).is_some() {
            return Some(Role::Banned);
        }
        Some(role)
    }

    /// The space's schema version (`meta.version`; [`crate::schema`]).
    pub fn schema_version(&self) -> u64 {
        doc::schema_version(&self.doc, None)
    }

    /// Migrates the space, as `who` (an admin or the owner), to schema version `to_version`:
    /// one change that makes the root containers the versions in between introduced and
    /// raises `meta.version` (docs/rules.md §4.1).
    pub fn migrate(
        &mut self,
        who: &Writer,
        to_version: u64,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let from = self.schema_version();
        if to_version <= from {
            return Err(SpaceError::Invalid(format!(
                "the space is at schema version {from} already"
            )));
        }
        if !schema::is_known(to_version) {
            return Err(SpaceError::Invalid(format!(
                "schema version {to_version} is unknown; this node knows up to {}",
                schema::LATEST_VERSION
            )));
        }
        let meta = self.root(&schema::META)?;
        self.local_write(who, at_ms, |tx| {
            for c in schema::added_between(from, to_version) {
                tx.put_object(ROOT, c.name, c.kind.obj_type())?;
            }
            tx.put(&meta, doc::VERSION, ScalarValue::Uint(to_version))?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Defines (or redefines) role `name` with a rank and permissions, as `who`: it needs the
    /// `roles` permission, and the role must rank below its own (schema version 2 and later).
    pub fn define_role(
        &mut self,
        who: &Writer,
        name: &str,
        rank: u64,
        may: Permissions,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let name = RoleName::parse(name).map_err(SpaceError::Invalid)?;
        if self.schema_version() < schema::ROLES.since {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; roles are defined from version {}: \
                 migrate it first",
                self.schema_version(),
                schema::ROLES.since
            )));
        }
        let roles = self.root(&schema::ROLES)?;
        self.local_write(who, at_ms, |tx| {
            let def = tx.put_object(&roles, name.as_str(), ObjType::Map)?;
            tx.put(&def, doc::RANK, ScalarValue::Uint(rank))?;
            tx.put(&def, doc::MAY, may.to_json())?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// The roles this space defines, by name.
    pub fn roles(&self) -> Vec<RoleDef> {
        doc::role_names(&self.doc, None)
            .iter()
            .filter_map(|n| doc::role_def(&self.doc, n, None))
            .collect()
    }

    /// A role's rank here: built-in, or as the space defines it (`None` if it does not).
    pub fn role_rank(&self, role: &Role) -> Option<u64> {
        match role {
            Role::Custom(name) => doc::role_def(&self.doc, name, None).map(|d| d.rank),
            r => r.builtin_rank(),
        }
    }

    /// Posts a message as `key`'s timite. Returns the applied change and the message id.
    pub fn post(
        &mut self,
        who: &Writer,
        text: &str,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        self.post_with(who, text, at_ms, |_, _| Ok(()))
    }

    /// Posts a message as [`Space::post`] does, with `more` writing further fields into it.
    pub(crate) fn post_with(
        &mut self,
        who: &Writer,
        text: &str,
        at_ms: u64,
        more: impl FnOnce(&mut Transaction<'_>, &automerge::ObjId) -> Result<(), SpaceError>,
    ) -> Result<(Applied, String), SpaceError> {
        if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
            return Err(SpaceError::Invalid(format!(
                "a message must be 1 to {MAX_TEXT_BYTES} bytes"
            )));
        }
        let author = who.did();
        let timeline = doc::root_obj(&self.doc, &schema::TIMELINE, None)
            .ok_or(SpaceError::NotReady(self.id))?;
        let len = self.doc.length(&timeline);
        self.local_write(who, at_ms, |tx| {
            let msg = tx.insert_object(&timeline, len, ObjType::Map)?;
            tx.put(&msg, doc::AUTHOR, author.to_string())?;
            tx.put(&msg, doc::TEXT, text)?;
            tx.put(&msg, doc::AT, ScalarValue::Timestamp(millis(at_ms)))?;
            more(tx, &msg)?;
            Ok(msg.to_string())
        })
    }

    /// The space's meta, once the genesis has arrived.
    pub fn meta(&self) -> Option<SpaceMeta> {
        let meta = doc::root_obj(&self.doc, &schema::META, None)?;
        Some(SpaceMeta {
            name: doc::get_str(&self.doc, &meta, doc::NAME)?,
            purpose: doc::get_str(&self.doc, &meta, doc::PURPOSE).unwrap_or_default(),
            created_by: doc::get_str(&self.doc, &meta, doc::CREATED_BY)?
                .parse()
                .ok()?,
            created_at: doc::get_millis(&self.doc, &meta, doc::CREATED_AT).unwrap_or(0),
            visibility: doc::get_str(&self.doc, &meta, doc::VISIBILITY)
                .and_then(|v| Visibility::parse(&v))
                .unwrap_or(Visibility::Public),
            expires_at: doc::get_millis(&self.doc, &meta, doc::EXPIRES_AT),
        })
    }

    /// The members, sorted by DID, with their reputation and declared abilities.
    pub fn members(&self) -> Vec<MemberView> {
        self.members_page(None, usize::MAX).members
    }

    /// How many members [`Space::members`] lists, without counting anyone's messages.
    pub fn member_count(&self) -> usize {
        let Some(members) = doc::root_obj(&self.doc, &schema::MEMBERS, None) else {
            return 0;
        };
        self.doc
            .keys(&members)
            .filter(|k| {
                k.parse::<Did>().is_ok()
                    && doc::child_obj(&self.doc, &members, k, None)
                        .is_some_and(|e| doc::get_str(&self.doc, &e, doc::ROLE).is_some())
            })
            .count()
    }

    /// One member, as in [`Space::members`].
    pub fn member(&self, did: &Did) -> Option<MemberView> {
        let entry = self.member_entry(did)?;
        let earning = self.earning_now();
        self.member_view(*did, &entry, &Tally::of(self), &earning)
    }

    pub(crate) fn member_view(
        &self,
        did: Did,
        entry: &automerge::ObjId,
        tally: &Tally,
        earning: &crate::earned::Earning,
    ) -> Option<MemberView> {
        let role = doc::get_str(&self.doc, entry, doc::ROLE)?;
        let no_longer_admitted = self.no_longer_admitted(&did);
        let assigned = match no_longer_admitted {
            Some(_) => Role::Banned.as_str().to_string(),
            None => role,
        };
        let shown = self.shown_role(&did, assigned, tally, earning);
        Some(MemberView {
            role: shown.role,
            held: shown.held,
            assigned_role: shown.assigned_role,
            earned_by: shown.earned_by,
            no_longer_admitted,
            joined_at: doc::get_millis(&self.doc, entry, doc::JOINED_AT).unwrap_or(0),
            imported_reputation: None,
            reputation: tally.reputation(self, &did).score.unsigned_abs(),
            abilities: self.abilities_in(entry),
            name: self.member_name(&did),
            did,
        })
    }

    /// The abilities a member entry declares (a JSON list of strings; anything else is none).
    fn abilities_in(&self, entry: &automerge::ObjId) -> Vec<String> {
        doc::get_str(&self.doc, entry, doc::ABILITIES)
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default()
    }

    /// Declares, as `key`'s timite (a member), what it can do in this space, replacing what it
    /// declared before. Each ability is 1 to [`MAX_ABILITY_LEN`] characters, at most
    /// [`MAX_ABILITIES`] of them.
    pub fn declare_abilities(
        &mut self,
        who: &Writer,
        abilities: &[String],
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        if abilities.len() > MAX_ABILITIES {
            return Err(SpaceError::Invalid(format!(
                "at most {MAX_ABILITIES} abilities; {} given",
                abilities.len()
            )));
        }
        if let Some(bad) = abilities
            .iter()
            .find(|a| a.trim().is_empty() || a.chars().count() > MAX_ABILITY_LEN)
        {
            return Err(SpaceError::Invalid(format!(
                "an ability is 1 to {MAX_ABILITY_LEN} characters, not `{bad}`"
            )));
        }
        let me = who.did();
        let entry = self
            .member_entry(&me)
            .ok_or_else(|| SpaceError::Invalid(format!("{me} is not a member of {}", self.id)))?;
        let json =
            serde_json::to_string(abilities).map_err(|e| SpaceError::Invalid(e.to_string()))?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&entry, doc::ABILITIES, json)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Whether `did` is a member now.
    pub fn is_member(&self, did: &Did) -> bool {
        self.member_entry(did).is_some()
    }

    /// Whether only its members may read the space (`docs/privacy.md`): an invite-only
    /// space. A space whose history has not arrived counts as private.
    pub fn is_private(&self) -> bool {
        // Asked on every sync message of the space: read the one field, not the whole meta.
        let Some(meta) = doc::root_obj(&self.doc, &schema::META, None) else {
            return true;
        };
        doc::get_str(&self.doc, &meta, doc::VISIBILITY).and_then(|v| Visibility::parse(&v))
            == Some(Visibility::InviteOnly)
    }

    /// Whether `did` may read the space: anyone for a public or ephemeral space; for a
    /// private one, a member who is not banned.
    pub fn may_read(&self, did: &Did) -> bool {
        !self.is_private() || self.role_of(did).is_some_and(|r| r != Role::Banned)
    }

    /// Whether a node hosting `did` may sync the space at `now_ms`: a reader, or, for a
    /// private space, the holder of an unused invite that has not expired (its node needs
    /// the history to join).
    pub fn may_sync(&self, did: &Did, now_ms: u64) -> bool {
        self.may_read(did) || self.has_open_invite(did, now_ms)
    }

    fn has_open_invite(&self, did: &Did, now_ms: u64) -> bool {
        let Some(invite) = self
            .root(&schema::INVITES)
            .ok()
            .and_then(|invites| doc::child_obj(&self.doc, &invites, &did.to_string(), None))
        else {
            return false;
        };
        !doc::is_true(&self.doc, &invite, doc::USED)
            && doc::get_millis(&self.doc, &invite, doc::EXPIRES_AT).is_some_and(|t| t > now_ms)
    }

    /// Number of messages in the timeline.
    pub fn message_count(&self) -> usize {
        doc::root_obj(&self.doc, &schema::TIMELINE, None).map_or(0, |t| self.doc.length(&t))
    }

    /// One message by id.
    pub fn message(&self, id: &str) -> Option<MessageView> {
        let (obj, ObjType::Map) = self.doc.import(id).ok()? else {
            return None;
        };
        self.message_at(&obj)
    }

    pub(crate) fn message_at(&self, obj: &automerge::ObjId) -> Option<MessageView> {
        // An encrypted message's text is the reader's to decrypt (node/src/e2ee).
        let (text, encrypted) = match doc::get_str(&self.doc, obj, doc::TEXT) {
            Some(t) => (t, false),
            None if self.doc.get(obj, doc::CT).ok()?.is_some() => (String::new(), true),
            None => return None,
        };
        let mut view = MessageView {
            id: obj.to_string(),
            author: doc::get_str(&self.doc, obj, doc::AUTHOR)?.parse().ok()?,
            text,
            at: doc::get_millis(&self.doc, obj, doc::AT).unwrap_or(0),
            encrypted,
            unreadable: None,
            reply_to: None,
            edits: 0,
            edited_at: None,
            reactions: Vec::new(),
            author_name: None,
            mentions: Vec::new(),
            attachment: None,
        };
        view.author_name = self.member_name(&view.author);
        self.add_message_features(obj, &mut view);
        Some(view)
    }

    /// The timeline, in document order.
    pub fn timeline(&self) -> Vec<MessageView> {
        self.message_objects()
            .filter_map(|id| self.message_at(&id))
            .collect()
    }
}

fn decode_change(env: &Envelope) -> Result<Change, Rejection> {
    Change::from_bytes(env.change.clone()).map_err(|e| Rejection::MalformedChange(e.to_string()))
}

/// The change's actor is the author's: its key, in some session ([`actor_is_author`]).
fn check_binding(env: &Envelope, change: &Change) -> Result<(), Rejection> {
    if actor_is_author(change.actor_id().to_bytes(), &env.author) {
        Ok(())
    } else {
        Err(Rejection::ActorMismatch {
            actor: change.actor_id().to_hex_string(),
            author: env.author,
        })
    }
}

/// Checks an envelope on its own, whether or not a space already holds its change: the change
/// decodes, the signature verifies and the actor is the author's.
pub fn verify_envelope(env: &Envelope) -> Result<ChangeHash, Rejection> {
    let change = decode_change(env)?;
    env.verify_signature(&tim_hash(&change.hash()))?;
    check_binding(env, &change)?;
    Ok(tim_hash(&change.hash()))
}

/// An envelope whose change decoded, whose signature verified and whose change's actor is its
/// author's: what the gate ([`Space::ingest_checked`]) takes. Outside this crate only
/// [`check_envelopes`] makes one.
#[derive(Debug, Clone)]
pub struct Checked {
    envelope: Envelope,
    change: Change,
}

impl Checked {
    /// Decodes, verifies the signature, checks the actor binding.
    fn new(envelope: Envelope) -> Result<Self, Rejection> {
        let change = decode_change(&envelope)?;
        Self::verify(envelope, change)
    }

    /// Verifies the signature over the decoded change's hash, then the actor binding.
    fn verify(envelope: Envelope, change: Change) -> Result<Self, Rejection> {
        envelope.verify_signature(&tim_hash(&change.hash()))?;
        check_binding(&envelope, &change)?;
        Ok(Self { envelope, change })
    }

    /// A change from this node's own store, at restart. Its signature is **not** checked
    /// again: this node checked it (or signed it) before it stored it, and this is the only
    /// check a restart skips. It must still decode and its actor must be its author's.
    fn own(envelope: Envelope) -> Result<Self, Rejection> {
        let change = decode_change(&envelope)?;
        check_binding(&envelope, &change)?;
        Ok(Self { envelope, change })
    }

    /// A change this node made and signed a moment ago, with its author's session actor.
    fn signed_here(envelope: Envelope, change: Change) -> Self {
        Self { envelope, change }
    }

    /// The envelope.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
}

/// Batches at least this big are checked on several threads.
const PARALLEL_CHECK_MIN: usize = 64;
/// Most threads one batch is checked on.
const MAX_CHECK_THREADS: usize = 8;

/// Checks every envelope (decode, signature, actor), in order, whether or not a space holds
/// its change: a batch of at least [`PARALLEL_CHECK_MIN`] is split across the machine's cores
/// (at most [`MAX_CHECK_THREADS`]). A refused envelope comes back as its author and why.
pub fn check_envelopes(envelopes: Vec<Envelope>) -> Vec<Result<Checked, (Did, Rejection)>> {
    par_map(envelopes, |env: Envelope| {
        let author = env.author;
        Checked::new(env).map_err(|r| (author, r))
    })
}

/// `f` over `items`, in order: a batch of at least [`PARALLEL_CHECK_MIN`] is split across the
/// machine's cores (at most [`MAX_CHECK_THREADS`]).
fn par_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_CHECK_THREADS);
    if items.len() < PARALLEL_CHECK_MIN || threads < 2 {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    let mut rest = items;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    let f = &f;
    std::thread::scope(|s| {
        let running: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || part.into_iter().map(f).collect::<Vec<_>>()))
            .collect();
        running
            .into_iter()
            .flat_map(|t| t.join().expect("a worker thread panicked"))
            .collect()
    })
}

/// Milliseconds as Automerge's signed timestamp (saturating; times past year 292 million are
/// not a concern).
pub(crate) fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
