//! Timites' profiles (schema version 11, [`schema::PEOPLE`]; docs/protocol.md §9.13.1): a
//! display name, a short bio and a small avatar, which each member writes into its own member
//! entry.
//!
//! ```text
//! members[DID].profile: { name:   Str        1 to 64 characters after trimming, no controls
//!                         bio:    Str        at most 280 characters (optional)
//!                         avatar: { mime: Str   image/png | image/jpeg | image/webp | image/gif
//!                                   data: Bytes at most 32 KiB, starting with mime's magic }
//!                         at:     Timestamp  the change's own time }
//! ```
//! Only the member itself writes its profile, never anyone for another; a profile is written
//! whole, as a new map in one change (replacing the previous one), never edited field by field
//! ([`crate::rules`], docs/rules.md §5). Two concurrent profiles of one timite (two sessions)
//! both stay in the document as a conflict: readers show the one with the later `at`, and of
//! equal ones Automerge's pick, so every replica shows the same.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use tim_protocol::Did;

use crate::space::millis;
use crate::{doc, schema, Applied, Space, SpaceError, Writer};

/// A member entry's `profile` map.
pub const PROFILE: &str = "profile";
/// A profile's display name.
pub const NAME: &str = "name";
/// A profile's bio.
pub const BIO: &str = "bio";
/// A profile's avatar map.
pub const AVATAR: &str = "avatar";
/// An avatar's media type.
pub const MIME: &str = "mime";
/// An avatar's bytes.
pub const DATA: &str = "data";
/// When the profile was written: the time of the change that wrote it.
pub const AT: &str = doc::AT;
/// Longest display name, in characters (after trimming).
pub const MAX_NAME_CHARS: usize = 64;
/// Longest bio, in characters.
pub const MAX_BIO_CHARS: usize = 280;
/// Largest avatar, in bytes.
pub const MAX_AVATAR_BYTES: usize = 32 * 1024;
/// The avatar media types a profile may carry.
pub const AVATAR_MIMES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

/// A timite's profile, as written and as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The display name.
    pub name: String,
    /// The bio.
    pub bio: Option<String>,
    /// The avatar.
    pub avatar: Option<Avatar>,
    /// When it was written (milliseconds since the Unix epoch; 0 in one not yet written).
    pub at: u64,
}

/// An avatar: a small image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    /// Its media type, one of [`AVATAR_MIMES`].
    pub mime: String,
    /// The image.
    pub data: Vec<u8>,
}

