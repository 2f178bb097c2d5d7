//! [`Group`]: one member's state of one space's encryption group, over the library's
//! `EncryptionGroup` with Tim's ids, membership, ordering and wire forms.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::convert::Infallible;
use std::fmt;

use p2panda_encryption::crypto::x25519::PublicKey;
use p2panda_encryption::crypto::xchacha20::{XAeadError, XAeadNonce};
use p2panda_encryption::data_scheme::dcgka::DcgkaError;
use p2panda_encryption::data_scheme::{
    decrypt_data, encrypt_data, ControlMessage, DirectMessage, EncryptionGroup, GroupError,
    GroupOutput, GroupSecret, GroupSecretId, GroupState, SecretBundle,
};
use p2panda_encryption::key_bundle::{LongTermKeyBundle, PreKeyId};
use p2panda_encryption::key_manager::{KeyManager, KeyManagerError, KeyManagerState};
use p2panda_encryption::key_registry::{KeyRegistry, KeyRegistryError, KeyRegistryState};
use p2panda_encryption::traits::{
    GroupMembership, GroupMessage, GroupMessageContent, IdentityHandle, IdentityManager,
    IdentityRegistry, OperationId, Ordering, PreKeyManager, PreKeyRegistry,
};
use p2panda_encryption::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::{ByteArray, ByteBuf};
use tim_protocol::codec;
use tim_protocol::{ChangeHash, Did};

use super::keys::{Bundle, Keys};
use super::E2eeError;

/// Bound on one encoded control message with its direct messages: a change's bound
/// (docs/protocol.md §11), which caps a rotation at about 300 members (privacy.md §2.4).
pub const MAX_CONTROL_BYTES: usize = 128 * 1024;

/// Bound on one encoded ciphertext: the document's bound on a message's `ct` (a text's
/// 16 KiB, the clear fields its plaintext binds, and the framing).
pub const MAX_CIPHERTEXT_BYTES: usize = tim_crdt::encryption::MAX_CT_BYTES;

/// Bound on a stored group state.
pub const MAX_STATE_BYTES: usize = 16 * 1024 * 1024;

/// Version of the control message, ciphertext and stored-state encodings ("p2panda-data/1").
const WIRE_VERSION: u8 = 1;

/// The id of a group secret (SHA-256 of the secret), named by every ciphertext.
pub type SecretId = GroupSecretId;

// ---------------------------------------------------------------------------------------------
// Ids. The library's traits cannot be implemented for `Did` and `ChangeHash` here (orphan
// rule), so two private newtypes carry them, encoded as 32 raw bytes (a did:key string would
// double the size of every id inside control messages).

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Member(Did);

impl IdentityHandle for Member {}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Member {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ByteArray::new(*self.0.public_bytes()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = ByteArray::<32>::deserialize(d)?;
        Did::from_public_bytes(&bytes[..])
            .map(Member)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct Op(ChangeHash);

impl OperationId for Op {}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Op {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ByteArray::new(*self.0.as_bytes()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Op(ChangeHash::from(
            ByteArray::<32>::deserialize(d)?.into_array(),
        )))
    }
}

/// A local control message's change hash is not known before the engine makes the change;
/// the library hands the id only to the membership's `add`/`remove`, which do not use it.
fn unknown_op() -> Op {
    Op(ChangeHash::from([0; 32]))
}

// ---------------------------------------------------------------------------------------------
// The library's parameters. `GroupState` derives serde, which asks every type parameter to be
// serde-able, and the library's `KeyRegistry`/`KeyManager` markers are not: these markers
// delegate to them and are (privacy.md §2.2).

/// Public key infrastructure: the members' published bundles (the library's `KeyRegistry`).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pki;

impl IdentityRegistry<Member, KeyRegistryState<Member>> for Pki {
    type Error = Infallible;

    fn identity_key(
        y: &KeyRegistryState<Member>,
        id: &Member,
    ) -> Result<Option<PublicKey>, Infallible> {
        KeyRegistry::<Member>::identity_key(y, id)
    }
}

impl PreKeyRegistry<Member, LongTermKeyBundle> for Pki {
    type State = KeyRegistryState<Member>;
    type Error = KeyRegistryError;

