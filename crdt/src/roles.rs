//! Roles as data: the six built-in roles, roles a space defines (a name, a rank and a list of
//! permissions, in its `roles` container), and the permissions the rules judge by.
//!
//! A role has a **rank** and a set of **permissions**. Permissions say what its holder may do
//! (post, moderate, invite, …); ranks say over whom: a timite changes the role of, or removes,
//! only someone who ranks below it, and gives only roles that rank below its own. The built-in
//! roles keep their names and meanings:
//!
//! | role | rank | permissions |
//! |---|---|---|
//! | `banned` | 0 | none, and no write at all |
//! | `guest` | 100 | none (edits its own entry and objects, deletes its own messages) |
//! | `member` | 200 | `post`, `rate` |
//! | `moderator` | 300 | and `moderate` |
//! | `admin` | 400 | and `meta`, `invite`, `roles`, `kick`, `issue`, `revoke`, `migrate` |
//! | `owner` | 500 | all of them |
//!
//! A space at schema version 2 or later defines more roles in its `roles` map:
//! `roles["<name>"] = { rank: Uint, may: Str(JSON list of permission names) }`, written by a
//! timite with the `roles` permission who outranks the role (docs/rules.md §5.2).

use std::fmt;

/// The longest name of a role a space defines, in bytes.
pub const MAX_ROLE_NAME_BYTES: usize = 32;

/// The name of a role a space defines: 1 to [`MAX_ROLE_NAME_BYTES`] bytes of lowercase ASCII
/// letters, digits, `-` and `_`, starting with a letter, and not a built-in role's name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoleName {
    bytes: [u8; MAX_ROLE_NAME_BYTES],
    len: u8,
}

impl RoleName {
    /// Checks a custom role name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= MAX_ROLE_NAME_BYTES
            && s.as_bytes()[0].is_ascii_lowercase()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !ok {
            return Err(format!(
                "`{s}` cannot name a role: use 1 to {MAX_ROLE_NAME_BYTES} lowercase letters, \
                 digits, - or _, starting with a letter"
            ));
        }
        if Role::builtin(s).is_some() {
            return Err(format!("`{s}` is a built-in role and cannot be redefined"));
        }
        let mut bytes = [0; MAX_ROLE_NAME_BYTES];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            bytes,
            len: s.len() as u8,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ASCII was copied in.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoleName({})", self.as_str())
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RoleName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

/// A member's role: one of the six built-in roles, or one the space defines.
///
/// Built-in roles compare by rank (`Role::Member < Role::Admin`); a custom role's rank is data
/// of its space (`Space::role_rank`), so it compares with nothing here (`partial_cmp` is
/// `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// May not write anything.
    Banned,
    /// May read and edit its own member entry, not post.
    Guest,
    /// May post, and edit or delete its own messages.
    Member,
    /// A member who may also delete anyone's message.
    Moderator,
    /// A moderator who may also change meta, invites and roles below admin, kick and ban.
    Admin,
    /// The creator: an admin who may also appoint and demote admins.
    Owner,
    /// A role the space defines in its `roles` map.
    Custom(RoleName),
}

/// The rank of `banned`.
pub const BANNED_RANK: u64 = 0;
/// The rank of `guest`.
pub const GUEST_RANK: u64 = 100;
/// The rank of `member`.
pub const MEMBER_RANK: u64 = 200;
/// The rank of `moderator`.
pub const MODERATOR_RANK: u64 = 300;
/// The rank of `admin`.
pub const ADMIN_RANK: u64 = 400;
/// The rank of `owner`, above every other role.
pub const OWNER_RANK: u64 = 500;

