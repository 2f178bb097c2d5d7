//! Revocation notices (schema version 5; docs/passports.md, "Revocation that stops
//! admitting"): an issuer's signed status list, put by any member into `status_notices`, that
//! undoes the admissions of the credentials it revokes.
//!
//! ```text
//! status_notices: Map { "<list URL> <validFrom>": Str(the BitstringStatusListCredential, JSON) }
//! ```
//! A notice is accepted when its key is the list's `id` and `validFrom`, its proof verifies
//! (through the [`AdmissionVerifier`]), it is a revocation list, and it sets the bit of a
//! credential presented in some member entry at the change's dependencies; it is never changed
//! or deleted. At a change `C`, a member admitted by a presentation is **no longer admitted**
//! when dropping the presented credentials that the notices at `C`'s dependencies revoke
//! leaves the requirements it met at its join unmet: the rules then treat it as banned.
//!
//! Verdicts are pure functions of the document at given heads, so they are cached by what
//! identifies their inputs (a notice by the id of the operation that put it, an admission by
//! its member entry's object id, a verdict by both): verifying a presentation costs
//! milliseconds, and a post by a member admitted by one must not pay it each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use automerge::transaction::Transactable;
use automerge::{ObjId, ReadDoc, ScalarValue, Value};
use tim_protocol::wire::MAX_TEXT_BYTES;
use tim_protocol::{Did, SpaceId};

use crate::admission::{
    meets, parse_requirements, AdmissionVerifier, PresentedCredential, Requirement,
    VerifiedCredential, VerifiedStatusList,
};
use crate::doc::{self, View};
use crate::{schema, Applied, Space, SpaceError, Writer};

/// Largest notice (the list credential's JSON): the bound of every string in a space.
pub const MAX_NOTICE_BYTES: usize = MAX_TEXT_BYTES;

/// Most entries each map of a [`NoticeCache`] holds; a full map is emptied (everything in it
/// can be computed again).
const MAX_CACHED: usize = 4096;

/// The key of a notice of the list `id` signed at `valid_from`.
pub fn notice_key(id: &str, valid_from: &str) -> String {
    format!("{id} {valid_from}")
}

/// What admitted a member by presentation: the requirements at its join and what its
/// presentation showed.
#[derive(Debug)]
pub(crate) struct Admission {
    requirements: Vec<Requirement>,
    credentials: Vec<PresentedCredential>,
}

/// Whether `credentials`, once those that `lists` revoke are dropped, meet `requirements`;
/// `Err` names the unmet requirement and the notices that revoked.
pub(crate) fn meets_after(
    requirements: &[Requirement],
    credentials: &[PresentedCredential],
    lists: &[Arc<VerifiedStatusList>],
) -> Result<(), String> {
    let revoker = |c: &PresentedCredential| lists.iter().find(|l| l.revokes(c));
    let kept: Vec<PresentedCredential> = credentials
        .iter()
        .filter(|c| revoker(c).is_none())
        .cloned()
        .collect();
    meets(requirements, &kept).map_err(|e| {
        let mut by: Vec<String> = credentials
            .iter()
            .filter_map(|c| revoker(c).map(|l| notice_key(&l.id, &l.valid_from)))
            .collect();
        by.dedup();
        if by.is_empty() {
            e
        } else {
            format!(
                "{e} (its credential is revoked by the notice `{}`)",
                by.join("`, `")
            )
        }
    })
}

/// Verdicts and verifications already made: each is a pure function of inputs named by
/// operation and object ids, which never change meaning in a space (docs/rules.md §5.4).
#[derive(Debug, Default)]
pub struct NoticeCache(Mutex<Cached>);

#[derive(Debug, Default)]
struct Cached {
    /// A notice's list by the id of the operation that put it (`None`: it does not verify).
    lists: HashMap<String, Option<Arc<VerifiedStatusList>>>,
    /// A member's admission by its entry's object id (`None`: not admitted by presentation).
    admissions: HashMap<String, Option<Arc<Admission>>>,
    /// Why a member entry is no longer admitted given these notices (by operation id, sorted).
    verdicts: HashMap<(String, Vec<String>), Option<String>>,
    /// Declarations' attesting credentials by (subject, time, the credential): what they
    /// say, or why they fail (docs/abilities.md §13).
    credentials: HashMap<(String, i64, String), Result<Arc<VerifiedCredential>, String>>,
}

/// Most attesting credentials a [`NoticeCache`] holds (each up to 16 KiB).
const MAX_CACHED_CREDENTIALS: usize = 256;

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) -> &mut HashMap<K, V> {
    if map.len() >= MAX_CACHED {
        map.clear();
    }
    map
}