    fn key_bundle(
        y: Self::State,
        id: &Member,
    ) -> Result<(Self::State, Option<LongTermKeyBundle>), Self::Error> {
        <KeyRegistry<Member> as PreKeyRegistry<Member, LongTermKeyBundle>>::key_bundle(y, id)
    }
}

/// The local member's secret keys (the library's `KeyManager`).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Kmg;

impl IdentityManager<KeyManagerState> for Kmg {
    fn identity_secret(y: &KeyManagerState) -> &p2panda_encryption::crypto::x25519::SecretKey {
        KeyManager::identity_secret(y)
    }
}

impl PreKeyManager for Kmg {
    type State = KeyManagerState;
    type Error = KeyManagerError;

    fn prekey_secret<'a>(
        y: &'a Self::State,
        id: &'a PreKeyId,
    ) -> Result<&'a p2panda_encryption::crypto::x25519::SecretKey, Self::Error> {
        KeyManager::prekey_secret(y, id)
    }

    fn rotate_prekey(
        y: Self::State,
        lifetime: p2panda_encryption::key_bundle::Lifetime,
        rng: &Rng,
    ) -> Result<Self::State, Self::Error> {
        KeyManager::rotate_prekey(y, lifetime, rng)
    }

    fn prekey_bundle(y: &Self::State) -> Result<LongTermKeyBundle, Self::Error> {
        KeyManager::prekey_bundle(y)
    }

    fn generate_onetime_bundle(
        y: Self::State,
        rng: &Rng,
    ) -> Result<
        (
            Self::State,
            p2panda_encryption::key_bundle::OneTimeKeyBundle,
        ),
        Self::Error,
    > {
        KeyManager::generate_onetime_bundle(y, rng)
    }

    fn use_onetime_secret(
        y: Self::State,
        id: p2panda_encryption::key_bundle::OneTimePreKeyId,
    ) -> Result<
        (
            Self::State,
            Option<p2panda_encryption::crypto::x25519::SecretKey>,
        ),
        Self::Error,
    > {
        KeyManager::use_onetime_secret(y, id)
    }
}

/// Group membership as the library sees it: the set of members, fed by the control messages.
/// Once wired, it follows the space's `members` map as the rules judged it (privacy.md §4.2);
/// the control messages the engine issues follow that map, so the two agree.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Dgm;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct DgmState {
    members: BTreeSet<Member>,
}

impl GroupMembership<Member, Op> for Dgm {
    type State = DgmState;
    type Error = Infallible;

    fn create(_me: Member, initial: &[Member]) -> Result<DgmState, Infallible> {
        Ok(DgmState {
            members: initial.iter().copied().collect(),
        })
    }

    fn from_welcome(me: Member, mut y: DgmState) -> Result<DgmState, Infallible> {
        // The welcome carries the adder's view from before its add (privacy.md §2.2).
        y.members.insert(me);
        Ok(y)
    }

    fn add(
        mut y: DgmState,
        _adder: Member,
        added: Member,
        _op: Op,
    ) -> Result<DgmState, Infallible> {
        y.members.insert(added);
        Ok(y)
    }

    fn remove(
        mut y: DgmState,
        _remover: Member,
        removed: &Member,
        _op: Op,
    ) -> Result<DgmState, Infallible> {
        y.members.remove(removed);
        Ok(y)
    }

    fn members(y: &DgmState) -> Result<HashSet<Member>, Infallible> {
        Ok(y.members.iter().copied().collect())
    }
}

/// A message as the library sees it: a control message with its direct messages, or a
/// ciphertext, with the id and author of the change that carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Msg {
    id: Op,
    sender: Member,
    body: Body,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Body {
    Control(ControlMessage<Member>, Vec<DirectMessage<Member, Op, Dgm>>),
    Application {
        secret: SecretId,
        nonce: XAeadNonce,
        ciphertext: Vec<u8>,
    },
}

impl GroupMessage<Member, Op, Dgm> for Msg {
    fn id(&self) -> Op {
        self.id
    }

    fn sender(&self) -> Member {
        self.sender
    }

