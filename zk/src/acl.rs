//! Access control as ZooKeeper enforces it: the identities a connection holds (its `ip`, the
//! `digest` users it added with `addauth`, `super`), the check of an operation's permission
//! against a node's ACL, and the fix-up of an ACL given to create or setACL (`auth` expanded to
//! the caller's identities, ids checked, duplicates dropped).

use std::net::IpAddr;

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::proto::records::{Acl, Id};
use crate::proto::ErrorCode;

/// The digest id of `user:password`: `user:` and base64(SHA-1(`user:password`)), as
/// ZooKeeper's `DigestAuthenticationProvider.generateDigest` computes it.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or_default();
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The identity an `addauth` packet gives, or AUTHFAILED for a scheme this server does not
/// know or malformed credentials.
pub fn authenticate(
    scheme: &str,
    auth: &[u8],
    super_digest: Option<&str>,
) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "digest" => {
            let Ok(text) = std::str::from_utf8(auth) else {
                return Err(ErrorCode::AuthFailed);
            };
            let id = digest_id(text);
            let mut ids = vec![Id::new("digest", id.clone())];
            if super_digest == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            Ok(ids)
        }
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// Whether `ids` (a connection's identities) may do what `perm` names on a node with `acl`.
pub fn allowed(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
    if ids.iter().any(|id| id.scheme == "super") || acl.is_empty() {
        return true;
    }
    acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
        (a.id.scheme == "world" && a.id.id == "anyone")
            || ids
                .iter()
                .filter(|id| id.scheme == a.id.scheme)
                .any(|id| matches(&a.id.scheme, &id.id, &a.id.id))
    })
}

/// Whether a connection's id `have` satisfies an ACL id `want` of `scheme`.
fn matches(scheme: &str, have: &str, want: &str) -> bool {
    match scheme {
        "ip" => ip_matches(have, want),
        _ => have == want,
    }
}

/// `addr` against an ACL's `net[/bits]`.
fn ip_matches(addr: &str, net: &str) -> bool {
    let (net, bits) = match net.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (net, None),
    };
    let (Ok(addr), Ok(net)) = (addr.parse::<IpAddr>(), net.parse::<IpAddr>()) else {
        return false;
    };
    let (a, n, width) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u32::from(a) as u128, u32::from(n) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    let bits = bits.unwrap_or(width).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (n >> shift)
}

/// Whether `id` is a well-formed id of its scheme in an ACL.
fn valid_id(id: &Id) -> bool {
    match id.scheme.as_str() {
        "world" => id.id == "anyone",
        "digest" => id
            .id
            .split_once(':')
            .is_some_and(|(u, h)| !u.is_empty() && !h.is_empty()),
        "ip" => {
            let (net, bits) = match id.id.split_once('/') {
                Some((n, b)) => (n, Some(b)),
                None => (id.id.as_str(), None),
            };
            net.parse::<IpAddr>().is_ok_and(|a| {
                let width = if a.is_ipv4() { 32 } else { 128 };
                bits.is_none_or(|b| b.parse::<u32>().is_ok_and(|b| b <= width))
            })
        }
        "super" => true,
        _ => false,
    }
}

/// The ACL to store for a create or setACL: `auth` entries become one entry per authenticated
/// identity of the caller (INVALIDACL if it has none), every other id must be well formed, and
/// duplicates are dropped. An empty list is INVALIDACL.
pub fn fix_up(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out: Vec<Acl> = Vec::with_capacity(acl.len());
    let mut push = |a: Acl| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for a in acl {
        if a.id.scheme == "auth" {
            // Identities that prove something: not the address every connection has.
            let mut any = false;
            for id in ids
                .iter()
                .filter(|id| id.scheme != "ip" && id.scheme != "super")
            {
                any = true;
                push(Acl {
                    perms: a.perms,
                    id: id.clone(),
                });
            }
            if !any {
                return Err(ErrorCode::InvalidAcl);
            }
        } else if valid_id(&a.id) {
            push(a.clone());
        } else {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::perms;

    #[test]
    fn digests_are_computed_as_zookeeper_computes_them() {
        // The super digest every ZooKeeper client library's tests configure is that of
        // super:test.
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        let ids = authenticate(
            "digest",
            b"super:test",
            Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU="),
        )
        .unwrap();
        assert!(ids.contains(&Id::new("super", "")));
        assert_eq!(
            authenticate("kerberos", b"x", None),
            Err(ErrorCode::AuthFailed)
        );
    }

    #[test]
    fn permissions_follow_the_acl() {
        let bob = Id::new("digest", digest_id("bob:pw"));
        let acl = vec![
            Acl {
                perms: perms::READ,
                id: Id::new("world", "anyone"),
            },
            Acl {
                perms: perms::ALL,
                id: bob.clone(),
            },
            Acl {
                perms: perms::WRITE,
                id: Id::new("ip", "10.0.0.0/8"),
            },
        ];
        let anon = [Id::new("ip", "127.0.0.1")];
        assert!(allowed(&acl, perms::READ, &anon));
        assert!(!allowed(&acl, perms::WRITE, &anon));
        assert!(allowed(&acl, perms::WRITE, &[Id::new("ip", "10.1.2.3")]));
        assert!(!allowed(&acl, perms::ADMIN, &[Id::new("ip", "10.1.2.3")]));
        assert!(allowed(&acl, perms::ADMIN, &[bob]));
        assert!(allowed(&acl, perms::ADMIN, &[Id::new("super", "")]));
        assert!(allowed(&[], perms::ADMIN, &anon));
        assert!(ip_matches("::1", "::1/128"));
        assert!(!ip_matches("127.0.0.1", "::1"));
        assert!(ip_matches("192.168.1.7", "192.168.0.0/16"));
        assert!(!ip_matches("192.169.1.7", "192.168.0.0/16"));
    }

    #[test]
    fn acls_are_fixed_up_or_refused() {
        let anon = [Id::new("ip", "127.0.0.1")];
        assert_eq!(fix_up(&[], &anon), Err(ErrorCode::InvalidAcl));
        assert_eq!(
            fix_up(&Acl::creator_all(), &anon),
            Err(ErrorCode::InvalidAcl)
        );
        let bob = Id::new("digest", digest_id("bob:pw"));
        let ids = [anon[0].clone(), bob.clone()];
        assert_eq!(
            fix_up(&Acl::creator_all(), &ids),
            Ok(vec![Acl {
                perms: perms::ALL,
                id: bob
            }])
        );
        let twice = [Acl::open_unsafe(), Acl::open_unsafe()].concat();
        assert_eq!(fix_up(&twice, &anon), Ok(Acl::open_unsafe()));
        for bad in [
            ("world", "someone"),
            ("digest", "nocolon"),
            ("ip", "10.0.0.0/33"),
            ("x", "y"),
        ] {
            let acl = [Acl {
                perms: perms::ALL,
                id: Id::new(bad.0, bad.1),
            }];
            assert_eq!(fix_up(&acl, &anon), Err(ErrorCode::InvalidAcl), "{bad:?}");
        }
    }
}
