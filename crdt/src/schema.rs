//! The schema of a space document, in one table: every root container, its Automerge type, the
//! schema version that introduced it, and the policy (the rule function of [`crate::rules`])
//! that judges writes into it.
//!
//! A space records its schema version in `meta.version`. The genesis creates the containers of
//! its version (today [`GENESIS_VERSION`]); a newer node brings more containers to an existing
//! space with a **migration**: one signed change, by a timite with the `migrate` permission
//! (admins and the owner), that makes exactly the containers the versions between the space's
//! and the target introduced, empty and of their types, and raises `meta.version`. Nothing else
//! ever writes at the document root. A node refuses a migration to a version it does not know
//! ([`crate::Rejection::UnknownSchema`]); a newer node adds rows to [`CONTAINERS`] and raises
//! [`LATEST_VERSION`], and the same rule accepts it (docs/rules.md §4.1).
//!
//! Every list of containers in this crate (the genesis `Space::create` writes, `check_genesis`,
//! where an object sits for the rules, the readers of `Space`) comes from [`CONTAINERS`].

use automerge::ObjType;

/// The schema version every space starts at: `Space::create` writes it in `meta.version`.
pub const GENESIS_VERSION: u64 = 1;

/// The newest schema version this node knows: it judges migrations up to it and refuses
/// migrations beyond it.
pub const LATEST_VERSION: u64 = 12;

/// The Automerge type of a root container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A map.
    Map,
    /// A list.
    List,
}

impl Kind {
    /// The Automerge object type.
    pub fn obj_type(self) -> ObjType {
        match self {
            Self::Map => ObjType::Map,
            Self::List => ObjType::List,
        }
    }

    /// Whether an Automerge object type is this kind.
    pub fn is(self, t: ObjType) -> bool {
        matches!(
            (self, t),
            (Self::Map, ObjType::Map) | (Self::List, ObjType::List)
        )
    }
}

/// Which rule judges the writes into a container: one `check_*` function of [`crate::rules`]
/// per policy (docs/rules.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Policy {
    /// The space's descriptive fields: admins, known keys only.
    Meta,
    /// Member entries: self-join, leave, roles, kicks.
    Members,
    /// Messages: members post, authors and moderators delete.
    Timeline,
    /// Invites: admins.
    Invites,
    /// Ratings between members.
    Ratings,
    /// Records of credentials issued in the space's name: admins.
    Issued,
    /// Revocations: admins, final.
    StatusList,
    /// Role definitions (ranks and permissions): timites with the `roles` permission.
    Roles,
    /// Members' public encryption keys: each member its own (docs/privacy.md §4.2).
    Keys,
    /// The encryption group's control messages: members, insert only (docs/privacy.md §4.2).
    Group,
    /// Ability declarations: each provider its own (docs/abilities.md).
    Abilities,
    /// Ability requests and their steps: requester, claimant (docs/abilities.md).
    Requests,
    /// Revocation notices: issuers' signed status lists that revoke a presented credential,
    /// put by any member, never changed (docs/passports.md).
    StatusNotices,
    /// Chains of ability requests: signed plans, each step's output the next one's input
    /// (docs/abilities.md).
    Chains,
    /// Published personas: content-addressed, signed agent descriptions, put by members and
    /// never changed; their author or an admin deletes them (docs/agents.md).
    Personas,
    /// Proposals and their votes: decisions the space takes by vote (docs/governance.md).
    Proposals,
}

/// A root container of the space document.
#[derive(Debug)]
#[non_exhaustive]
pub struct Container {
    /// Its key at the document root.
    pub name: &'static str,
    /// Its Automerge type.
    pub kind: Kind,
    /// The schema version that introduced it.
    pub since: u64,
    /// The rule that judges writes into it.
    pub policy: Policy,
}