    fn content(&self) -> GroupMessageContent<Member> {
        match &self.body {
            Body::Control(c, _) => GroupMessageContent::Control(c.clone()),
            Body::Application {
                secret,
                nonce,
                ciphertext,
            } => GroupMessageContent::Application {
                group_secret_id: *secret,
                nonce: *nonce,
                ciphertext: ciphertext.clone(),
            },
        }
    }

    fn direct_messages(&self) -> Vec<DirectMessage<Member, Op, Dgm>> {
        match &self.body {
            Body::Control(_, dms) => dms.clone(),
            Body::Application { .. } => Vec::new(),
        }
    }
}

/// Ordering: Tim's gate delivers in causal order, so a message is ready when it arrives.
/// [`Group::process_control`] hands the library only messages it can process now (never one
/// before the welcome), so the queue is empty between calls.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Causal;

#[derive(Debug, Serialize, Deserialize)]
struct CausalState {
    me: Member,
    ready: VecDeque<Msg>,
}

impl Ordering<Member, Op, Dgm> for Causal {
    type State = CausalState;
    type Error = Infallible;
    type Message = Msg;

    fn next_control_message(
        y: CausalState,
        control: &ControlMessage<Member>,
        dms: &[DirectMessage<Member, Op, Dgm>],
    ) -> Result<(CausalState, Msg), Infallible> {
        let msg = Msg {
            id: unknown_op(),
            sender: y.me,
            body: Body::Control(control.clone(), dms.to_vec()),
        };
        Ok((y, msg))
    }

    fn next_application_message(
        y: CausalState,
        secret: SecretId,
        nonce: XAeadNonce,
        ciphertext: Vec<u8>,
    ) -> Result<(CausalState, Msg), Infallible> {
        let msg = Msg {
            id: unknown_op(),
            sender: y.me,
            body: Body::Application {
                secret,
                nonce,
                ciphertext,
            },
        };
        Ok((y, msg))
    }

    fn queue(mut y: CausalState, msg: &Msg) -> Result<CausalState, Infallible> {
        y.ready.push_back(msg.clone());
        Ok(y)
    }

    fn set_welcome(y: CausalState, _msg: &Msg) -> Result<CausalState, Infallible> {
        Ok(y)
    }

    fn next_ready_message(mut y: CausalState) -> Result<(CausalState, Option<Msg>), Infallible> {
        let next = y.ready.pop_front();
        Ok((y, next))
    }
}

type State = GroupState<Member, Op, Pki, Dgm, Kmg, Causal>;
type Lib = EncryptionGroup<Member, Op, Pki, Dgm, Kmg, Causal>;
type LibError = GroupError<Member, Op, Pki, Dgm, Kmg, Causal>;

