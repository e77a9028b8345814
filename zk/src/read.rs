//! Reads, answered from the local tree with ZooKeeper's checks: the node, and the READ permission (getACL: READ or ADMIN, and digest ids shown as `user:x` without ADMIN).
//! Watches are not set here: the connection does that once the read succeeded.

use crate::acl;
use crate::proto::records::{perms, Acl, Id};
use crate::proto::request::{PathRequest, WatchRequest};
use crate::proto::{ErrorCode, OpResult, Request, Response};
use crate::tree::{DataTree, Znode};

/// The node a read names. ZooKeeper's server does not validate a read's path (its Java client
/// does): a malformed path is simply not found.
fn node<'t>(tree: &'t DataTree, p: &str, perm: i32, ids: &[Id]) -> Result<&'t Znode, ErrorCode> {
    let n = tree.get(p).ok_or(ErrorCode::NoNode)?;
    if perm != 0 && !acl::allowed(&n.acl, perm, ids) {
        return Err(ErrorCode::NoAuth);
    }
    Ok(n)
}

fn children(n: &Znode) -> Vec<String> {
    n.children.iter().map(|c| c.to_string()).collect()
}

/// Answers a read request of `session_id` holding `ids`; `None` for a request that is not a
/// read.
pub fn read(
    tree: &DataTree,
    session_id: i64,
    ids: &[Id],
    request: &Request,
) -> Option<Result<Response, ErrorCode>> {
    Some(match request {
        // exists needs no permission: it says only whether the node is there.
        Request::Exists(WatchRequest { path: p, .. }) => {
            node(tree, p, 0, ids).map(|n| Response::Stat(n.stat()))
        }
        Request::GetData(WatchRequest { path: p, .. }) => {
            node(tree, p, perms::READ, ids).map(|n| Response::GetData {
                data: n.data.clone(),
                stat: n.stat(),
            })
        }
        Request::GetChildren(WatchRequest { path: p, .. }) => {
            node(tree, p, perms::READ, ids).map(|n| Response::Strings(children(n)))
        }
        Request::GetChildren2(WatchRequest { path: p, .. }) => {
            node(tree, p, perms::READ, ids).map(|n| Response::Children2 {
                children: children(n),
                stat: n.stat(),
            })
        }
        Request::GetAcl(PathRequest { path: p }) => node(tree, p, perms::READ | perms::ADMIN, ids)
            .map(|n| {
                let admin = acl::allowed(&n.acl, perms::ADMIN, ids);
                let acl = n.acl.iter().map(|a| redacted(a, admin)).collect();
                Response::GetAcl {
                    acl,
                    stat: n.stat(),
                }
            }),
        Request::GetAllChildrenNumber(PathRequest { path: p }) => node(tree, p, perms::READ, ids)
            .map(|_| {
                // ZooKeeper counts the paths that start with `path + "/"`: for "" (the root's
                // other name) that is every node but itself, "/" included.
                let extra = usize::from(p.is_empty());
                Response::AllChildrenNumber(
                    i32::try_from(tree.descendant_count(p) + extra).unwrap_or(i32::MAX),
                )
            }),
        Request::GetEphemerals(PathRequest { path: prefix }) => {
            let all = prefix.is_empty() || prefix == "/";
            Ok(Response::Strings(
                tree.ephemerals_of(session_id)
                    .into_iter()
                    .filter(|p| all || p.starts_with(prefix.as_str()))
                    .collect(),
            ))
        }
        Request::MultiRead(ops) => Ok(Response::Multi(
            ops.iter()
                .map(|op| match (op, read(tree, session_id, ids, op)) {
                    (Request::GetData(_), Some(Ok(Response::GetData { data, stat }))) => {
                        OpResult::GetData { data, stat }
                    }
                    (Request::GetChildren(_), Some(Ok(Response::Strings(children)))) => {
                        OpResult::GetChildren { children }
                    }
                    (_, Some(Err(code))) => OpResult::Error(code.code()),
                    _ => OpResult::Error(ErrorCode::BadArguments.code()),
                })
                .collect(),
        )),
        _ => return None,
    })
}

/// An ACL entry as a reader without ADMIN sees it: digest hashes hidden.
fn redacted(a: &Acl, admin: bool) -> Acl {
    if admin || a.id.scheme != "digest" {
        return a.clone();
    }
    let user = a.id.id.split(':').next().unwrap_or_default();
    Acl {
        perms: a.perms,
        id: Id::new("digest", format!("{user}:x")),
    }
}
