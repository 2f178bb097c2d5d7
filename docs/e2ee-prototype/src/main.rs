//! Tim e2ee prototype: p2panda-encryption 0.7.1 "data scheme" driven the way Tim would drive it.
//!
//! Tim has no total order, only Automerge's causal DAG, and its gate delivers every change
//! after its dependencies. So the `Ordering` here is the trivial one: messages are handed to the
//! group in causal order by the harness (as Tim's gate would), and are "ready" on arrival.
//! Member ids stand for Ed25519 did:key public keys; operation ids for Automerge change hashes.
//!
//! Run: cargo run --release --ignore-rust-version

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Instant;

use p2panda_encryption::crypto::x25519::SecretKey;
use p2panda_encryption::crypto::xchacha20::XAeadNonce;
use p2panda_encryption::data_scheme::{
    decrypt_data, ControlMessage, DirectMessage, EncryptionGroup, GroupOutput, GroupSecretId,
    GroupState,
};
use p2panda_encryption::key_bundle::Lifetime;
use p2panda_encryption::key_manager::KeyManager;
use p2panda_encryption::key_registry::KeyRegistry;
use p2panda_encryption::traits::{
    GroupMembership, GroupMessage, GroupMessageContent, IdentityHandle, OperationId, Ordering,
    PreKeyManager,
};
use p2panda_encryption::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A member: in Tim, the 32-byte Ed25519 public key of a did:key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
struct Member([u8; 32]);
impl IdentityHandle for Member {}

/// An operation id: in Tim, the hash of the Automerge change that carries the control message.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct OpId([u8; 32]);
impl OperationId for OpId {}

/// Group membership as the library sees it. In Tim this set is *derived* from the space's
/// `members` map judged by the rules; here it is a plain set fed by the control messages.
#[derive(Clone, Debug)]
struct Dgm;
#[derive(Clone, Debug, Serialize, Deserialize)]
struct DgmState {
    members: HashSet<Member>,
}
impl GroupMembership<Member, OpId> for Dgm {
    type State = DgmState;
    type Error = Infallible;
    fn create(_me: Member, initial: &[Member]) -> Result<DgmState, Infallible> {
        Ok(DgmState { members: initial.iter().copied().collect() })
    }
    fn from_welcome(me: Member, mut y: DgmState) -> Result<DgmState, Infallible> {
        // The welcome carries the adder's view from *before* its add; we are in it now.
        y.members.insert(me);
        Ok(y)
    }
    fn add(mut y: DgmState, _by: Member, added: Member, _op: OpId) -> Result<DgmState, Infallible> {
        y.members.insert(added);
        Ok(y)
    }
    fn remove(mut y: DgmState, _by: Member, removed: &Member, _op: OpId) -> Result<DgmState, Infallible> {
        y.members.remove(removed);
        Ok(y)
    }
    fn members(y: &DgmState) -> Result<HashSet<Member>, Infallible> {
        Ok(y.members.clone())
    }
}

/// What Tim would put in a change: a control message with its direct messages, or a ciphertext.
#[derive(Clone, Debug)]
struct Msg {
    id: OpId,
    sender: Member,
    body: Body,
}
#[derive(Clone, Debug)]
enum Body {
    Control(ControlMessage<Member>, Vec<DirectMessage<Member, OpId, Dgm>>),
    App { secret: GroupSecretId, nonce: XAeadNonce, ciphertext: Vec<u8> },
}
impl GroupMessage<Member, OpId, Dgm> for Msg {
    fn id(&self) -> OpId {
        self.id
    }
    fn sender(&self) -> Member {
        self.sender
    }
    fn content(&self) -> GroupMessageContent<Member> {
        match &self.body {
            Body::Control(c, _) => GroupMessageContent::Control(c.clone()),
            Body::App { secret, nonce, ciphertext } => GroupMessageContent::Application {
                group_secret_id: *secret,
                nonce: *nonce,
                ciphertext: ciphertext.clone(),
            },
        }
    }
    fn direct_messages(&self) -> Vec<DirectMessage<Member, OpId, Dgm>> {
        match &self.body {
            Body::Control(_, dms) => dms.clone(),
            Body::App { .. } => vec![],
        }
    }
}