fn lib_error(e: LibError) -> E2eeError {
    match e {
        GroupError::GroupNotYetEstablished => E2eeError::NotEstablished,
        GroupError::GroupAlreadyEstablished => E2eeError::AlreadyEstablished,
        GroupError::UnknownGroupSecret(id) => E2eeError::UnknownSecret(id),
        GroupError::XAead(XAeadError::Decrypt(_)) => E2eeError::Decrypt,
        GroupError::Dcgka(DcgkaError::MissingPreKeys(m)) => E2eeError::MissingBundle(m.0),
        other => E2eeError::Protocol(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Wire forms.

/// A control message as Tim carries it in a change: the author and the change hash come from
/// the change (its envelope), not from these bytes.
#[derive(Serialize, Deserialize)]
struct ControlWire {
    v: u8,
    control: ControlMessage<Member>,
    dms: Vec<DirectMessage<Member, Op, Dgm>>,
}

/// A ciphertext as privacy.md §4.1 lays it out: `[version, secret id, nonce, ciphertext]`.
#[derive(Serialize, Deserialize)]
struct CiphertextWire(u8, ByteArray<32>, ByteArray<24>, ByteBuf);

/// What a control message does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlKind {
    /// Creates the group with these initial members.
    Create {
        /// The initial members, the creator among them.
        members: Vec<Did>,
    },
    /// Adds a member (and welcomes it with the secrets).
    Add {
        /// The new member.
        added: Did,
    },
    /// Removes a member and rotates the group secret.
    Remove {
        /// The removed member.
        removed: Did,
    },
    /// Rotates the group secret.
    Update,
}

impl ControlKind {
    fn of(c: &ControlMessage<Member>) -> Self {
        match c {
            ControlMessage::Create { initial_members } => ControlKind::Create {
                members: initial_members.iter().map(|m| m.0).collect(),
            },
            ControlMessage::Add { added } => ControlKind::Add { added: added.0 },
            ControlMessage::Remove { removed } => ControlKind::Remove { removed: removed.0 },
            ControlMessage::Update => ControlKind::Update,
        }
    }
}

/// What processing a control message did to the local member's group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Processed {
    /// The message was processed.
    Applied {
        /// What the message does.
        kind: ControlKind,
        /// The message made the local member part of the group (a create naming it, or its
        /// welcome).
        welcomed: bool,
        /// The message removed the local member: it will read nothing written after.
        removed_me: bool,
        /// Group secrets the message brought.
        new_secrets: Vec<SecretId>,
        /// Secrets retired at once by rule (b) of privacy.md §3.3: the message's author is not
        /// a member after it (removed concurrently, or removing itself), so it knows them.
        retired: Vec<SecretId>,
    },
    /// The local member is not in the group yet and this is not its welcome: the engine keeps
    /// the message, and processes it again after the welcome if it is concurrent with it.
    NotYetWelcomed,
}

/// Where a group secret came from: the author and change of the control message that brought
/// it (for rule (b)).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Origin {
    author: Member,
    op: Op,
}

#[derive(Serialize)]
struct StoredRef<'a> {
    v: u8,
    state: &'a State,
    origins: &'a BTreeMap<SecretId, Origin>,
    retired: &'a BTreeMap<SecretId, GroupSecret>,
}

#[derive(Deserialize)]
struct Stored {
    v: u8,
    state: State,
    origins: BTreeMap<SecretId, Origin>,
    retired: BTreeMap<SecretId, GroupSecret>,
}

// ---------------------------------------------------------------------------------------------

/// One member's state of one space's encryption group.
///
/// Every operation takes `&mut self` and leaves the group as it was when it fails. Control
/// messages go out as bytes ([`Group::create`], [`Group::add`], [`Group::remove`],
/// [`Group::update`]) for the engine to put in a change, and come in as bytes with the change's
/// author and hash ([`Group::process_control`]).
pub struct Group {
    /// `None` only after a failed operation whose snapshot did not restore (never expected).
    state: Option<State>,
    /// Which remote control message brought each secret (rule (b)).
    origins: BTreeMap<SecretId, Origin>,
    /// Secrets taken out of the bundle by rule (b): never used to encrypt, never passed on in a
    /// welcome, kept to decrypt what was written with them before the removal was known.
    retired: BTreeMap<SecretId, GroupSecret>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secrets.
        let mut d = f.debug_struct("Group");
        if let Some(y) = &self.state {
            d.field("me", &y.my_id.0)
                .field("welcomed", &y.is_welcomed)
                .field("members", &y.dcgka.dgm.members.len())
                .field("secrets", &y.secrets.len());
        }
        d.field("retired", &self.retired.len()).finish()
    }
}

impl Group {
    /// The state of `me`, holding `keys`, before it creates or joins the group.
    pub fn new(me: Did, keys: &Keys) -> Self {
        let me = Member(me);
        let state = Lib::init(
            me,
            keys.state.clone(),
            KeyRegistry::<Member>::init(),
            DgmState::default(),
            CausalState {
                me,
                ready: VecDeque::new(),
            },
        );
        Self {
            state: Some(state),
            origins: BTreeMap::new(),
            retired: BTreeMap::new(),
        }
    }

    fn state(&self) -> Result<&State, E2eeError> {
        self.state.as_ref().ok_or(E2eeError::Poisoned)
    }

    /// The local member.
    pub fn me(&self) -> Result<Did, E2eeError> {
        Ok(self.state()?.my_id.0)
    }

    /// Whether the group is created or joined.
    pub fn is_established(&self) -> Result<bool, E2eeError> {
        Ok(self.state()?.is_welcomed)
    }

