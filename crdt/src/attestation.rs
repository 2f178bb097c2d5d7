//! Attested declarations and badges (schema version 6, [`schema::ABILITIES_V2`];
//! docs/abilities.md §13).
//!
//! ```text
//! abilities["<A> <name>"]: ... credential?: Str (an id in `issued`),
//!                              attestation?: Str (the credential itself, JSON or JWT, ≤ 16 KiB)
//! issued[<id>]:            ... ability?: Str (the ability an ability credential attests)
//! meta.attesters:          Str (JSON array of space ids whose ability credentials count)
//! meta.badges:             Str (JSON { "<ability>": { min_rated, min_mean_rating } })
//! ```
//! A declaration's attestation has one verdict, [`Attestation`], a pure function of the
//! declaration and the document at some heads: the rules refuse a declaration whose verdict
//! is [`Attestation::Refused`] when it is made, and search and `auto` leave out one whose
//! verdict became so later (its credential revoked in `status_list`, or by a revocation
//! notice). **Trust** is the space's, so every node judges alike: a credential issued in this
//! space counts when its id is recorded in `issued`; one issued in another space counts when
//! that space is named in `meta.attesters` or in a join requirement (`meta.requirements`).

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ScalarValue};
use tim_protocol::{Did, SpaceId};

use crate::abilities::{self, ABILITY};
use crate::admission::{parse_requirements, AdmissionVerifier, PresentedCredential, Requirement};
use crate::doc::{self, View};
use crate::notices::{notice_key, NoticeCache, Notices};
use crate::{schema, Applied, Space, SpaceError, Writer};

/// A declaration's `attestation`: the attesting credential itself.
pub(crate) const ATTESTATION: &str = "attestation";
/// `meta.attesters`: the spaces whose ability credentials this space trusts.
pub(crate) const ATTESTERS: &str = "attesters";
/// `meta.badges`: the thresholds at which an admin's node issues a badge.
pub(crate) const BADGES: &str = "badges";

/// Largest `attestation`, in bytes.
pub const MAX_ATTESTATION_BYTES: usize = 16 * 1024;
/// Most spaces in `meta.attesters`.
pub const MAX_ATTESTERS: usize = 32;
/// Most abilities with a badge threshold.
pub const MAX_BADGES: usize = 32;

pub use tim_protocol::api::BadgeThreshold;

/// Whether a provider's record for an ability reaches the threshold of its badge.
pub fn reaches(t: &BadgeThreshold, rep: &abilities::AbilityReputation) -> bool {
    rep.ratings >= t.min_rated && rep.rating_sum as f64 >= t.min_mean_rating * rep.ratings as f64
}

/// Parses and checks `meta.badges`: at most [`MAX_BADGES`] ability names, each with
/// `min_rated` ≥ 1 and `min_mean_rating` in 1.0..=5.0.
pub fn parse_badges(json: &str) -> Result<BTreeMap<String, BadgeThreshold>, String> {
    let badges: BTreeMap<String, BadgeThreshold> =
        serde_json::from_str(json).map_err(|e| format!("badges are not valid: {e}"))?;
    if badges.len() > MAX_BADGES {
        return Err(format!("at most {MAX_BADGES} abilities have a badge"));
    }
    for (name, t) in &badges {
        abilities::check_name(name)?;
        if t.min_rated == 0 || !(1.0..=5.0).contains(&t.min_mean_rating) {
            return Err(format!(
                "the badge of {name} needs min_rated ≥ 1 and min_mean_rating from 1 to 5"
            ));
        }
    }
    Ok(badges)
}

/// Parses and checks `meta.attesters`: a JSON array of at most [`MAX_ATTESTERS`] space ids.
pub fn parse_attesters(json: &str) -> Result<Vec<SpaceId>, String> {
    let spaces: Vec<SpaceId> =
        serde_json::from_str(json).map_err(|e| format!("attesters are not valid: {e}"))?;
    if spaces.len() > MAX_ATTESTERS {
        return Err(format!("at most {MAX_ATTESTERS} attesting spaces"));
    }
    Ok(spaces)
}