/// `meta`: name, purpose, creator, version, visibility, requirements.
pub const META: Container = Container {
    name: "meta",
    kind: Kind::Map,
    since: 1,
    policy: Policy::Meta,
};
/// `members`: DID → member entry.
pub const MEMBERS: Container = Container {
    name: "members",
    kind: Kind::Map,
    since: 1,
    policy: Policy::Members,
};
/// `timeline`: the messages, in order.
pub const TIMELINE: Container = Container {
    name: "timeline",
    kind: Kind::List,
    since: 1,
    policy: Policy::Timeline,
};
/// `invites`: DID → invite.
pub const INVITES: Container = Container {
    name: "invites",
    kind: Kind::Map,
    since: 1,
    policy: Policy::Invites,
};
/// `ratings`: `"<rater> <ratee>"` → 1 to 5.
pub const RATINGS: Container = Container {
    name: "ratings",
    kind: Kind::Map,
    since: 1,
    policy: Policy::Ratings,
};
/// `issued`: credential id → issuance record.
pub const ISSUED: Container = Container {
    name: "issued",
    kind: Kind::Map,
    since: 1,
    policy: Policy::Issued,
};
/// `status_list`: status index → revoked.
pub const STATUS_LIST: Container = Container {
    name: "status_list",
    kind: Kind::Map,
    since: 1,
    policy: Policy::StatusList,
};
/// `roles` (version 2): role name → `{ rank, may }`, the roles a space defines beyond the
/// built-in six.
pub const ROLES: Container = Container {
    name: "roles",
    kind: Kind::Map,
    since: 2,
    policy: Policy::Roles,
};

/// `keys` (version 3): DID → `{ identity, bundle }`, a member's public encryption keys.
pub const KEYS: Container = Container {
    name: "keys",
    kind: Kind::Map,
    since: 3,
    policy: Policy::Keys,
};
/// `group` (version 3): the encryption group's control messages, in order.
pub const GROUP: Container = Container {
    name: "group",
    kind: Kind::List,
    since: 3,
    policy: Policy::Group,
};

/// `abilities` (version 4): `"<provider DID> <ability name>"` → declaration.
pub const ABILITIES: Container = Container {
    name: "abilities",
    kind: Kind::Map,
    since: 4,
    policy: Policy::Abilities,
};
/// `requests` (version 4): the ability requests, in order, each with its steps.
pub const REQUESTS: Container = Container {
    name: "requests",
    kind: Kind::List,
    since: 4,
    policy: Policy::Requests,
};

/// `status_notices` (version 5): `"<list URL> <validFrom>"` → the issuer's signed status list
/// credential (JSON), a revocation notice ([`crate::notices`]).
pub const STATUS_NOTICES: Container = Container {
    name: "status_notices",
    kind: Kind::Map,
    since: 5,
    policy: Policy::StatusNotices,
};

/// `chains` (version 6): the chains of ability requests, in order (docs/abilities.md).
pub const CHAINS: Container = Container {
    name: "chains",
    kind: Kind::List,
    since: 6,
    policy: Policy::Chains,
};

/// The schema version from which the rules judge what version 6 adds beside `chains`: ability
/// attestations, chain steps and out-of-band payloads of requests (docs/abilities.md).
pub const ABILITIES_V2: u64 = CHAINS.since;

/// `personas` (version 7): `"sha256:<hex>"` → a published persona (docs/agents.md,
/// [`crate::personas`]).
pub const PERSONAS: Container = Container {
    name: "personas",
    kind: Kind::Map,
    since: 7,
    policy: Policy::Personas,
};

/// The schema version of agents: published personas (docs/agents.md).
pub const AGENTS: u64 = PERSONAS.since;

/// The schema version of reputation v2 (docs/reputation.md, [`crate::reputation`]): it adds
/// no container; a migration to it only raises `meta.version`, and from it every node scores
/// members by the v2 formula (below it, by v1's, so older spaces' figures do not change).
pub const REPUTATION_V2: u64 = 8;