    /// The members as the local member sees them.
    pub fn members(&self) -> Result<BTreeSet<Did>, E2eeError> {
        Ok(self
            .state()?
            .dcgka
            .dgm
            .members
            .iter()
            .map(|m| m.0)
            .collect())
    }

    /// Records `member`'s published bundle, needed before sending it secrets. A bundle whose
    /// identity key differs from the one known for the member is refused (the library would
    /// panic); an invalid or expired one too.
    pub fn add_bundle(&mut self, member: Did, bundle: &Bundle) -> Result<(), E2eeError> {
        let y = self.state.as_mut().ok_or(E2eeError::Poisoned)?;
        let known = Pki::identity_key(&y.dcgka.pki, &Member(member)).unwrap_or_else(|n| match n {});
        if let Some(known) = known {
            if known.as_bytes() != &bundle.identity_key() {
                return Err(E2eeError::IdentityKeyChanged { member });
            }
        }
        bundle.verify(member)?;
        let pki = y.dcgka.pki.clone();
        y.dcgka.pki = KeyRegistry::add_longterm_bundle(pki, Member(member), bundle.0.clone())
            .map_err(|e| E2eeError::InvalidBundle {
                member,
                reason: e.to_string(),
            })?;
        Ok(())
    }

    fn has_bundle(&self, member: Did) -> Result<bool, E2eeError> {
        let y = self.state()?;
        Ok(Pki::identity_key(&y.dcgka.pki, &Member(member))
            .unwrap_or_else(|n| match n {})
            .is_some())
    }

    /// Runs a library operation on the state; on failure, puts back the state from before.
    fn transact<T>(
        &mut self,
        op: impl FnOnce(State) -> Result<(State, T), LibError>,
    ) -> Result<T, E2eeError> {
        let y = self.state.take().ok_or(E2eeError::Poisoned)?;
        let snapshot = codec::encode(&y);
        match op(y) {
            Ok((y, out)) => {
                self.state = Some(y);
                Ok(out)
            }
            Err(e) => {
                self.state = codec::decode(&snapshot, MAX_STATE_BYTES).ok();
                Err(lib_error(e))
            }
        }
    }

    fn outgoing(msg: Msg) -> Result<Vec<u8>, E2eeError> {
        match msg.body {
            Body::Control(control, dms) => Ok(codec::encode(&ControlWire {
                v: WIRE_VERSION,
                control,
                dms,
            })),
            Body::Application { .. } => Err(E2eeError::Protocol(
                "the library returned a ciphertext for a control operation".into(),
            )),
        }
    }

    fn require_bundles(&self, members: &[Did]) -> Result<(), E2eeError> {
        let me = self.me()?;
        for &m in members {
            if m != me && !self.has_bundle(m)? {
                return Err(E2eeError::MissingBundle(m));
            }
        }
        Ok(())
    }

    /// Creates the group with `members` (the local member is added if missing): the first
    /// group secret, sent to each. Returns the control message to publish.
    pub fn create(&mut self, members: &[Did], rng: &Rng) -> Result<Vec<u8>, E2eeError> {
        let me = self.me()?;
        let mut initial: Vec<Member> = members.iter().copied().map(Member).collect();
        if !members.contains(&me) {
            initial.insert(0, Member(me));
        }
        self.require_bundles(members)?;
        let msg = self.transact(|y| Lib::create(y, initial, rng))?;
        Self::outgoing(msg)
    }

    /// Adds `added` (its bundle must be known): a welcome carrying every secret the local
    /// member holds (history "shared", privacy.md §4.6). No rotation.
    pub fn add(&mut self, added: Did, rng: &Rng) -> Result<Vec<u8>, E2eeError> {
        self.require_member()?;
        self.require_bundles(&[added])?;
        let msg = self.transact(|y| Lib::add(y, Member(added), rng))?;
        Self::outgoing(msg)
    }

    /// Removes `removed`: a fresh secret to every remaining member, which the removed one
    /// never gets. Every later [`Group::encrypt`] uses it.
    pub fn remove(&mut self, removed: Did, rng: &Rng) -> Result<Vec<u8>, E2eeError> {
        self.require_member()?;
        let remaining: Vec<Did> = self
            .members()?
            .into_iter()
            .filter(|m| *m != removed)
            .collect();
        self.require_bundles(&remaining)?;
        let msg = self.transact(|y| Lib::remove(y, Member(removed), rng))?;
        Self::outgoing(msg)
    }