/// Causal delivery is Tim's gate's job; the orderer only queues and hands messages out.
#[derive(Debug)]
struct Causal;
#[derive(Debug)]
struct CausalState {
    me: Member,
    seq: u64,
    welcomed: bool,
    ready: VecDeque<Msg>,
}
fn op_id(me: Member, seq: u64) -> OpId {
    // Stands in for the Automerge change hash.
    let mut h = Sha256::new();
    h.update(me.0);
    h.update(seq.to_be_bytes());
    OpId(h.finalize().into())
}
impl Ordering<Member, OpId, Dgm> for Causal {
    type State = CausalState;
    type Error = Infallible;
    type Message = Msg;
    fn next_control_message(
        mut y: CausalState,
        c: &ControlMessage<Member>,
        dms: &[DirectMessage<Member, OpId, Dgm>],
    ) -> Result<(CausalState, Msg), Infallible> {
        y.seq += 1;
        let m = Msg { id: op_id(y.me, y.seq), sender: y.me, body: Body::Control(c.clone(), dms.to_vec()) };
        Ok((y, m))
    }
    fn next_application_message(
        mut y: CausalState,
        secret: GroupSecretId,
        nonce: XAeadNonce,
        ciphertext: Vec<u8>,
    ) -> Result<(CausalState, Msg), Infallible> {
        y.seq += 1;
        let m = Msg { id: op_id(y.me, y.seq), sender: y.me, body: Body::App { secret, nonce, ciphertext } };
        Ok((y, m))
    }
    fn queue(mut y: CausalState, m: &Msg) -> Result<CausalState, Infallible> {
        y.ready.push_back(m.clone());
        Ok(y)
    }
    fn set_welcome(mut y: CausalState, _m: &Msg) -> Result<CausalState, Infallible> {
        y.welcomed = true;
        Ok(y)
    }
    fn next_ready_message(mut y: CausalState) -> Result<(CausalState, Option<Msg>), Infallible> {
        if !y.welcomed {
            return Ok((y, None));
        }
        let m = y.ready.pop_front();
        Ok((y, m))
    }
}

type Pki = KeyRegistry<Member>;
type State = GroupState<Member, OpId, Pki, Dgm, KeyManager, Causal>;
type Group = EncryptionGroup<Member, OpId, Pki, Dgm, KeyManager, Causal>;

/// Key material each member publishes (in Tim: in its own member entry, in a signed change).
fn make_member(name: u8, rng: &Rng) -> (Member, p2panda_encryption::key_manager::KeyManagerState) {
    let identity = SecretKey::from_rng(rng).unwrap();
    let km = KeyManager::init(&identity).unwrap();
    // Long-term pre-key, 90 days (Lifetime::new takes seconds).
    let km = KeyManager::rotate_prekey(km, Lifetime::new(90 * 24 * 3600), rng).unwrap();
    (Member([name; 32]), km)
}