/// `proposals` (version 9): the space's proposals, in order, each with its votes and its
/// close (docs/governance.md).
pub const PROPOSALS: Container = Container {
    name: "proposals",
    kind: Kind::List,
    since: 9,
    policy: Policy::Proposals,
};

/// The schema version of social mechanics (docs/governance.md): proposals and votes, earned
/// roles, tokens, action budgets and space profiles.
pub const SOCIAL: u64 = PROPOSALS.since;

/// The schema version of message features (docs/protocol.md §9.12, [`crate::messages`]):
/// replies, edits with their history and reactions. It adds no container: a migration to it
/// only raises `meta.version`, and from it the rules let a message carry `reply_to`, `edits`
/// and `reactions` (docs/rules.md §5).
pub const MESSAGES_V2: u64 = 10;

/// The schema version of people's features (docs/protocol.md §9.13): timites' profiles (a
/// display name, a bio and a small avatar each writes into its own member entry), mentions and
/// attachments of bounded size. It adds no container: a migration to it only raises
/// `meta.version`, and from it the rules accept those keys (docs/rules.md §5).
pub const PEOPLE: u64 = 11;

/// The schema version of typed messages (docs/protocol.md §9.12.1): from it every field of a
/// message has its type, the fields but the content are written only with the message, a
/// message is made with its content and time, and it holds no other key. It adds no container:
/// a migration to it only raises `meta.version`, and from it the rules refuse message shapes
/// that views would skip (docs/rules.md §5).
pub const MESSAGE_SHAPES: u64 = 12;

/// Every root container, in the order the genesis and migrations make them.
pub const CONTAINERS: &[&Container] = &[
    &META,
    &MEMBERS,
    &TIMELINE,
    &INVITES,
    &RATINGS,
    &ISSUED,
    &STATUS_LIST,
    &ROLES,
    &KEYS,
    &GROUP,
    &ABILITIES,
    &REQUESTS,
    &STATUS_NOTICES,
    &CHAINS,
    &PERSONAS,
    &PROPOSALS,
];

/// The container named `name`, if this node knows one.
pub fn container(name: &str) -> Option<&'static Container> {
    CONTAINERS.iter().copied().find(|c| c.name == name)
}

/// Whether this node knows schema version `version`.
pub fn is_known(version: u64) -> bool {
    (GENESIS_VERSION..=LATEST_VERSION).contains(&version)
}

/// The containers a space at schema version `version` holds.
pub fn containers_at(version: u64) -> impl Iterator<Item = &'static Container> {
    CONTAINERS
        .iter()
        .copied()
        .filter(move |c| c.since <= version)
}

/// The containers a migration from version `from` to version `to` makes.
pub fn added_between(from: u64, to: u64) -> impl Iterator<Item = &'static Container> {
    CONTAINERS
        .iter()
        .copied()
        .filter(move |c| from < c.since && c.since <= to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for (i, c) in CONTAINERS.iter().enumerate() {
            assert!(is_known(c.since), "{} has an unknown version", c.name);
            assert!(
                CONTAINERS[..i]
                    .iter()
                    .all(|d| d.name != c.name && d.policy != c.policy),
                "{} is named twice",
                c.name
            );
            // Containers are listed by version: migrations make them in table order.
            assert!(CONTAINERS[..i].iter().all(|d| d.since <= c.since));
        }
        assert!(container(META.name).is_some_and(|c| c.since == GENESIS_VERSION));
        assert!(container(MEMBERS.name).is_some_and(|c| c.since == GENESIS_VERSION));
        // Every version after the genesis adds at least one container, but reputation v2's,
        // which changes how the document is read, and message and people's features and typed
        // messages, which change what a message or a member entry may hold, not the
        // document's shape.
        for v in GENESIS_VERSION + 1..=LATEST_VERSION {
            assert_eq!(
                added_between(v - 1, v).next().is_some(),
                v != REPUTATION_V2 && v != MESSAGES_V2 && v != PEOPLE && v != MESSAGE_SHAPES,
                "version {v}"
            );
        }
    }
}
