//! The rules of timites' profiles (schema version 11, [`schema::PEOPLE`]; docs/rules.md §5,
//! docs/protocol.md §9.13.1, [`crate::profiles`]): only a member writes `profile` in its own
//! member entry, as a new map made whole in one change (name, optional bio and avatar, and
//! `at`, the change's own time); nobody edits a profile's fields afterwards or writes another's.
//! Below version 11 a `profile` key and the objects under it are judged as before (any key of
//! one's own entry, objects one made: [`Judge::check_member_entry`], [`Judge::check_other`]),
//! so nodes that do not know version 11 agree on every verdict, and readers show no profile
//! there ([`crate::Space::member_profile`]). Every verdict reads the document at the change's
//! dependencies.

use automerge::legacy::{OpId, OpType};
use automerge::{ObjType, ScalarValue};

use super::{deny, Judge};
use crate::profiles::{check_avatar, check_bio, check_name, AT, AVATAR, BIO, DATA, MIME, NAME};
use crate::{schema, Rejection};

/// The profile this change makes (one at most), and what it wrote into it.
pub(super) struct ProfileBeingMade {
    map: OpId,
    name: bool,
    at: bool,
    avatar: Option<AvatarBeingMade>,
}

/// The avatar map of a profile this change makes, and its fields.
struct AvatarBeingMade {
    map: OpId,
    mime: Option<String>,
    data: Option<Vec<u8>>,
}

impl Judge<'_> {
    /// Whether profiles' rules apply at the change's dependencies (schema version 11).
    pub(super) fn people(&self) -> bool {
        self.at.version >= schema::PEOPLE
    }

    /// `members[did].profile`: from schema version 11, the member `did` itself makes a new
    /// map there (one a change), replacing its previous profile.
    pub(super) fn check_profile_make(
        &mut self,
        did: &str,
        op_id: &OpId,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if did != self.author_str {
            return deny(format!(
                "{}; a timite writes only its own profile, never another's",
                self.who
            ));
        }
        self.member_writing("writing a profile")?;
        match &op.action {
            OpType::Make(ObjType::Map) if self.profile.is_none() => {
                self.profile = Some(ProfileBeingMade {
                    map: op_id.clone(),
                    name: false,
                    at: false,
                    avatar: None,
                });
                Ok(())
            }
            _ => deny(format!(
                "{}; a profile is one new map a change, written whole (never deleted or edited)",
                self.who
            )),
        }
    }

    /// The profile being made, if `obj` is its map.
    fn profile_made(&mut self, obj: &OpId) -> Result<&mut ProfileBeingMade, Rejection> {
        let who = self.who.clone();
        match &mut self.profile {
            Some(p) if p.map == *obj => Ok(p),
            _ => deny(format!(
                "{who}; a profile is written whole in one change: its fields are never edited \
                 later (write a new profile)"
            )),
        }
    }

    /// A field of the profile map `obj`: `name`, `bio` and `at` once each, `avatar` a map.
    pub(super) fn check_profile(
        &mut self,
        obj: &OpId,
        op_id: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let time = self.time;
        let p = self.profile_made(obj)?;
        let bad = |why: String| Err(Rejection::Unauthorized(format!("a profile's {why}")));
        match (key, &op.action) {
            (Some(NAME), OpType::Put(ScalarValue::Str(s))) => {
                check_name(s).map_err(Rejection::Unauthorized)?;
                p.name = true;
            }
            (Some(BIO), OpType::Put(ScalarValue::Str(s))) => {
                check_bio(s).map_err(Rejection::Unauthorized)?;
            }
            (Some(AT), OpType::Put(ScalarValue::Timestamp(t))) if *t == time => p.at = true,
            (Some(AT), _) => return bad("`at` is the time of the change that writes it".into()),
            (Some(AVATAR), OpType::Make(ObjType::Map)) if p.avatar.is_none() => {
                p.avatar = Some(AvatarBeingMade {
                    map: op_id.clone(),
                    mime: None,
                    data: None,
                });
            }
            (Some(k), _) => {
                return bad(format!(
                    "`{k}` is not a field or has the wrong type: name and bio are strings, \
                     avatar one map, at a timestamp"
                ))
            }
            (None, _) => return bad("map takes keys".into()),
        }
        Ok(())
    }

    /// A field of the avatar map `obj` of the profile being made: `mime` and `data`.
    pub(super) fn check_profile_avatar(
        &mut self,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let who = self.who.clone();
        let avatar = match self.profile.as_mut().and_then(|p| p.avatar.as_mut()) {
            Some(a) if a.map == *obj => a,
            _ => {
                return deny(format!(
                    "{who}; an avatar is written with its profile, never edited later"
                ))
            }
        };
        match (key, &op.action) {
            (Some(MIME), OpType::Put(ScalarValue::Str(s))) => avatar.mime = Some(s.to_string()),
            (Some(DATA), OpType::Put(ScalarValue::Bytes(b))) => avatar.data = Some(b.clone()),
            _ => {
                return deny(format!(
                    "{who}; an avatar holds `mime` (a string) and `data` (bytes), nothing else"
                ))
            }
        }
        Ok(())
    }

    /// The profile this change made, whole: a name, its `at`, and an avatar with both fields
    /// whose bytes are the image its type says.
    pub(super) fn check_profile_made(&mut self) -> Result<(), Rejection> {
        let Some(p) = self.profile.take() else {
            return Ok(());
        };
        if !p.name || !p.at {
            return deny(format!(
                "{}; a profile is made with its `name` and `at`",
                self.who
            ));
        }
        if let Some(a) = p.avatar {
            let (Some(mime), Some(data)) = (a.mime, a.data) else {
                return deny(format!(
                    "{}; an avatar is made with its `mime` and `data`",
                    self.who
                ));
            };
            check_avatar(&mime, &data).map_err(Rejection::Unauthorized)?;
        }
        self.effects
            .push(super::Effect::ProfileSet { did: self.author });
        Ok(())
    }
}