struct World {
    rng: Rng,
    states: HashMap<Member, State>,
    bundles: Vec<(Member, p2panda_encryption::key_bundle::LongTermKeyBundle)>,
}
impl World {
    fn new(names: &[u8]) -> Self {
        let rng = Rng::default(); // OS-seeded; from_seed is test_utils-only
        let mut kms = vec![];
        let mut bundles = vec![];
        for &n in names {
            let (m, km) = make_member(n, &rng);
            bundles.push((m, KeyManager::prekey_bundle(&km).unwrap()));
            kms.push((m, km));
        }
        let mut states = HashMap::new();
        for (m, km) in kms {
            let mut pki = KeyRegistry::init();
            for (o, b) in &bundles {
                pki = KeyRegistry::add_longterm_bundle(pki, *o, b.clone()).unwrap();
            }
            let orderer = CausalState { me: m, seq: 0, welcomed: false, ready: VecDeque::new() };
            states.insert(m, Group::init(m, km, pki, DgmState { members: HashSet::new() }, orderer));
        }
        World { rng, states, bundles }
    }
    fn with<T>(&mut self, who: Member, f: impl FnOnce(State, &Rng) -> (State, T)) -> T {
        let y = self.states.remove(&who).unwrap();
        let (y, t) = f(y, &self.rng);
        self.states.insert(who, y);
        t
    }
    fn create(&mut self, who: Member, members: Vec<Member>) -> Msg {
        self.with(who, |y, r| Group::create(y, members, r).unwrap())
    }
    fn add(&mut self, who: Member, added: Member) -> Msg {
        self.with(who, |y, r| Group::add(y, added, r).unwrap())
    }
    fn remove(&mut self, who: Member, removed: Member) -> Msg {
        self.with(who, |y, r| Group::remove(y, removed, r).unwrap())
    }
    fn update(&mut self, who: Member) -> Msg {
        self.with(who, |y, r| Group::update(y, r).unwrap())
    }
    fn post(&mut self, who: Member, text: &str) -> Msg {
        self.with(who, |y, r| Group::send(y, text.as_bytes(), r).unwrap())
    }
    /// Delivers one message to one member through `EncryptionGroup::receive`.
    /// The API consumes the state; on error it is gone (a node would keep its last committed
    /// copy in sled), so errors are only expected where the scenario asserts them and the
    /// member is not used afterwards.
    fn deliver(&mut self, to: Member, m: &Msg) -> Result<Vec<Vec<u8>>, String> {
        let y = self.states.remove(&to).unwrap();
        match Group::receive(y, m) {
            Ok((y, outs)) => {
                self.states.insert(to, y);
                Ok(outs
                    .into_iter()
                    .filter_map(|o| match o {
                        GroupOutput::Application { plaintext } => Some(plaintext),
                        _ => None,
                    })
                    .collect())
            }
            Err(e) => Err(format!("{e:?}")),
        }
    }
    /// Can `who` read application message `m` with any secret it holds? (No state change.)
    fn can_read(&self, who: Member, m: &Msg) -> Result<String, String> {
        let Body::App { secret, nonce, ciphertext } = &m.body else { panic!("not a post") };
        let y = self.states.get(&who).unwrap();
        if let Some(s) = y.secrets.get(secret) {
            return decrypt_data(ciphertext, s, *nonce)
                .map(|p| String::from_utf8_lossy(&p).into_owned())
                .map_err(|e| format!("{e:?}"));
        }
        for s in y.secrets.secrets() {
            if let Ok(p) = decrypt_data(ciphertext, s, *nonce) {
                return Ok(String::from_utf8_lossy(&p).into_owned());
            }
        }
        Err(format!("none of its {} secrets is the one used (unknown group secret)", y.secrets.len()))
    }
    fn deliver_all(&mut self, to: &[Member], m: &Msg) {
        for &t in to {
            self.deliver(t, m).unwrap();
        }
    }
    fn bundle_of(&self, m: Member) -> p2panda_encryption::key_bundle::LongTermKeyBundle {
        self.bundles.iter().find(|(o, _)| *o == m).unwrap().1.clone()
    }
}

fn text(v: &[Vec<u8>]) -> Vec<String> {
    v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect()
}