impl Clone for NoticeCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl NoticeCache {
    fn with<R>(&self, f: impl FnOnce(&mut Cached) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `credential` (a declaration's attestation) checked by `verifier` as about `subject`
    /// at `at_ms`, once.
    pub(crate) fn verified_credential(
        &self,
        verifier: &dyn AdmissionVerifier,
        credential: &str,
        subject: &Did,
        at_ms: i64,
    ) -> Result<Arc<VerifiedCredential>, String> {
        let key = (subject.to_string(), at_ms, credential.to_string());
        if let Some(hit) = self.with(|c| c.credentials.get(&key).cloned()) {
            return hit;
        }
        let verdict = verifier
            .verify_credential(credential, subject, at_ms)
            .map(Arc::new);
        self.with(|c| {
            if c.credentials.len() >= MAX_CACHED_CREDENTIALS {
                c.credentials.clear();
            }
            c.credentials.insert(key, verdict.clone());
        });
        verdict
    }
}

/// The notices of a space at some heads, read through the verifier and the cache.
pub(crate) struct Notices<'a> {
    pub(crate) view: View<'a>,
    pub(crate) space: SpaceId,
    pub(crate) verifier: Option<&'a dyn AdmissionVerifier>,
    pub(crate) cache: &'a NoticeCache,
}

impl Notices<'_> {
    /// Every notice here, as (id of the operation that put it, JSON): every value of every
    /// key of every copy of the container (concurrent migrations may each make one, and two
    /// notices may be put concurrently under one key), sorted by operation id.
    fn entries(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> =
            doc::root_objs(self.view.doc, &schema::STATUS_NOTICES, self.view.heads)
                .iter()
                .flat_map(|copy| {
                    self.view.keys(copy).into_iter().flat_map(move |k| {
                        doc::all_values(self.view.doc, copy, &k, self.view.heads)
                            .into_iter()
                            .filter_map(|(v, id)| match v {
                                Value::Scalar(s) => match s.as_ref() {
                                    ScalarValue::Str(json) => {
                                        Some((id.to_string(), json.to_string()))
                                    }
                                    _ => None,
                                },
                                Value::Object(_) => None,
                            })
                    })
                })
                .collect();
        out.sort();
        out
    }

    /// Whether the container holds no notice here (the fast path of every verdict).
    fn is_empty(&self) -> bool {
        doc::root_objs(self.view.doc, &schema::STATUS_NOTICES, self.view.heads)
            .iter()
            .all(|copy| self.view.keys(copy).is_empty())
    }

    /// The verified lists of the notices here, with their operation ids.
    fn lists(&self) -> (Vec<String>, Vec<Arc<VerifiedStatusList>>) {
        let entries = self.entries();
        let ids = entries.iter().map(|(id, _)| id.clone()).collect();
        let lists = entries
            .into_iter()
            .filter_map(|(id, json)| {
                if let Some(hit) = self.cache.with(|c| c.lists.get(&id).cloned()) {
                    return hit;
                }
                let list = self
                    .verifier
                    .and_then(|v| v.verify_status_list(&json).ok())
                    .map(Arc::new);
                self.cache
                    .with(|c| bounded(&mut c.lists).insert(id, list.clone()));
                list
            })
            .collect();
        (ids, lists)
    }

    /// What admitted `did` (its member entry `entry`) by presentation, if anything: the
    /// requirements at its join's dependencies and the credentials its presentation shows,
    /// verified as the join was (at the join's dependencies and time).
    fn admission(&self, entry: &ObjId, did: &str) -> Option<Arc<Admission>> {
        let key = entry.to_string();
        if let Some(hit) = self.cache.with(|c| c.admissions.get(&key).cloned()) {
            return hit;
        }
        let admission = self.admission_uncached(entry, did).map(Arc::new);
        self.cache
            .with(|c| bounded(&mut c.admissions).insert(key, admission.clone()));
        admission
    }

    fn admission_uncached(&self, entry: &ObjId, did: &str) -> Option<Admission> {
        let presentation = self.view.get_str(entry, doc::PRESENTATION)?;
        let doc = self.view.doc;
        let join = doc.get_change_by_hash(&doc.hash_for_opid(entry)?)?;
        let deps = join.deps();
        let meta = doc::root_obj(doc, &schema::META, Some(deps))?;
        let at_join = View {
            doc,
            heads: Some(deps),
        };
        let requirements = parse_requirements(&at_join.get_str(&meta, doc::REQUIREMENTS)?).ok()?;
        if requirements.is_empty() {
            return None;
        }
        let holder: Did = did.parse().ok()?;
        let challenges: Vec<String> = deps.iter().map(ToString::to_string).collect();
        let credentials = self
            .verifier?
            .verify(
                &presentation,
                &self.space.iri(),
                &challenges,
                &holder,
                join.timestamp(),
            )
            .ok()?;
        Some(Admission {
            requirements,
            credentials,
        })
    }

