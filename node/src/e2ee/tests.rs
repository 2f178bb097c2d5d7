//! The prototype's scenarios (docs/privacy.md §2.4) against [`Group`], with Tim's rules of §3.3,
//! and hostile inputs. Real cryptography throughout; the RNG is the OS's (the library offers no
//! seeded one outside its test features), so the tests assert outcomes, not bytes.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tim_protocol::{ChangeHash, Did};

use super::*;

/// A control message as a change would carry it: its hash, author and bytes.
#[derive(Clone)]
struct Ctl {
    id: ChangeHash,
    author: Did,
    bytes: Vec<u8>,
}

struct Net {
    rng: Rng,
    groups: BTreeMap<Did, Group>,
    bundles: BTreeMap<Did, Bundle>,
}

fn did(n: u8) -> Did {
    Did::from_key(&SigningKey::from_bytes(&[n; 32]).verifying_key())
}

impl Net {
    /// `n` timites, each with fresh keys and everyone's published bundle.
    fn new(n: u8) -> (Self, Vec<Did>) {
        let rng = Rng::default();
        let dids: Vec<Did> = (1..=n).map(did).collect();
        let keys: Vec<Keys> = dids.iter().map(|_| Keys::generate(&rng).unwrap()).collect();
        let bundles: BTreeMap<Did, Bundle> = dids
            .iter()
            .zip(&keys)
            .map(|(d, k)| (*d, k.bundle().unwrap()))
            .collect();
        let mut groups = BTreeMap::new();
        for (d, k) in dids.iter().zip(&keys) {
            let mut g = Group::new(*d, k);
            for (o, b) in &bundles {
                if o != d {
                    g.add_bundle(*o, b).unwrap();
                }
            }
            groups.insert(*d, g);
        }
        (
            Net {
                rng,
                groups,
                bundles,
            },
            dids,
        )
    }

    fn g(&mut self, who: Did) -> &mut Group {
        self.groups.get_mut(&who).unwrap()
    }

    fn ctl(author: Did, bytes: Vec<u8>) -> Ctl {
        let id = ChangeHash::from(<[u8; 32]>::from(Sha256::digest(&bytes)));
        Ctl { id, author, bytes }
    }

    /// Three members A, B and C in a group A created, the create delivered to B and C.
    fn three() -> (Self, Did, Did, Did) {
        let (mut n, d) = Net::new(3);
        let (a, b, c) = (d[0], d[1], d[2]);
        let create = n.create(a, &[a, b, c]);
        n.deliver_all(&[b, c], &create);
        (n, a, b, c)
    }

    fn create(&mut self, who: Did, members: &[Did]) -> Ctl {
        let rng = Rng::from_rng(&self.rng).unwrap();
        Self::ctl(who, self.g(who).create(members, &rng).unwrap())
    }

    fn add(&mut self, who: Did, added: Did) -> Ctl {
        let rng = Rng::from_rng(&self.rng).unwrap();
        Self::ctl(who, self.g(who).add(added, &rng).unwrap())
    }

    fn remove(&mut self, who: Did, removed: Did) -> Ctl {
        let rng = Rng::from_rng(&self.rng).unwrap();
        Self::ctl(who, self.g(who).remove(removed, &rng).unwrap())
    }

    fn update(&mut self, who: Did) -> Ctl {
        let rng = Rng::from_rng(&self.rng).unwrap();
        Self::ctl(who, self.g(who).update(&rng).unwrap())
    }

    fn deliver(&mut self, to: Did, c: &Ctl) -> Processed {
        self.g(to)
            .process_control(c.id, c.author, &c.bytes)
            .unwrap_or_else(|e| panic!("{to:?} processing {:?}'s message: {e}", c.author))
    }

    fn deliver_all(&mut self, to: &[Did], c: &Ctl) {
        for &t in to {
            self.deliver(t, c);
        }
    }

    fn post(&self, who: Did, text: &str) -> Vec<u8> {
        self.groups[&who]
            .encrypt(text.as_bytes(), &self.rng)
            .unwrap()
    }

    fn read(&self, who: Did, ct: &[u8]) -> Result<String, E2eeError> {
        self.groups[&who]
            .decrypt(ct)
            .map(|p| String::from_utf8(p).unwrap())
    }

    /// Every member's state through bytes and back.
    fn round_trip(&mut self) {
        for g in self.groups.values_mut() {
            *g = Group::from_bytes(&g.to_bytes().unwrap()).unwrap();
        }
    }
}