fn main() {
    let (a, b, c, d) = (Member([1; 32]), Member([2; 32]), Member([3; 32]), Member([4; 32]));

    // ---------------- 1. three members, each posts, the others read ----------------
    let mut w = World::new(&[1, 2, 3]);
    let create = w.create(a, vec![a, b, c]);
    w.deliver_all(&[b, c], &create);
    for (who, others) in [(a, [b, c]), (b, [a, c]), (c, [a, b])] {
        let msg = format!("hello from {}", who.0[0]);
        let m = w.post(who, &msg);
        for o in others {
            assert_eq!(text(&w.deliver(o, &m).unwrap()), vec![msg.clone()]);
        }
    }
    println!("1. A, B, C each posted; the other two decrypted every post");

    // ---------------- 2. A removes C; A posts; B reads, C cannot ----------------
    let rm = w.remove(a, c);
    w.deliver_all(&[b, c], &rm); // C learns it was removed (and no new secret)
    let after = w.post(a, "after C left");
    assert_eq!(text(&w.deliver(b, &after).unwrap()), vec!["after C left".to_string()]);
    let err = w.can_read(c, &after).unwrap_err();
    println!("2. A removed C; A's next post: B decrypts it, C cannot: {err}");
    let err = w.deliver(c, &after).unwrap_err();
    println!("   and EncryptionGroup::receive at C fails with: {err}");
    // And a relaying node with no member state sees only (secret id, nonce, ciphertext).

    // ---------------- 3. concurrent: A removes C while B posts ----------------
    let mut w = World::new(&[1, 2, 3]);
    let create = w.create(a, vec![a, b, c]);
    w.deliver_all(&[b, c], &create);
    let rm = w.remove(a, c); // A's branch
    let bpost = w.post(b, "B, concurrent with the removal"); // B's branch: B has not seen rm
    // Causal delivery in either order is allowed; here A gets B's post, B gets the removal.
    assert_eq!(text(&w.deliver(a, &bpost).unwrap()).len(), 1);
    assert_eq!(text(&w.deliver(c, &bpost).unwrap()).len(), 1);
    w.deliver_all(&[b, c], &rm);
    let apost = w.post(a, "A, after both");
    let bpost2 = w.post(b, "B, after seeing the removal");
    assert_eq!(text(&w.deliver(b, &apost).unwrap()).len(), 1);
    assert_eq!(text(&w.deliver(a, &bpost2).unwrap()).len(), 1);
    assert!(w.can_read(c, &apost).is_err());
    assert!(w.can_read(c, &bpost2).is_err());
    println!(
        "3. A removes C || B posts: everyone (C too) reads B's concurrent post (it was written \
         before B knew); after the removal neither A's nor B's posts decrypt for C"
    );

    // ---------------- 4. concurrent: A removes C while B adds D ----------------
    let mut w = World::new(&[1, 2, 3, 4]);
    let create = w.create(a, vec![a, b, c]);
    w.deliver_all(&[b, c], &create);
    let rm = w.remove(a, c); // A's branch, new secret S_A to B only
    let add = w.add(b, d); // B's branch, D's welcome carries B's bundle (no S_A)
    w.deliver_all(&[a, d], &add);
    w.deliver_all(&[b, d], &rm);
    let apost = w.post(a, "A, after the merge");
    let d_res = w.can_read(d, &apost);
    println!(
        "4. A removes C || B adds D: A's next post for D: {}",
        match &d_res {
            Ok(p) => format!("decrypted {p:?}"),
            Err(e) => format!("FAILS for D ({e}): D never got A's removal secret"),
        }
    );
    // Remedy Tim must apply: a member that sees concurrent membership operations issues an
    // update (a fresh secret to the members it now knows).
    let upd = w.update(b);
    w.deliver_all(&[a, d], &upd);
    let apost2 = w.post(a, "A, after B's update");
    assert_eq!(text(&w.deliver(d, &apost2).unwrap()).len(), 1);
    assert_eq!(text(&w.deliver(b, &apost2).unwrap()).len(), 1);
    assert!(w.can_read(c, &apost2).is_err());
    println!("   after B's update: D and B decrypt A's post, C still cannot");

    // ---------------- 5. concurrent: A removes C while C rotates (update) ----------------
    let mut w = World::new(&[1, 2, 3]);
    let create = w.create(a, vec![a, b, c]);
    w.deliver_all(&[b, c], &create);
    let rm = w.remove(a, c);
    let cupd = w.update(c); // C has not seen its removal: sends S_C (later timestamp) to A, B
    w.deliver_all(&[a, b], &cupd);
    w.deliver_all(&[b, c], &rm);
    let apost = w.post(a, "A, after removal and C's concurrent update");
    let c_res = w.can_read(c, &apost);
    println!(
        "5. A removes C || C updates: A's next post for C: {}",
        match &c_res {
            Ok(p) => format!("C DECRYPTS {p:?} (PCS hole: 'latest' secret is by timestamp; C's is newer)"),
            Err(e) => format!("fails ({e})"),
        }
    );
    // Remedy: the application drops secrets introduced by a member no longer in the group,
    // then (re-)issues an update. Tim knows which control message introduced which secret id.
    if c_res.is_ok() {
        let cs: GroupSecretId = match &apost.body {
            Body::App { secret, .. } => *secret,
            _ => unreachable!(),
        };
        for who in [a, b] {
            w.with(who, |y, _| {
                (Group::update_secrets(y, |s| p2panda_encryption::data_scheme::SecretBundle::remove(s, &cs).0), ())
            });
        }
        let upd = w.update(a);
        w.deliver_all(&[b], &upd);
        w.deliver(c, &upd).unwrap();
        let apost2 = w.post(a, "A, after dropping C's secret and updating");
        assert_eq!(text(&w.deliver(b, &apost2).unwrap()).len(), 1);
        assert!(w.can_read(c, &apost2).is_err());
        println!("   after A and B drop C's secret and A updates: B reads, C cannot");
    }

    // ---------------- 6. timings (release) ----------------
    timings(&[a, b, c]);
    let _ = w.bundle_of(a);
}