/// How a declaration's attestation stands (docs/abilities.md §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attestation {
    /// It names no credential and carries none.
    Unattested,
    /// Every credential it names or carries attests it, from a trusted issuer, unrevoked.
    Attested,
    /// A credential it names or carries does not attest it, or no longer does: why. The
    /// rules refuse such a declaration; search and `auto` leave it out.
    Refused(String),
}

/// What a declaration claims, for its verdict.
pub(crate) struct Claimed<'s> {
    pub(crate) provider: &'s Did,
    pub(crate) name: &'s str,
    pub(crate) credential: Option<&'s str>,
    pub(crate) attestation: Option<&'s str>,
    /// The time its validity is judged at, ms since the Unix epoch.
    pub(crate) at_ms: i64,
}

/// The document at some heads, with what checks credentials: the verdicts' inputs.
#[derive(Clone, Copy)]
pub(crate) struct Attesting<'a> {
    pub(crate) view: View<'a>,
    pub(crate) space: SpaceId,
    pub(crate) verifier: Option<&'a dyn AdmissionVerifier>,
    pub(crate) cache: &'a NoticeCache,
}

impl Attesting<'_> {
    fn notices(&self) -> Notices<'_> {
        Notices {
            view: self.view,
            space: self.space,
            verifier: self.verifier,
            cache: self.cache,
        }
    }

    fn meta(&self) -> Option<ObjId> {
        doc::root_obj(self.view.doc, &schema::META, self.view.heads)
    }

    /// The spaces whose ability credentials count: `meta.attesters` and the spaces the join
    /// requirements name.
    fn trusted(&self) -> Vec<SpaceId> {
        let Some(meta) = self.meta() else {
            return vec![];
        };
        let mut out: Vec<SpaceId> = self
            .view
            .get_str(&meta, ATTESTERS)
            .and_then(|j| parse_attesters(&j).ok())
            .unwrap_or_default();
        let requirements = self
            .view
            .get_str(&meta, doc::REQUIREMENTS)
            .and_then(|j| parse_requirements(&j).ok())
            .unwrap_or_default();
        for r in requirements {
            let (Requirement::Reputation { spaces, .. }
            | Requirement::Ability { spaces, .. }
            | Requirement::Membership { spaces }) = r;
            out.extend(spaces);
        }
        out
    }

    /// Why credential `id`, recorded in this space's `issued`, does not attest `name` of
    /// `provider` now, if it does not.
    fn issued_here(&self, id: &str, provider: &Did, name: &str) -> Option<String> {
        let view = &self.view;
        let Some(record) = doc::root_obj(view.doc, &schema::ISSUED, view.heads)
            .and_then(|issued| view.child(&issued, id))
        else {
            return Some(format!("attested by {id}, which this space did not issue"));
        };
        let kind = view.get_str(&record, doc::KIND).unwrap_or_default();
        if kind != ABILITY {
            return Some(format!(
                "attested by {id}, a {kind} credential, not an ability credential"
            ));
        }
        if view.get_str(&record, doc::SUBJECT) != Some(provider.to_string()) {
            return Some(format!(
                "attested by {id}, which was issued to another timite"
            ));
        }
        match view.get_str(&record, ABILITY) {
            Some(a) if a == name => {}
            Some(a) => return Some(format!("attested by {id}, which attests {a}, not {name}")),
            None => {
                return Some(format!(
                    "attested by {id}, whose record names no ability (issue a new one)"
                ))
            }
        }
        let revoked = match view.scalar(&record, doc::STATUS_INDEX) {
            Some(ScalarValue::Uint(i)) => doc::root_obj(view.doc, &schema::STATUS_LIST, view.heads)
                .and_then(|l| view.scalar(&l, &i.to_string()))
                .is_some_and(|v| v == ScalarValue::Boolean(true)),
            _ => true,
        };
        revoked.then(|| format!("attested by a revoked credential ({id})"))
    }

    /// Why the carried credential does not attest the claim, if it does not.
    fn carried(&self, c: &Claimed<'_>, json: &str) -> Option<String> {
        let Some(verifier) = self.verifier else {
            return Some("attested by a credential this replica cannot check".into());
        };
        let verified = match self
            .cache
            .verified_credential(verifier, json, c.provider, c.at_ms)
        {
            Ok(v) => v,
            Err(e) => return Some(format!("attested by a credential that fails: {e}")),
        };
        let vc = &verified.credential;
        if vc.kind != ABILITY || vc.ability.as_deref() != Some(c.name) {
            return Some(format!(
                "attested by {}, which is not an ability credential for {}",
                verified.id, c.name
            ));
        }
        if vc.space == Some(self.space) {
            return self.issued_here(&verified.id, c.provider, c.name);
        }
        if !vc.space.is_some_and(|s| self.trusted().contains(&s)) {
            let from = vc.space.map_or("no space".to_string(), |s| s.to_string());
            return Some(format!(
                "attested by an untrusted issuer ({} of {from}, a space not named in this \
                 space's attesters or requirements)",
                vc.issuer
            ));
        }
        let lists = self.notices().revoking_lists();
        lists.iter().find(|l| l.revokes(vc)).map(|l| {
            format!(
                "attested by a revoked credential ({}, by the notice `{}`)",
                verified.id,
                notice_key(&l.id, &l.valid_from)
            )
        })
    }

    /// The verdict on a declaration's attestation, at these heads.
    pub(crate) fn verdict(&self, c: &Claimed<'_>) -> Attestation {
        if c.credential.is_none() && c.attestation.is_none() {
            return Attestation::Unattested;
        }
        let why = c
            .credential
            .and_then(|id| self.issued_here(id, c.provider, c.name))
            .or_else(|| c.attestation.and_then(|json| self.carried(c, json)));
        why.map_or(Attestation::Attested, Attestation::Refused)
    }

    /// Whether `list` revokes a credential carried by a declaration here (so a notice of it
    /// is accepted, docs/rules.md §5.4).
    pub(crate) fn revokes_a_declaration(
        &self,
        list: &crate::admission::VerifiedStatusList,
    ) -> bool {
        let Some(verifier) = self.verifier else {
            return false;
        };
        doc::root_objs(self.view.doc, &schema::ABILITIES, self.view.heads)
            .iter()
            .flat_map(|root| {
                self.view
                    .keys(root)
                    .into_iter()
                    .filter_map(move |k| Some((self.view.child(root, &k)?, k)))
            })
            .any(|(obj, key)| {
                let (Some(json), Some(provider)) = (
                    self.view.get_str(&obj, ATTESTATION),
                    key.split_once(' ').and_then(|(p, _)| p.parse::<Did>().ok()),
                ) else {
                    return false;
                };
                let at = match self.view.scalar(&obj, doc::AT) {
                    Some(ScalarValue::Timestamp(t)) => t,
                    _ => 0,
                };
                self.cache
                    .verified_credential(verifier, &json, &provider, at)
                    .is_ok_and(|v| list.revokes(&v.credential))
            })
    }
}