/// Three members: each posts, the other two read.
#[test]
fn three_members_read_each_other() {
    let (mut n, d) = Net::new(3);
    let (a, b, c) = (d[0], d[1], d[2]);
    let create = n.create(a, &[a, b, c]);
    for who in [b, c] {
        assert!(matches!(
            n.deliver(who, &create),
            Processed::Applied { welcomed: true, .. }
        ));
    }
    for who in [a, b, c] {
        assert_eq!(n.g(who).members().unwrap(), BTreeSet::from([a, b, c]));
        let text = format!("hello from {who}");
        let ct = n.post(who, &text);
        for other in [a, b, c] {
            assert_eq!(n.read(other, &ct).unwrap(), text);
        }
    }
}

/// A removed member reads nothing written after its removal; the others do.
#[test]
fn removed_member_cannot_read_after_removal() {
    let (mut n, a, b, c) = Net::three();
    let before = n.post(b, "before");
    let rm = n.remove(a, c);
    assert!(matches!(
        n.deliver(b, &rm),
        Processed::Applied {
            removed_me: false,
            ..
        }
    ));
    assert!(matches!(
        n.deliver(c, &rm),
        Processed::Applied {
            removed_me: true,
            ..
        }
    ));
    for (who, text) in [(a, "A after"), (b, "B after")] {
        let ct = n.post(who, text);
        assert_eq!(n.read(a, &ct).unwrap(), text);
        assert_eq!(n.read(b, &ct).unwrap(), text);
        assert!(matches!(n.read(c, &ct), Err(E2eeError::UnknownSecret(_))));
    }
    // What C had stays readable to it; it can no longer write or rotate.
    assert_eq!(n.read(c, &before).unwrap(), "before");
    assert!(matches!(
        n.g(c).encrypt(b"x", &Rng::default()),
        Err(E2eeError::NotAMember)
    ));
    assert!(matches!(
        n.g(c).update(&Rng::default()),
        Err(E2eeError::NotAMember)
    ));
}

/// A removes C ∥ B posts: everyone, C too, reads B's concurrent post, in either delivery
/// order; nothing after the removal reaches C.
#[test]
fn remove_concurrent_with_post() {
    for removal_first_at_b in [false, true] {
        let (mut n, a, b, c) = Net::three();
        let rm = n.remove(a, c);
        let concurrent = n.post(b, "B, concurrent with the removal");
        if removal_first_at_b {
            n.deliver_all(&[b, c], &rm);
        }
        for who in [a, b, c] {
            assert_eq!(
                n.read(who, &concurrent).unwrap(),
                "B, concurrent with the removal"
            );
        }
        if !removal_first_at_b {
            n.deliver_all(&[b, c], &rm);
        }
        let a_after = n.post(a, "A after");
        let b_after = n.post(b, "B after seeing the removal");
        assert_eq!(n.read(b, &a_after).unwrap(), "A after");
        assert_eq!(n.read(a, &b_after).unwrap(), "B after seeing the removal");
        assert!(n.read(c, &a_after).is_err());
        assert!(n.read(c, &b_after).is_err());
    }
}

/// A removes C ∥ B adds D: D's welcome lacks A's removal secret, so D cannot read A's next
/// post; rule (a) picks one of the authors to update, after which D and B read A, C does not.
#[test]
fn remove_concurrent_with_add_then_rule_a_update() {
    let (mut n, d) = Net::new(4);
    let (a, b, c, dd) = (d[0], d[1], d[2], d[3]);
    let create = n.create(a, &[a, b, c]);
    n.deliver_all(&[b, c], &create);
    let rm = n.remove(a, c);
    let add = n.add(b, dd);
    // Before its welcome, D keeps the removal for later; after, the removal is concurrent with
    // the add, so the engine hands it to D again.
    assert_eq!(n.deliver(dd, &rm), Processed::NotYetWelcomed);
    assert!(matches!(
        n.deliver(dd, &add),
        Processed::Applied { welcomed: true, .. }
    ));
    n.deliver(a, &add);
    n.deliver_all(&[b, dd], &rm);
    n.deliver(c, &add);
    let a_post = n.post(a, "A, after the merge");
    assert!(matches!(
        n.read(dd, &a_post),
        Err(E2eeError::UnknownSecret(_))
    ));

    // Rule (a): the two membership operations are concurrent; authors A and B.
    let members = n.g(a).members().unwrap();
    assert_eq!(members, BTreeSet::from([a, b, dd]));
    for who in [a, b, dd] {
        assert_eq!(n.g(who).members().unwrap(), members, "views agree");
    }
    let issuer = update_issuer(&members, &[a, b]).unwrap();
    assert!(issuer == a || issuer == b);
    assert_eq!(update_issuer(&members, &[b, a]), Some(issuer), "order-free");
    let upd = n.update(issuer);
    let others: Vec<Did> = [a, b, dd, c].into_iter().filter(|m| *m != issuer).collect();
    n.deliver_all(&others, &upd);
    let a_post = n.post(a, "A, after the update");
    assert_eq!(n.read(dd, &a_post).unwrap(), "A, after the update");
    assert_eq!(n.read(b, &a_post).unwrap(), "A, after the update");
    assert!(n.read(c, &a_post).is_err());
}

