//! Invite links: one string holding a space id, the addresses of a node that hosts it and,
//! for an invite-only space, the DID its invite is for (docs/operator.md "Invite links").
//!
//! `tim:join/<space id>?via=<multiaddr>[&via=<multiaddr>…][&for=<did>]`. Neither a multiaddr
//! nor a DID holds `?`, `&` or `=`, so the link needs no escaping.

use std::fmt;
use std::str::FromStr;

use tim_protocol::{Did, SpaceId};

/// What every invite link starts with.
const PREFIX: &str = "tim:join/";

/// A parsed invite link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InviteLink {
    /// The space.
    pub(crate) space: SpaceId,
    /// Multiaddrs (with `/p2p/<peer id>`) of a node that hosts it.
    pub(crate) via: Vec<String>,
    /// The timite an invite-only space's invite is for.
    pub(crate) invitee: Option<Did>,
}

impl fmt::Display for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.space)?;
        let params = self
            .via
            .iter()
            .map(|a| format!("via={a}"))
            .chain(self.invitee.iter().map(|d| format!("for={d}")));
        for (i, p) in params.enumerate() {
            write!(f, "{}{p}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl FromStr for InviteLink {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("an invite link starts with `{PREFIX}`"))?;
        let (id, query) = rest.split_once('?').unwrap_or((rest, ""));
        let space = id
            .parse()
            .map_err(|e| format!("the link's space id `{id}` is not one: {e}"))?;
        let mut link = Self {
            space,
            via: vec![],
            invitee: None,
        };
        for param in query.split('&').filter(|p| !p.is_empty()) {
            match param.split_once('=') {
                Some(("via", addr)) if !addr.is_empty() => link.via.push(addr.to_string()),
                Some(("for", did)) if link.invitee.is_none() => {
                    link.invitee = Some(
                        did.parse()
                            .map_err(|e| format!("the link's `for` is not a DID: {e}"))?,
                    );
                }
                _ => return Err(format!("unknown or repeated part `{param}` in the link")),
            }
        }
        Ok(link)
    }
}

/// What `tim space join` accepts: a space id or an invite link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinTarget(pub(crate) InviteLink);

impl FromStr for JoinTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with(PREFIX) {
            return s.parse().map(Self);
        }
        let space = s.parse().map_err(|e| {
            format!("`{s}` is neither a space id nor an invite link ({PREFIX}…): {e}")
        })?;
        Ok(Self(InviteLink {
            space,
            via: vec![],
            invitee: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPACE: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    const DID: &str = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";

    #[test]
    fn a_link_round_trips_and_a_bare_id_is_a_target() {
        let link: InviteLink = format!(
            "tim:join/{SPACE}?via=/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW&via=/ip4/127.0.0.1/udp/4001/quic-v1&for={DID}"
        )
        .parse()
        .unwrap();
        assert_eq!(link.via.len(), 2);
        assert_eq!(link.invitee.unwrap().to_string(), DID);
        assert_eq!(link.to_string().parse::<InviteLink>().unwrap(), link);
        let bare: JoinTarget = SPACE.parse().unwrap();
        assert_eq!(bare.0.space.to_string(), SPACE);
        assert!(bare.0.via.is_empty());
    }

    #[test]
    fn malformed_links_are_refused_with_the_reason() {
        for bad in [
            "tim:join/xyz".to_string(),
            format!("tim:join/{SPACE}?via="),
            format!("tim:join/{SPACE}?to=somewhere"),
            format!("tim:join/{SPACE}?for=nobody"),
            format!("tim:join/{SPACE}?for={DID}&for={DID}"),
            "https://example.org".to_string(),
        ] {
            assert!(bad.parse::<JoinTarget>().is_err(), "{bad}");
        }
    }
}