    /// Rotates: a fresh secret to every member (after a compromise, or by rule (a)).
    pub fn update(&mut self, rng: &Rng) -> Result<Vec<u8>, E2eeError> {
        self.require_member()?;
        let members: Vec<Did> = self.members()?.into_iter().collect();
        self.require_bundles(&members)?;
        let msg = self.transact(|y| Lib::update(y, rng))?;
        Self::outgoing(msg)
    }

    fn require_member(&self) -> Result<(), E2eeError> {
        let y = self.state()?;
        if !y.is_welcomed {
            return Err(E2eeError::NotEstablished);
        }
        if !y.dcgka.dgm.members.contains(&y.my_id) {
            return Err(E2eeError::NotAMember);
        }
        Ok(())
    }

    /// Processes another member's control message, carried by change `id` authored by
    /// `sender`, after every control message in its causal past (Tim's gate guarantees it).
    ///
    /// Applies rule (b) of privacy.md §3.3 for a message whose author is no longer a member
    /// after it: the secrets it brought are retired at once. The other half of rule (b), for a
    /// removal processed after the removed member's concurrent rotation, needs the causal
    /// order: [`Group::retire_concurrent_secrets`].
    pub fn process_control(
        &mut self,
        id: ChangeHash,
        sender: Did,
        bytes: &[u8],
    ) -> Result<Processed, E2eeError> {
        let wire: ControlWire =
            codec::decode(bytes, MAX_CONTROL_BYTES).map_err(|source| E2eeError::Malformed {
                what: "control message",
                source,
            })?;
        if wire.v != WIRE_VERSION {
            return Err(E2eeError::UnsupportedVersion {
                what: "control message",
                version: wire.v,
            });
        }
        let (me, welcomed_before, secrets_before) = {
            let y = self.state()?;
            (
                y.my_id,
                y.is_welcomed,
                y.secrets.ids().copied().collect::<HashSet<_>>(),
            )
        };
        if sender == me.0 {
            return Err(E2eeError::Protocol(
                "a member's own control message is applied when it is made, not received".into(),
            ));
        }
        let is_welcome = match &wire.control {
            ControlMessage::Create { initial_members } => initial_members.contains(&me),
            ControlMessage::Add { added } => *added == me,
            _ => false,
        };
        if !welcomed_before && !is_welcome {
            return Ok(Processed::NotYetWelcomed);
        }
        let kind = ControlKind::of(&wire.control);
        let msg = Msg {
            id: Op(id),
            sender: Member(sender),
            body: Body::Control(wire.control, wire.dms),
        };
        let outputs = self.transact(|y| Lib::receive(y, &msg))?;
        let removed_me = outputs.iter().any(|o| matches!(o, GroupOutput::Removed));

        let y = self.state()?;
        let welcomed = !welcomed_before && y.is_welcomed;
        let new_secrets: Vec<SecretId> = y
            .secrets
            .ids()
            .filter(|s| !secrets_before.contains(*s))
            .copied()
            .collect();
        let sender_left = !y.dcgka.dgm.members.contains(&Member(sender));
        let origin = Origin {
            author: Member(sender),
            op: Op(id),
        };
        // A welcome's bundle holds secrets of many authors: only a rotation's secret is the
        // sender's own.
        if !welcomed {
            for s in &new_secrets {
                self.origins.insert(*s, origin);
            }
        }
        let retired = if sender_left && !welcomed {
            self.retire(&new_secrets)?
        } else {
            Vec::new()
        };
        Ok(Processed::Applied {
            kind,
            welcomed,
            removed_me,
            new_secrets,
            retired,
        })
    }