/// A removes C ∥ C rotates. Without Tim's rule (b), C's newer secret would become the one A
/// encrypts with; with it, C reads nothing A or B write after the removal, while a post B
/// wrote with C's secret before it knew of the removal stays readable to A and B.
#[test]
fn remove_concurrent_with_removed_members_update() {
    for removal_first_at_b in [false, true] {
        let (mut n, a, b, c) = Net::three();
        let rm = n.remove(a, c);
        let c_upd = n.update(c);

        // A made the removal, so C's rotation arrives from a non-member: retired at once.
        let Processed::Applied {
            new_secrets,
            retired,
            ..
        } = n.deliver(a, &c_upd)
        else {
            panic!("A is a member");
        };
        assert_eq!(new_secrets.len(), 1);
        assert_eq!(retired, new_secrets);

        let b_concurrent;
        if removal_first_at_b {
            b_concurrent = n.post(b, "B, before it knew");
            n.deliver(b, &rm);
            let Processed::Applied { retired, .. } = n.deliver(b, &c_upd) else {
                panic!("B is a member");
            };
            assert_eq!(retired, new_secrets, "retired on arrival after the removal");
        } else {
            n.deliver(b, &c_upd);
            // B now encrypts with C's secret: the window rules.md §6 leaves to concurrent posts.
            b_concurrent = n.post(b, "B, before it knew");
            assert_eq!(n.g(b).current_secret().unwrap(), Some(new_secrets[0]));
            let Processed::Applied { kind, .. } = n.deliver(b, &rm) else {
                panic!("B is a member");
            };
            assert_eq!(kind, ControlKind::Remove { removed: c });
            // Rule (b): C's update is not in the removal's causal past.
            let rm_id = rm.id;
            let retired = n
                .g(b)
                .retire_concurrent_secrets(c, |op| *op != c_upd.id && *op != rm_id)
                .unwrap();
            assert_eq!(retired, new_secrets);
        }
        n.deliver(c, &rm);
        for who in [a, b] {
            assert_ne!(n.g(who).current_secret().unwrap(), Some(new_secrets[0]));
            assert_eq!(n.read(who, &b_concurrent).unwrap(), "B, before it knew");
        }
        for (who, text) in [(a, "A after"), (b, "B after")] {
            let ct = n.post(who, text);
            assert!(n.read(c, &ct).is_err(), "C reads {text:?}");
            for reader in [a, b] {
                assert_eq!(n.read(reader, &ct).unwrap(), text);
            }
        }
        // The update rule (a) asks for: A (C is gone); C still cannot read after it.
        let members = n.g(b).members().unwrap();
        assert_eq!(update_issuer(&members, &[a, c]), Some(a));
        let upd = n.update(a);
        n.deliver_all(&[b, c], &upd);
        let ct = n.post(a, "A after the update");
        assert_eq!(n.read(b, &ct).unwrap(), "A after the update");
        assert!(n.read(c, &ct).is_err());
    }
}

/// The removed member's rotation, without rule (b), is what the library alone would use: this
/// is the hole the rule closes (privacy.md §2.4 scenario 5). Guards the test above against
/// passing for another reason.
#[test]
fn without_rule_b_the_removed_members_secret_would_be_current() {
    let (mut n, _, b, c) = Net::three();
    let c_upd = n.update(c);
    let Processed::Applied { new_secrets, .. } = n.deliver(b, &c_upd) else {
        panic!("B is a member");
    };
    // C is still a member here, so nothing retires its secret: B encrypts with it.
    assert_eq!(n.g(b).current_secret().unwrap(), Some(new_secrets[0]));
    let ct = n.post(b, "B");
    assert_eq!(n.read(c, &ct).unwrap(), "B");
}