    /// Why `did` (a member here, entry in `members`) is no longer admitted, if it is not:
    /// it was admitted by a presentation, and the notices here revoke enough of its
    /// credentials that the requirements it met at its join are unmet.
    pub(crate) fn no_longer_admitted(&self, members: &ObjId, did: &str) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let entry = self.view.child(members, did)?;
        self.view.get(&entry, doc::PRESENTATION)?;
        let ids: Vec<String> = self.entries().into_iter().map(|(id, _)| id).collect();
        let key = (entry.to_string(), ids);
        if let Some(hit) = self.cache.with(|c| c.verdicts.get(&key).cloned()) {
            return hit;
        }
        let verdict = self.admission(&entry, did).and_then(|a| {
            let (_, lists) = self.lists();
            meets_after(&a.requirements, &a.credentials, &lists)
                .err()
                .map(|e| format!("no longer admitted: {e}"))
        });
        self.cache
            .with(|c| bounded(&mut c.verdicts).insert(key, verdict.clone()));
        verdict
    }

    /// The verified lists of the notices here, for a join's verdict.
    pub(crate) fn revoking_lists(&self) -> Vec<Arc<VerifiedStatusList>> {
        if self.is_empty() {
            return vec![];
        }
        self.lists().1
    }

    /// The credentials presented by the members here who were admitted by a presentation,
    /// each with its holder.
    fn presented<'m>(
        &'m self,
        members: &'m ObjId,
    ) -> impl Iterator<Item = (Did, PresentedCredential)> + 'm {
        self.view.keys(members).into_iter().flat_map(move |did| {
            let holder: Option<Did> = did.parse().ok();
            let admission = self
                .view
                .child(members, &did)
                .and_then(|entry| self.admission(&entry, &did));
            holder
                .zip(admission)
                .into_iter()
                .flat_map(|(h, a)| a.credentials.clone().into_iter().map(move |c| (h, c)))
        })
    }

    /// Whether `list` sets the bit of a credential presented by a member here.
    pub(crate) fn revokes_a_member(&self, members: &ObjId, list: &VerifiedStatusList) -> bool {
        self.presented(members).any(|(_, c)| list.revokes(&c))
    }
}

impl Space {
    /// The notices here now.
    pub(crate) fn notices_now(&self) -> Notices<'_> {
        self.notices_at(None)
    }

    /// The revocation notices at `heads` (`None`: now).
    pub(crate) fn notices_at<'h>(
        &'h self,
        heads: Option<&'h [automerge::ChangeHash]>,
    ) -> Notices<'h> {
        Notices {
            view: View {
                doc: &self.doc,
                heads,
            },
            space: self.id,
            verifier: self.verifier.as_deref(),
            cache: &self.notices,
        }
    }

    /// Why member `did` is no longer admitted, if it is not (docs/passports.md): it joined
    /// with a presentation, and the revocation notices here revoke credentials it needed. The
    /// rules treat it as banned ([`Space::role_of`] says `banned`).
    pub fn no_longer_admitted(&self, did: &Did) -> Option<String> {
        let members = doc::root_obj(&self.doc, &schema::MEMBERS, None)?;
        self.notices_now()
            .no_longer_admitted(&members, &did.to_string())
    }

    /// Whether the status list `list` revokes a credential that a member presented here, or
    /// (from schema version 6) that a declaration carries, and that no notice here revokes
    /// yet: whether a notice of it would change a verdict.
    pub fn revokes_anew(&self, list: &VerifiedStatusList) -> bool {
        let Some(members) = doc::root_obj(&self.doc, &schema::MEMBERS, None) else {
            return false;
        };
        let notices = self.notices_now();
        let known = notices.revoking_lists();
        let anew = notices
            .presented(&members)
            .chain(self.carried_credentials())
            .any(|(_, c)| list.revokes(&c) && !known.iter().any(|k| k.revokes(&c)));
        anew
    }

    /// The credentials members presented when they joined (those admitted by a
    /// presentation), each with its holder.
    pub fn presented_credentials(&self) -> Vec<(Did, PresentedCredential)> {
        let Some(members) = doc::root_obj(&self.doc, &schema::MEMBERS, None) else {
            return vec![];
        };
        self.notices_now().presented(&members).collect()
    }

    /// Puts a revocation notice as `who` (any member): `list` is an issuer's signed status
    /// list credential (JSON) that revokes a credential presented here.
    pub fn post_notice(
        &mut self,
        who: &Writer,
        list: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        if list.len() > MAX_NOTICE_BYTES {
            return Err(SpaceError::Invalid(format!(
                "a revocation notice is at most {MAX_NOTICE_BYTES} bytes"
            )));
        }
        let verified = self
            .verifier
            .as_deref()
            .ok_or_else(|| SpaceError::Invalid("this replica cannot check status lists".into()))?
            .verify_status_list(list)
            .map_err(SpaceError::Invalid)?;
        if self.schema_version() < schema::STATUS_NOTICES.since {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; revocation notices need version {}: \
                 migrate it first",
                self.schema_version(),
                schema::STATUS_NOTICES.since
            )));
        }
        let notices = doc::root_obj(&self.doc, &schema::STATUS_NOTICES, None)
            .ok_or(SpaceError::NotReady(self.id))?;
        let key = notice_key(&verified.id, &verified.valid_from);
        self.local_write(who, at_ms, |tx| {
            tx.put(&notices, key, list)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }
}