/// Checks a display name: 1 to [`MAX_NAME_CHARS`] characters after trimming, without control
/// characters. Returns why not.
pub fn check_name(name: &str) -> Result<(), String> {
    let n = name.trim().chars().count();
    if n == 0 || n > MAX_NAME_CHARS {
        return Err(format!(
            "a name is 1 to {MAX_NAME_CHARS} characters after trimming, not {n}"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("a name has no control characters".into());
    }
    Ok(())
}

/// Checks a bio: at most [`MAX_BIO_CHARS`] characters. Returns why not.
pub fn check_bio(bio: &str) -> Result<(), String> {
    let n = bio.chars().count();
    if n > MAX_BIO_CHARS {
        return Err(format!(
            "a bio is at most {MAX_BIO_CHARS} characters, not {n}"
        ));
    }
    Ok(())
}

/// Checks an avatar: a media type of [`AVATAR_MIMES`], at most [`MAX_AVATAR_BYTES`] bytes
/// that start with that format's magic number. Returns why not.
pub fn check_avatar(mime: &str, data: &[u8]) -> Result<(), String> {
    if !AVATAR_MIMES.contains(&mime) {
        return Err(format!(
            "an avatar is one of {}, not `{mime}`",
            AVATAR_MIMES.join(", ")
        ));
    }
    if data.len() > MAX_AVATAR_BYTES {
        return Err(format!(
            "an avatar is at most {MAX_AVATAR_BYTES} bytes, not {}",
            data.len()
        ));
    }
    if sniff(data) != Some(mime) {
        return Err(format!(
            "the avatar's bytes are not {mime} (their magic number says {})",
            sniff(data).unwrap_or("no image type known here")
        ));
    }
    Ok(())
}

/// The image type `data`'s magic number names, if one of [`AVATAR_MIMES`].
pub fn sniff(data: &[u8]) -> Option<&'static str> {
    match data {
        [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

impl Profile {
    /// Checks every field ([`check_name`], [`check_bio`], [`check_avatar`]).
    pub fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if let Some(bio) = &self.bio {
            check_bio(bio)?;
        }
        if let Some(a) = &self.avatar {
            check_avatar(&a.mime, &a.data)?;
        }
        Ok(())
    }
}

impl Space {
    /// Writes `profile` as `who`'s, whole, into its own member entry (schema version 11),
    /// replacing the one it had; its `at` becomes `at_ms`, the change's time.
    pub fn set_member_profile(
        &mut self,
        who: &Writer,
        profile: &Profile,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        if self.schema_version() < schema::PEOPLE {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; profiles from version {}: migrate it \
                 first (`tim space migrate`)",
                self.schema_version(),
                schema::PEOPLE
            )));
        }
        profile.check().map_err(SpaceError::Invalid)?;
        let me = who.did();
        let entry = self
            .member_entry(&me)
            .ok_or_else(|| SpaceError::Invalid(format!("{me} is not a member of {}", self.id)))?;
        self.local_write(who, at_ms, |tx| {
            let map = tx.put_object(&entry, PROFILE, ObjType::Map)?;
            tx.put(&map, NAME, profile.name.trim())?;
            if let Some(bio) = &profile.bio {
                tx.put(&map, BIO, bio.as_str())?;
            }
            if let Some(a) = &profile.avatar {
                let avatar = tx.put_object(&map, AVATAR, ObjType::Map)?;
                tx.put(&avatar, MIME, a.mime.as_str())?;
                tx.put(&avatar, DATA, ScalarValue::Bytes(a.data.clone()))?;
            }
            tx.put(&map, AT, ScalarValue::Timestamp(millis(at_ms)))?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// The map of `did`'s shown profile and its `at`: of the profiles at
    /// `members[did].profile` (two concurrent ones are a conflict) whose `name`, `bio` and `at`
    /// are valid, the one with the later `at`, of equal ones Automerge's pick. None below
    /// schema version 11 (the rules there judge a `profile` key as any other key of one's own
    /// entry).
    fn profile_obj(&self, did: &Did) -> Option<(ObjId, u64)> {
        if self.schema_version() < schema::PEOPLE {
            return None;
        }
        let entry = self.member_entry(did)?;
        let all = self.doc.get_all(&entry, PROFILE).ok()?;
        // `get_all` lists conflicting values with Automerge's pick last: `max_by_key` keeps
        // the last of equal keys.
        all.into_iter()
            .filter_map(|(v, id)| {
                let valid = matches!(v, Value::Object(ObjType::Map))
                    && doc::get_str(&self.doc, &id, NAME).is_some_and(|n| check_name(&n).is_ok())
                    && doc::get_str(&self.doc, &id, BIO).is_none_or(|b| check_bio(&b).is_ok());
                let at = doc::get_millis(&self.doc, &id, AT)?;
                valid.then_some((id, at))
            })
            .max_by_key(|(_, at)| *at)
    }

    /// `did`'s profile in this space now, if it is a member that wrote one
    /// ([`Space::member_name`] says which); an avatar that breaks the rules is left out.
    pub fn member_profile(&self, did: &Did) -> Option<Profile> {
        let (obj, at) = self.profile_obj(did)?;
        let avatar = doc::child_obj(&self.doc, &obj, AVATAR, None).and_then(|a| {
            let data = match self.doc.get(&a, DATA).ok()?? {
                (Value::Scalar(s), _) => match s.as_ref() {
                    ScalarValue::Bytes(b) => b.clone(),
                    _ => return None,
                },
                _ => return None,
            };
            let mime = doc::get_str(&self.doc, &a, MIME)?;
            check_avatar(&mime, &data).ok()?;
            Some(Avatar { mime, data })
        });
        Some(Profile {
            name: doc::get_str(&self.doc, &obj, NAME)?,
            bio: doc::get_str(&self.doc, &obj, BIO),
            avatar,
            at,
        })
    }

    /// `did`'s profile name in this space now, if any: of concurrent profiles, the one with the
    /// later `at` (equal ones: Automerge's pick), the same on every replica.
    pub fn member_name(&self, did: &Did) -> Option<String> {
        let (obj, _) = self.profile_obj(did)?;
        doc::get_str(&self.doc, &obj, NAME)
    }
}