/// A member removing itself knows the secret its removal brings: the others retire it (rule
/// (b)), and rule (a)'s update is what gives them a secret the leaver lacks.
#[test]
fn a_leavers_own_removal_secret_is_retired() {
    let (mut n, a, b, c) = Net::three();
    let leave = n.remove(c, c);
    for who in [a, b] {
        let Processed::Applied {
            new_secrets,
            retired,
            ..
        } = n.deliver(who, &leave)
        else {
            panic!("a member");
        };
        assert_eq!(retired, new_secrets);
    }
    let members = n.g(a).members().unwrap();
    let issuer = update_issuer(&members, &[c]).unwrap();
    assert!(issuer == a || issuer == b);
    let upd = n.update(issuer);
    let other = if issuer == a { b } else { a };
    n.deliver_all(&[other, c], &upd);
    let ct = n.post(other, "after the leave");
    assert_eq!(n.read(issuer, &ct).unwrap(), "after the leave");
    assert!(n.read(c, &ct).is_err());
}

/// Every member's state and keys survive bytes mid-conversation.
#[test]
fn state_survives_round_trip_mid_conversation() {
    let (mut n, d) = Net::new(4);
    let (a, b, c, dd) = (d[0], d[1], d[2], d[3]);
    let create = n.create(a, &[a, b, c]);
    n.deliver_all(&[b, c], &create);
    let early = n.post(c, "early");
    n.round_trip();
    let add = n.add(b, dd);
    n.deliver_all(&[a, c, dd], &add);
    n.round_trip();
    assert_eq!(n.read(dd, &early).unwrap(), "early", "shared history");
    let rm = n.remove(a, c);
    n.round_trip();
    n.deliver_all(&[b, c, dd], &rm);
    n.round_trip();
    let ct = n.post(dd, "late");
    for who in [a, b, dd] {
        assert_eq!(n.read(who, &ct).unwrap(), "late");
    }
    assert!(n.read(c, &ct).is_err());

    let rng = Rng::default();
    let keys = Keys::generate(&rng).unwrap();
    let again = Keys::from_bytes(&keys.to_bytes()).unwrap();
    assert_eq!(again.bundle().unwrap(), keys.bundle().unwrap());
    let bundle = Bundle::from_bytes(&keys.bundle().unwrap().to_bytes()).unwrap();
    assert_eq!(bundle, keys.bundle().unwrap());
    assert!(matches!(
        Group::from_bytes(b"not a state"),
        Err(E2eeError::Malformed { .. })
    ));
}