impl Space {
    fn meta_str(&self, key: &str) -> Option<String> {
        let meta = doc::root_obj(self.doc(), &schema::META, None)?;
        doc::get_str(self.doc(), &meta, key)
    }

    fn put_meta(
        &mut self,
        who: &Writer,
        key: &str,
        json: String,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        if self.schema_version() < schema::ABILITIES_V2 {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; meta.{key} needs version {} (migrate it)",
                self.schema_version(),
                schema::ABILITIES_V2
            )));
        }
        let meta = doc::root_obj(self.doc(), &schema::META, None)
            .ok_or(SpaceError::NotReady(self.id()))?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&meta, key, json)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// The badge thresholds set in `meta.badges`, by ability.
    pub fn badges(&self) -> BTreeMap<String, BadgeThreshold> {
        self.meta_str(BADGES)
            .and_then(|j| parse_badges(&j).ok())
            .unwrap_or_default()
    }

    /// Sets the badge thresholds (admins; schema version 6).
    pub fn set_badges(
        &mut self,
        who: &Writer,
        badges: &BTreeMap<String, BadgeThreshold>,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let json = serde_json::to_string(badges).map_err(|e| SpaceError::Invalid(e.to_string()))?;
        parse_badges(&json).map_err(SpaceError::Invalid)?;
        self.put_meta(who, BADGES, json, at_ms)
    }

    /// The spaces whose ability credentials attest declarations here, as `meta.attesters`
    /// names them (join requirements name more).
    pub fn attesters(&self) -> Vec<SpaceId> {
        self.meta_str(ATTESTERS)
            .and_then(|j| parse_attesters(&j).ok())
            .unwrap_or_default()
    }

    /// Sets the attesting spaces (admins; schema version 6).
    pub fn set_attesters(
        &mut self,
        who: &Writer,
        spaces: &[SpaceId],
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let json = serde_json::to_string(spaces).map_err(|e| SpaceError::Invalid(e.to_string()))?;
        parse_attesters(&json).map_err(SpaceError::Invalid)?;
        self.put_meta(who, ATTESTERS, json, at_ms)
    }

    /// The credentials that declarations here carry as their `attestation` and that verify,
    /// each with its provider (from schema version 6): whose issuers' status lists a node
    /// watches, to post a notice of one that revokes it (docs/passports.md).
    pub fn carried_credentials(&self) -> Vec<(Did, PresentedCredential)> {
        let Some(verifier) = self.verifier.as_deref() else {
            return vec![];
        };
        if self.schema_version() < schema::ABILITIES_V2 {
            return vec![];
        }
        self.abilities()
            .into_iter()
            .filter_map(|d| {
                let at = i64::try_from(d.at).unwrap_or(i64::MAX);
                let vc = self
                    .notices
                    .verified_credential(verifier, d.attestation.as_deref()?, &d.provider, at)
                    .ok()?;
                Some((d.provider, vc.credential.clone()))
            })
            .collect()
    }

    /// The badges due: `(provider, ability)` for each active provider whose record for an
    /// ability with a threshold reaches it, and to whom no ability credential for it is
    /// recorded in `issued` yet (revoked or not: a revoked badge is not issued again).
    pub fn badges_due(&self) -> Vec<(Did, String)> {
        let badges = self.badges();
        if badges.is_empty() {
            return vec![];
        }
        let view = View {
            doc: self.doc(),
            heads: None,
        };
        let mut issued: Vec<(String, String)> = Vec::new();
        if let Some(root) = doc::root_obj(self.doc(), &schema::ISSUED, None) {
            for id in view.keys(&root) {
                let Some(rec) = view.child(&root, &id) else {
                    continue;
                };
                if view.get_str(&rec, doc::KIND).as_deref() == Some(ABILITY) {
                    if let (Some(s), Some(a)) = (
                        view.get_str(&rec, doc::SUBJECT),
                        view.get_str(&rec, ABILITY),
                    ) {
                        issued.push((s, a));
                    }
                }
            }
        }
        let a = abilities::Abilities::new(view);
        let mut due: Vec<(Did, String)> = a
            .reputations()
            .into_iter()
            .filter(|((provider, ability), rep)| {
                badges.get(ability).is_some_and(|t| reaches(t, rep))
                    && a.is_active(provider)
                    && !issued.contains(&(provider.clone(), ability.clone()))
            })
            .filter_map(|((p, ability), _)| Some((p.parse().ok()?, ability)))
            .collect();
        due.sort_by(|x, y| (x.0.to_string(), &x.1).cmp(&(y.0.to_string(), &y.1)));
        due
    }
}

/// The id of the badge for `ability` of `provider` in `space`: the same on every node, so
/// two admins' nodes that issue it at once record one credential (docs/abilities.md §13).
pub fn badge_id(space: &SpaceId, provider: &Did, ability: &str) -> String {
    format!("urn:tim:badge:{space}:{provider}:{ability}")
}