impl Role {
    /// The role's name in the document.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Banned => "banned",
            Self::Guest => "guest",
            Self::Member => "member",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
            Self::Owner => "owner",
            Self::Custom(n) => n.as_str(),
        }
    }

    fn builtin(s: &str) -> Option<Self> {
        Some(match s {
            "banned" => Self::Banned,
            "guest" => Self::Guest,
            "member" => Self::Member,
            "moderator" => Self::Moderator,
            "admin" => Self::Admin,
            "owner" => Self::Owner,
            _ => return None,
        })
    }

    /// Parses a role name: a built-in role, or any valid custom name ([`RoleName`]; whether
    /// the space defines it is for the rules to say).
    pub fn parse(s: &str) -> Option<Self> {
        Self::builtin(s).or_else(|| RoleName::parse(s).ok().map(Self::Custom))
    }

    /// The rank of a built-in role; `None` for a custom one (its space says).
    pub fn builtin_rank(&self) -> Option<u64> {
        Some(match self {
            Self::Banned => BANNED_RANK,
            Self::Guest => GUEST_RANK,
            Self::Member => MEMBER_RANK,
            Self::Moderator => MODERATOR_RANK,
            Self::Admin => ADMIN_RANK,
            Self::Owner => OWNER_RANK,
            Self::Custom(_) => return None,
        })
    }

    /// The permissions of a built-in role; `None` for a custom one.
    pub fn builtin_permissions(&self) -> Option<Permissions> {
        use Permission::*;
        let member = Permissions::of(&[Post, Rate]);
        let moderator = member.with(Moderate);
        let admin = moderator
            .with(Meta)
            .with(Invite)
            .with(Roles)
            .with(Kick)
            .with(Issue)
            .with(Revoke)
            .with(Migrate);
        Some(match self {
            Self::Banned | Self::Guest => Permissions::NONE,
            Self::Member => member,
            Self::Moderator => moderator,
            Self::Admin | Self::Owner => admin,
            Self::Custom(_) => return None,
        })
    }

    /// Whether this is one of the six built-in roles.
    pub fn is_builtin(&self) -> bool {
        !matches!(self, Self::Custom(_))
    }
}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.builtin_rank()?.cmp(&other.builtin_rank()?))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a role may do. The rules judge every shared write by one of these (docs/rules.md
/// §5); writing one's own member entry and objects, and deleting one's own messages, needs
/// only to be a member with any role but `banned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Permission {
    /// Post messages and edit one's own.
    Post,
    /// Rate other members.
    Rate,
    /// Delete anyone's message.
    Moderate,
    /// Change the space's meta (name, purpose, visibility, requirements).
    Meta,
    /// Invite timites, and change invites.
    Invite,
    /// Set the roles of members who rank below, and define roles that rank below.
    Roles,
    /// Remove members who rank below.
    Kick,
    /// Record credentials issued in the space's name.
    Issue,
    /// Revoke them.
    Revoke,
    /// Migrate the space's schema to a newer version.
    Migrate,
}

impl Permission {
    /// Every permission, with its name and the schema version from which a space's role
    /// definitions may name it.
    pub const ALL: [(Self, &'static str, u64); 10] = [
        (Self::Post, "post", 2),
        (Self::Rate, "rate", 2),
        (Self::Moderate, "moderate", 2),
        (Self::Meta, "meta", 2),
        (Self::Invite, "invite", 2),
        (Self::Roles, "roles", 2),
        (Self::Kick, "kick", 2),
        (Self::Issue, "issue", 2),
        (Self::Revoke, "revoke", 2),
        (Self::Migrate, "migrate", 2),
    ];

    /// The permission's name in role definitions.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _, _)| *p == self)
            .map_or("", |(_, n, _)| n)
    }

    /// The permission named `name`, if a space at schema version `version` may name it.
    pub fn parse_at(name: &str, version: u64) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n, since)| *n == name && *since <= version)
            .map(|(p, _, _)| *p)
    }

    /// The lowest built-in role that has this permission (for messages).
    pub fn lowest_builtin(self) -> Role {
        [Role::Member, Role::Moderator, Role::Admin]
            .into_iter()
            .find(|r| r.builtin_permissions().is_some_and(|p| p.contains(self)))
            .unwrap_or(Role::Owner)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u32);