/// Hostile or broken input gives an error, never a panic, and leaves the group working.
#[test]
fn hostile_input_gives_errors_and_keeps_the_group() {
    let (mut n, d) = Net::new(4);
    let (a, b, c, x) = (d[0], d[1], d[2], d[3]);
    let create = n.create(a, &[a, b, c]);
    n.deliver_all(&[b, c], &create);
    let id = ChangeHash::from([7; 32]);

    for garbage in [&b""[..], b"\xff\xff", b"garbage", &[0x80; 100]] {
        assert!(matches!(
            n.g(b).process_control(id, a, garbage),
            Err(E2eeError::Malformed { .. })
        ));
    }
    assert!(matches!(
        n.g(b)
            .process_control(id, a, &vec![0; MAX_CONTROL_BYTES + 1]),
        Err(E2eeError::Malformed { .. })
    ));
    // A second create once established: refused by the library, state restored.
    let other_create = Net::new(4).0.create(x, &[x, b]);
    assert!(matches!(
        n.g(b)
            .process_control(other_create.id, x, &other_create.bytes),
        Err(E2eeError::AlreadyEstablished)
    ));
    // One's own message back: refused.
    assert!(n.g(a).process_control(create.id, a, &create.bytes).is_err());

    // Every single-byte corruption of a real removal, at B: an error or a result, never a
    // panic; after an error the group still takes the genuine message.
    let saved = n.g(b).to_bytes().unwrap();
    let rm = n.remove(a, c);
    let mut refused = 0;
    for i in 0..rm.bytes.len() {
        let mut bad = rm.bytes.clone();
        bad[i] ^= 0x5a;
        let mut g = Group::from_bytes(&saved).unwrap();
        if g.process_control(rm.id, a, &bad).is_err() {
            refused += 1;
            g.process_control(rm.id, a, &rm.bytes).unwrap();
            let ct = n.post(a, "after");
            assert_eq!(g.decrypt(&ct).unwrap(), "after".as_bytes());
        }
    }
    assert!(refused > 0);
    n.deliver(b, &rm);

    // Ciphertexts: garbage, a flipped bit, an unknown secret, a wrong version.
    let ct = n.post(a, "hello");
    assert!(matches!(
        n.read(b, b"junk"),
        Err(E2eeError::Malformed { .. })
    ));
    let mut flipped = ct.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(matches!(n.read(b, &flipped), Err(E2eeError::Decrypt)));
    let (mut other, od) = Net::new(2);
    let oc = other.create(od[0], &[od[0], od[1]]);
    other.deliver(od[1], &oc);
    let foreign = other.post(od[0], "elsewhere");
    assert!(matches!(
        n.read(b, &foreign),
        Err(E2eeError::UnknownSecret(_))
    ));
    let mut versioned = ct.clone();
    versioned[1] = 2; // [0x84, 0x01, …]: the version is the array's first item
    assert!(matches!(
        n.read(b, &versioned),
        Err(E2eeError::UnsupportedVersion { .. })
    ));
    assert_eq!(n.read(b, &ct).unwrap(), "hello");

    // Operations that cannot work yet.
    let fresh = Group::new(x, &Keys::generate(&Rng::default()).unwrap());
    assert!(matches!(
        fresh.encrypt(b"x", &Rng::default()),
        Err(E2eeError::NotEstablished)
    ));
}

/// Bundles: a changed identity key, a broken signature, garbage, and a missing bundle are
/// refused with their own errors.
#[test]
fn bundle_checks() {
    let (mut n, d) = Net::new(3);
    let (a, b, c) = (d[0], d[1], d[2]);
    let rng = Rng::default();
    let new_keys = Keys::generate(&rng).unwrap();
    assert!(matches!(
        n.g(a).add_bundle(b, &new_keys.bundle().unwrap()),
        Err(E2eeError::IdentityKeyChanged { member }) if member == b
    ));
    // The same bundle again is fine (a re-publication).
    let same = n.bundles[&b].clone();
    n.g(a).add_bundle(b, &same).unwrap();

    let mut bytes = n.bundles[&c].to_bytes();
    let last = bytes.len() - 1;
    bytes[last] ^= 1; // inside the signature
    let tampered = Bundle::from_bytes(&bytes).unwrap();
    let fresh_keys = Keys::generate(&rng).unwrap();
    let mut fresh = Group::new(a, &fresh_keys);
    assert!(matches!(
        fresh.add_bundle(c, &tampered),
        Err(E2eeError::InvalidBundle { .. })
    ));
    assert!(matches!(
        Bundle::from_bytes(b"nope"),
        Err(E2eeError::Malformed { .. })
    ));
    assert!(matches!(
        fresh.create(&[a, c], &rng),
        Err(E2eeError::MissingBundle(m)) if m == c
    ));
    assert!(!fresh.is_established().unwrap());
    fresh.add_bundle(c, &n.bundles[&c]).unwrap();
    fresh.create(&[a, c], &rng).unwrap();
    assert!(fresh.is_established().unwrap());
    assert!(matches!(
        fresh.create(&[a, c], &rng),
        Err(E2eeError::AlreadyEstablished)
    ));
}

/// Rule (a) picks the smallest author still a member, else the smallest member.
#[test]
fn update_issuer_is_deterministic() {
    let d: Vec<Did> = (1..=4).map(did).collect();
    let mut sorted = d.clone();
    sorted.sort();
    let members: BTreeSet<Did> = sorted[..3].iter().copied().collect();
    assert_eq!(
        update_issuer(&members, &[sorted[2], sorted[1]]),
        Some(sorted[1])
    );
    assert_eq!(
        update_issuer(&members, &[sorted[3], sorted[2]]),
        Some(sorted[2])
    );
    assert_eq!(update_issuer(&members, &[sorted[3]]), Some(sorted[0]));
    assert_eq!(update_issuer(&BTreeSet::new(), &[sorted[0]]), None);
}