fn timings(_m: &[Member]) {
    const N: usize = 2000;
    let (a, b) = (Member([1; 32]), Member([2; 32]));
    let body = "x".repeat(200);
    let mut w = World::new(&[1, 2, 3]);
    let create = w.create(a, vec![a, b, Member([3; 32])]);
    w.deliver_all(&[b, Member([3; 32])], &create);
    let t = Instant::now();
    let msgs: Vec<Msg> = (0..N).map(|_| w.post(a, &body)).collect();
    let enc = t.elapsed() / N as u32;
    let t = Instant::now();
    for m in &msgs {
        w.deliver(b, m).unwrap();
    }
    let dec = t.elapsed() / N as u32;
    // Raw AEAD decrypt without the group state machinery (no orderer, no state passing).
    let yb = w.states.get(&b).unwrap();
    let t = Instant::now();
    for m in &msgs {
        if let Body::App { secret, nonce, ciphertext } = &m.body {
            decrypt_data(ciphertext, yb.secrets.get(secret).unwrap(), *nonce).unwrap();
        }
    }
    let raw = t.elapsed() / N as u32;
    println!("6. timings, 200-byte post, 3-member group, mean of {N}:");
    println!("   encrypt (EncryptionGroup::send)                       {enc:?}");
    println!("   decrypt (EncryptionGroup::receive)                     {dec:?}");
    println!("   decrypt (decrypt_data alone, XChaCha20-Poly1305)       {raw:?}");

    for size in [3usize, 10, 50, 100] {
        let names: Vec<u8> = (1..=size as u8).collect();
        let members: Vec<Member> = names.iter().map(|&n| Member([n; 32])).collect();
        let mut w = World::new(&names);
            let t = Instant::now();
        let create = w.create(members[0], members.clone());
        let t_create = t.elapsed();
        let t = Instant::now();
        w.deliver(members[1], &create).unwrap();
        let t_recv_create = t.elapsed();
        for &m in &members[2..] {
            w.deliver(m, &create).unwrap();
        }
        // remove the last member: a fresh secret to n-2 members
        let last = *members.last().unwrap();
        let t = Instant::now();
        let rm = w.remove(members[0], last);
        let t_remove = t.elapsed();
        let t = Instant::now();
        w.deliver(members[1], &rm).unwrap();
        let t_recv_remove = t.elapsed();
        // add it back (welcome with the whole secret bundle)
        let t = Instant::now();
        let add = w.add(members[0], last);
        let t_add = t.elapsed();
        let t = Instant::now();
        w.deliver(members[1], &add).unwrap();
        let t_recv_add = t.elapsed();
        let t = Instant::now();
        let r = w.deliver(last, &add);
        let t_welcome = t.elapsed();
        r.unwrap();
        let rm_bytes: usize = match &rm.body {
            Body::Control(_, dms) => serde_json::to_vec(dms).unwrap().len(),
            _ => 0,
        };
        println!(
            "   n={size:>3}: create {t_create:?} (recv {t_recv_create:?}); remove {t_remove:?} (recv {t_recv_remove:?}, \
             direct msgs {rm_bytes} B as JSON); add {t_add:?} (recv {t_recv_add:?}, welcome {t_welcome:?})"
        );
    }
}