impl Permissions {
    /// No permission.
    pub const NONE: Self = Self(0);

    /// The set of these permissions.
    pub fn of(ps: &[Permission]) -> Self {
        ps.iter().fold(Self::NONE, |s, p| s.with(*p))
    }

    /// This set and `p`.
    pub fn with(self, p: Permission) -> Self {
        Self(self.0 | p.bit())
    }

    /// Whether the set holds `p`.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether every permission of `other` is in this set.
    pub fn covers(self, other: Self) -> bool {
        other.0 & !self.0 == 0
    }

    /// The permissions, in [`Permission::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .map(|(p, _, _)| p)
            .filter(move |p| self.contains(*p))
    }

    /// The permissions' names as a JSON list: the `may` value of a role definition.
    pub fn to_json(self) -> String {
        let names: Vec<&str> = self.iter().map(Permission::as_str).collect();
        serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
    }

    /// Parses a `may` value: a JSON list of names of permissions known at `version`.
    pub fn from_json(json: &str, version: u64) -> Result<Self, String> {
        let names: Vec<String> = serde_json::from_str(json)
            .map_err(|e| format!("`may` is a JSON list of permission names: {e}"))?;
        names.iter().try_fold(Self::NONE, |set, n| {
            Permission::parse_at(n, version)
                .map(|p| set.with(p))
                .ok_or_else(|| format!("`{n}` is not a permission at schema version {version}"))
        })
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A role a space defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleDef {
    /// Its name.
    pub name: RoleName,
    /// Its rank: 1 to 499 (above `banned`, below `owner`).
    pub rank: u64,
    /// What its holders may do.
    pub may: Permissions,
}

/// What a member may do, resolved from its role at some point of the space's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) role: Role,
    pub(crate) rank: u64,
    pub(crate) may: Permissions,
}

impl Grant {
    /// A role's grant: built-in, or from the space's definition `def`. A custom role the space
    /// does not define (the rules never let one be given) grants what `guest` does.
    pub(crate) fn of(role: Role, def: Option<RoleDef>) -> Self {
        match (role.builtin_rank(), role.builtin_permissions(), def) {
            (Some(rank), Some(may), _) => Self { role, rank, may },
            (_, _, Some(d)) => Self {
                role,
                rank: d.rank,
                may: d.may,
            },
            _ => Self {
                role,
                rank: GUEST_RANK,
                may: Permissions::NONE,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_roles_keep_their_names_and_order() {
        for r in [
            Role::Banned,
            Role::Guest,
            Role::Member,
            Role::Moderator,
            Role::Admin,
            Role::Owner,
        ] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert!(r.is_builtin());
        }
        assert!(Role::Banned < Role::Guest && Role::Admin < Role::Owner);
        let scribe = Role::parse("scribe").unwrap();
        assert_eq!(scribe.as_str(), "scribe");
        assert_eq!(scribe.partial_cmp(&Role::Member), None);
        assert_eq!(Role::parse("Scribe"), None);
        assert_eq!(Role::parse(""), None);
        assert!(RoleName::parse("admin").is_err());
        assert!(RoleName::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn permissions_round_trip_through_json() {
        let p = Permissions::of(&[Permission::Post, Permission::Moderate]);
        assert_eq!(p.to_json(), r#"["post","moderate"]"#);
        assert_eq!(Permissions::from_json(&p.to_json(), 2), Ok(p));
        assert!(Permissions::from_json(r#"["fly"]"#, 2).is_err());
        assert!(Permissions::from_json(r#"["post"]"#, 1).is_err());
        assert_eq!(Permission::Moderate.lowest_builtin(), Role::Moderator);
        assert_eq!(Permission::Migrate.lowest_builtin(), Role::Admin);
        let admin = Role::Admin.builtin_permissions().unwrap();
        assert!(admin.covers(p) && !p.covers(admin));
    }
}