    /// Rule (b) of privacy.md §3.3, on processing the removal of `removed`: retires every
    /// secret that `removed` brought by a control message not in the removal's causal past
    /// (`in_removal_past` answers for a change hash), since `removed` knows it. Returns the
    /// retired ids. Posts already written with them stay readable here; nothing new uses them.
    pub fn retire_concurrent_secrets(
        &mut self,
        removed: Did,
        in_removal_past: impl Fn(&ChangeHash) -> bool,
    ) -> Result<Vec<SecretId>, E2eeError> {
        let ids: Vec<SecretId> = self
            .origins
            .iter()
            .filter(|(_, o)| o.author.0 == removed && !in_removal_past(&o.op.0))
            .map(|(id, _)| *id)
            .collect();
        self.retire(&ids)
    }

    fn retire(&mut self, ids: &[SecretId]) -> Result<Vec<SecretId>, E2eeError> {
        let y = self.state.as_mut().ok_or(E2eeError::Poisoned)?;
        let mut done = Vec::new();
        for id in ids {
            let bundle = std::mem::replace(&mut y.secrets, SecretBundle::init());
            let (bundle, secret) = SecretBundle::remove(bundle, id);
            y.secrets = bundle;
            if let Some(secret) = secret {
                self.retired.insert(*id, secret);
                done.push(*id);
            }
        }
        Ok(done)
    }

    /// The secret new messages are encrypted with: the library's "latest" (greatest creation
    /// time) of the bundle, which never holds retired secrets.
    pub fn current_secret(&self) -> Result<Option<SecretId>, E2eeError> {
        Ok(self.state()?.secrets.latest().map(|s| s.id()))
    }

    /// Encrypts a message body with the current secret and a random nonce. Returns the `ct`
    /// bytes of privacy.md §4.1.
    pub fn encrypt(&self, plaintext: &[u8], rng: &Rng) -> Result<Vec<u8>, E2eeError> {
        self.require_member()?;
        let y = self.state()?;
        let secret = y.secrets.latest().ok_or(E2eeError::NotEstablished)?;
        let nonce: XAeadNonce = rng
            .random_array()
            .map_err(|e| E2eeError::Protocol(e.to_string()))?;
        let ciphertext = encrypt_data(plaintext, secret, nonce)
            .map_err(|e| E2eeError::Protocol(e.to_string()))?;
        Ok(codec::encode(&CiphertextWire(
            WIRE_VERSION,
            ByteArray::new(secret.id()),
            ByteArray::new(nonce),
            ByteBuf::from(ciphertext),
        )))
    }

    /// Decrypts `ct` bytes with the secret they name, if this member holds it (in the bundle or
    /// retired). Does not change the state.
    pub fn decrypt(&self, bytes: &[u8]) -> Result<Vec<u8>, E2eeError> {
        let CiphertextWire(v, secret_id, nonce, ciphertext) =
            codec::decode(bytes, MAX_CIPHERTEXT_BYTES).map_err(|source| E2eeError::Malformed {
                what: "ciphertext",
                source,
            })?;
        if v != WIRE_VERSION {
            return Err(E2eeError::UnsupportedVersion {
                what: "ciphertext",
                version: v,
            });
        }
        let y = self.state()?;
        let secret_id = secret_id.into_array();
        let secret = y
            .secrets
            .get(&secret_id)
            .or_else(|| self.retired.get(&secret_id))
            .ok_or_else(|| E2eeError::UnknownSecret(hex::encode(secret_id)))?;
        decrypt_data(&ciphertext, secret, nonce.into_array()).map_err(|_| E2eeError::Decrypt)
    }

    /// The whole state as bytes, for (sealed) storage.
    pub fn to_bytes(&self) -> Result<Vec<u8>, E2eeError> {
        Ok(codec::encode(&StoredRef {
            v: WIRE_VERSION,
            state: self.state()?,
            origins: &self.origins,
            retired: &self.retired,
        }))
    }

    /// A state from [`Group::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, E2eeError> {
        let stored: Stored =
            codec::decode(bytes, MAX_STATE_BYTES).map_err(|source| E2eeError::Malformed {
                what: "group state",
                source,
            })?;
        if stored.v != WIRE_VERSION {
            return Err(E2eeError::UnsupportedVersion {
                what: "group state",
                version: stored.v,
            });
        }
        Ok(Self {
            state: Some(stored.state),
            origins: stored.origins,
            retired: stored.retired,
        })
    }
}
