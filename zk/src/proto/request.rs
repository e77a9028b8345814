//! Every request a client sends after the handshake: one variant per opcode with its record,
//! decoded from the opcode of the [`super::RequestHeader`] and the rest of the frame, and encoded
//! back (a client, the differential tests). Bytes after a complete record are ignored, as
//! ZooKeeper ignores them.

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use super::jute::{
    put_bool, put_buffer, put_int, put_long, put_string, put_strings, put_vector, JuteError,
    Reader, Record,
};
use super::records::{Acl, ACL_BYTES_MIN};
use super::OpCode;

/// Why a request body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The opcode is not one a client may send (ZooKeeper answers UNIMPLEMENTED and closes).
    #[error("unknown opcode {0}")]
    UnknownOp(i32),
    /// The record is malformed (ZooKeeper answers MARSHALLINGERROR or closes).
    #[error("malformed request: {0}")]
    Malformed(#[from] JuteError),
}

/// create, create2, createContainer: `CreateRequest`; createTTL adds `ttl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The node, or the prefix of a sequential node's name.
    pub path: String,
    /// Its data; `None` is null.
    pub data: Option<Bytes>,
    /// Its ACL.
    pub acl: Vec<Acl>,
    /// A [`super::CreateMode`] flags value.
    pub flags: i32,
    /// The time to live in ms (createTTL only).
    pub ttl_ms: Option<i64>,
}

/// A request that names a node and whether to leave a watch on it (exists, getData,
/// getChildren, getChildren2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRequest {
    /// The node.
    pub path: String,
    /// Whether to leave a watch.
    pub watch: bool,
}

/// A request that names a node (or, for getEphemerals, a path prefix) and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRequest {
    /// The node or prefix.
    pub path: String,
}

/// delete and check: a node and the version it must have (-1: any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRequest {
    /// The node.
    pub path: String,
    /// The expected version, or -1.
    pub version: i32,
}

/// setData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDataRequest {
    /// The node.
    pub path: String,
    /// The new data; `None` is null.
    pub data: Option<Bytes>,
    /// The expected version, or -1.
    pub version: i32,
}

/// setACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAclRequest {
    /// The node.
    pub path: String,
    /// The new ACL.
    pub acl: Vec<Acl>,
    /// The expected ACL version (`aversion`), or -1.
    pub version: i32,
}

/// checkWatches and removeWatches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchesRequest {
    /// The node.
    pub path: String,
    /// A [`super::WatcherType`] number.
    pub watcher_type: i32,
}

/// addWatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddWatchRequest {
    /// The node.
    pub path: String,
    /// An [`super::AddWatchMode`] number.
    pub mode: i32,
}

/// An auth packet (xid -4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPacket {
    /// Always 0.
    pub auth_type: i32,
    /// The scheme (`digest`).
    pub scheme: String,
    /// The credentials (`user:password` for digest).
    pub auth: Bytes,
}

/// setWatches and setWatches2 (xid -8): the watches a reconnecting client still holds, to be
/// re-armed or fired for what changed after `relative_zxid`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetWatches {
    /// The last zxid the client saw.
    pub relative_zxid: i64,
    /// Data watches.
    pub data: Vec<String>,
    /// Exist watches.
    pub exist: Vec<String>,
    /// Child watches.
    pub child: Vec<String>,
    /// Persistent watches (setWatches2 only).
    pub persistent: Vec<String>,
    /// Persistent recursive watches (setWatches2 only).
    pub persistent_recursive: Vec<String>,
}

/// reconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconfigRequest {
    /// Servers to add.
    pub joining_servers: Option<String>,
    /// Servers to remove.
    pub leaving_servers: Option<String>,
    /// A whole new membership.
    pub new_members: Option<String>,
    /// The configuration version this applies to, or -1.
    pub cur_config_id: i64,
}

/// A request, by opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create (1): answers the path.
    Create(CreateRequest),
    /// create2 (15): answers the path and `Stat`.
    Create2(CreateRequest),
    /// createContainer (19).
    CreateContainer(CreateRequest),
    /// createTTL (21).
    CreateTtl(CreateRequest),
    /// delete (2).
    Delete(VersionRequest),
    /// exists (3).
    Exists(WatchRequest),
    /// getData (4).
    GetData(WatchRequest),
    /// setData (5).
    SetData(SetDataRequest),
    /// getACL (6).
    GetAcl(PathRequest),
    /// setACL (7).
    SetAcl(SetAclRequest),
    /// getChildren (8).
    GetChildren(WatchRequest),
    /// sync (9).
    Sync(PathRequest),
    /// ping (11).
    Ping,
    /// getChildren2 (12).
    GetChildren2(WatchRequest),
    /// check (13).
    Check(VersionRequest),
    /// multi (14): writes, all or nothing.
    Multi(Vec<Request>),
    /// reconfig (16).
    Reconfig(ReconfigRequest),
    /// checkWatches (17).
    CheckWatches(WatchesRequest),
    /// removeWatches (18).
    RemoveWatches(WatchesRequest),
    /// multiRead (22): reads, each answered on its own.
    MultiRead(Vec<Request>),
    /// auth (100).
    Auth(AuthPacket),
    /// setWatches (101).
    SetWatches(SetWatches),
    /// SASL (102): the token.
    Sasl(Option<Bytes>),
    /// getEphemerals (103).
    GetEphemerals(PathRequest),
    /// getAllChildrenNumber (104).
    GetAllChildrenNumber(PathRequest),
    /// setWatches2 (105).
    SetWatches2(SetWatches),
    /// addWatch (106).
    AddWatch(AddWatchRequest),
    /// whoAmI (107).
    WhoAmI,
    /// closeSession (-11).
    CloseSession,
}

/// A multi op's header: its opcode, whether it ends the list, and (in a response) its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultiHeader {
    /// The op's opcode, or -1.
    pub op: i32,
    /// Whether this header ends the list.
    pub done: bool,
    /// The op's error (responses); -1 in requests.
    pub err: i32,
}

impl MultiHeader {
    /// The header that ends a list.
    pub const END: MultiHeader = MultiHeader {
        op: -1,
        done: true,
        err: -1,
    };
}

impl Record for MultiHeader {
    fn write(&self, out: &mut BytesMut) {
        put_int(out, self.op);
        put_bool(out, self.done);
        put_int(out, self.err);
    }

    fn read(r: &mut Reader) -> Result<MultiHeader, JuteError> {
        Ok(MultiHeader {
            op: r.int("MultiHeader.type")?,
            done: r.bool("MultiHeader.done")?,
            err: r.int("MultiHeader.err")?,
        })
    }
}

impl Request {
    /// The request's opcode.
    pub fn op(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// Whether the request changes the tree (it goes through the quorum).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create(_)
                | Request::Create2(_)
                | Request::CreateContainer(_)
                | Request::CreateTtl(_)
                | Request::Delete(_)
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::Reconfig(_)
                | Request::CloseSession
        )
    }

    /// Decodes the body of a request of opcode `op` (the frame after its header).
    pub fn decode(op: i32, body: Bytes) -> Result<Request, RequestError> {
        let mut r = Reader::new(body);
        Request::read_op(op, &mut r)
    }

    fn read_op(op: i32, r: &mut Reader) -> Result<Request, RequestError> {
        let code = OpCode::from_code(op).ok_or(RequestError::UnknownOp(op))?;
        Ok(match code {
            OpCode::Create => Request::Create(read_create(r, false)?),
            OpCode::Create2 => Request::Create2(read_create(r, false)?),
            OpCode::CreateContainer => Request::CreateContainer(read_create(r, false)?),
            OpCode::CreateTtl => Request::CreateTtl(read_create(r, true)?),
            OpCode::Delete => Request::Delete(read_version(r)?),
            OpCode::Exists => Request::Exists(read_watch(r)?),
            OpCode::GetData => Request::GetData(read_watch(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest {
                path: r.string("SetDataRequest.path")?,
                data: r.buffer("SetDataRequest.data")?,
                version: r.int("SetDataRequest.version")?,
            }),
            OpCode::GetAcl => Request::GetAcl(read_path(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest {
                path: r.string("SetACLRequest.path")?,
                acl: r.vector("SetACLRequest.acl", ACL_BYTES_MIN, Acl::read)?,
                version: r.int("SetACLRequest.version")?,
            }),
            OpCode::GetChildren => Request::GetChildren(read_watch(r)?),
            OpCode::Sync => Request::Sync(read_path(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::GetChildren2 => Request::GetChildren2(read_watch(r)?),
            OpCode::Check => Request::Check(read_version(r)?),
            OpCode::Multi => Request::Multi(read_multi(r, false)?),
            OpCode::MultiRead => Request::MultiRead(read_multi(r, true)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest {
                joining_servers: r.ustring("ReconfigRequest.joiningServers")?,
                leaving_servers: r.ustring("ReconfigRequest.leavingServers")?,
                new_members: r.ustring("ReconfigRequest.newMembers")?,
                cur_config_id: r.long("ReconfigRequest.curConfigId")?,
            }),
            OpCode::CheckWatches => Request::CheckWatches(read_watches(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(read_watches(r)?),
            OpCode::Auth => Request::Auth(AuthPacket {
                auth_type: r.int("AuthPacket.type")?,
                scheme: r.string("AuthPacket.scheme")?,
                auth: r.buffer("AuthPacket.auth")?.unwrap_or_default(),
            }),
            OpCode::SetWatches => Request::SetWatches(read_set_watches(r, false)?),
            OpCode::SetWatches2 => Request::SetWatches2(read_set_watches(r, true)?),
            OpCode::Sasl => Request::Sasl(r.buffer("GetSASLRequest.token")?),
            OpCode::GetEphemerals => Request::GetEphemerals(read_path(r)?),
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber(read_path(r)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest {
                path: r.string("AddWatchRequest.path")?,
                mode: r.int("AddWatchRequest.mode")?,
            }),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => return Err(RequestError::UnknownOp(op)),
        })
    }

    /// Appends the request's body (not its header).
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Request::Create(c)
            | Request::Create2(c)
            | Request::CreateContainer(c)
            | Request::CreateTtl(c) => {
                put_string(out, &c.path);
                put_buffer(out, c.data.as_deref());
                put_vector(out, &c.acl, |out, a| a.write(out));
                put_int(out, c.flags);
                if let Request::CreateTtl(_) = self {
                    put_long(out, c.ttl_ms.unwrap_or(0));
                }
            }
            Request::Delete(v) | Request::Check(v) => {
                put_string(out, &v.path);
                put_int(out, v.version);
            }
            Request::Exists(w)
            | Request::GetData(w)
            | Request::GetChildren(w)
            | Request::GetChildren2(w) => {
                put_string(out, &w.path);
                put_bool(out, w.watch);
            }
            Request::SetData(s) => {
                put_string(out, &s.path);
                put_buffer(out, s.data.as_deref());
                put_int(out, s.version);
            }
            Request::GetAcl(p)
            | Request::Sync(p)
            | Request::GetEphemerals(p)
            | Request::GetAllChildrenNumber(p) => put_string(out, &p.path),
            Request::SetAcl(s) => {
                put_string(out, &s.path);
                put_vector(out, &s.acl, |out, a| a.write(out));
                put_int(out, s.version);
            }
            Request::Multi(ops) | Request::MultiRead(ops) => {
                for op in ops {
                    MultiHeader {
                        op: op.op().code(),
                        done: false,
                        err: -1,
                    }
                    .write(out);
                    op.write(out);
                }
                MultiHeader::END.write(out);
            }
            Request::Reconfig(c) => {
                put_buffer(out, c.joining_servers.as_deref().map(str::as_bytes));
                put_buffer(out, c.leaving_servers.as_deref().map(str::as_bytes));
                put_buffer(out, c.new_members.as_deref().map(str::as_bytes));
                put_long(out, c.cur_config_id);
            }
            Request::CheckWatches(w) | Request::RemoveWatches(w) => {
                put_string(out, &w.path);
                put_int(out, w.watcher_type);
            }
            Request::Auth(a) => {
                put_int(out, a.auth_type);
                put_string(out, &a.scheme);
                put_buffer(out, Some(&a.auth));
            }
            Request::SetWatches(s) | Request::SetWatches2(s) => {
                put_long(out, s.relative_zxid);
                put_strings(out, &s.data);
                put_strings(out, &s.exist);
                put_strings(out, &s.child);
                if let Request::SetWatches2(_) = self {
                    put_strings(out, &s.persistent);
                    put_strings(out, &s.persistent_recursive);
                }
            }
            Request::Sasl(token) => put_buffer(out, token.as_deref()),
            Request::AddWatch(a) => {
                put_string(out, &a.path);
                put_int(out, a.mode);
            }
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }
}

fn read_create(r: &mut Reader, ttl: bool) -> Result<CreateRequest, JuteError> {
    Ok(CreateRequest {
        path: r.string("CreateRequest.path")?,
        data: r.buffer("CreateRequest.data")?,
        acl: r.vector("CreateRequest.acl", ACL_BYTES_MIN, Acl::read)?,
        flags: r.int("CreateRequest.flags")?,
        ttl_ms: if ttl {
            Some(r.long("CreateTTLRequest.ttl")?)
        } else {
            None
        },
    })
}

fn read_watch(r: &mut Reader) -> Result<WatchRequest, JuteError> {
    Ok(WatchRequest {
        path: r.string("path")?,
        watch: r.bool("watch")?,
    })
}

fn read_path(r: &mut Reader) -> Result<PathRequest, JuteError> {
    Ok(PathRequest {
        path: r.string("path")?,
    })
}

fn read_version(r: &mut Reader) -> Result<VersionRequest, JuteError> {
    Ok(VersionRequest {
        path: r.string("path")?,
        version: r.int("version")?,
    })
}

fn read_watches(r: &mut Reader) -> Result<WatchesRequest, JuteError> {
    Ok(WatchesRequest {
        path: r.string("path")?,
        watcher_type: r.int("type")?,
    })
}

fn read_set_watches(r: &mut Reader, v2: bool) -> Result<SetWatches, JuteError> {
    let mut s = SetWatches {
        relative_zxid: r.long("SetWatches.relativeZxid")?,
        data: r.strings("SetWatches.dataWatches")?,
        exist: r.strings("SetWatches.existWatches")?,
        child: r.strings("SetWatches.childWatches")?,
        ..SetWatches::default()
    };
    if v2 {
        s.persistent = r.strings("SetWatches2.persistentWatches")?;
        s.persistent_recursive = r.strings("SetWatches2.persistentRecursiveWatches")?;
    }
    Ok(s)
}

/// The ops of a multi (`read_only` false: creates, delete, setData, check) or a multiRead
/// (getChildren, getData), up to the end header. Another kind of op is malformed, as mixing
/// kinds is in ZooKeeper's `MultiOperationRecord`.
fn read_multi(r: &mut Reader, read_only: bool) -> Result<Vec<Request>, JuteError> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(ops);
        }
        let allowed = if read_only {
            matches!(
                OpCode::from_code(h.op),
                Some(OpCode::GetChildren | OpCode::GetData)
            )
        } else {
            matches!(
                OpCode::from_code(h.op),
                Some(
                    OpCode::Create
                        | OpCode::Create2
                        | OpCode::CreateContainer
                        | OpCode::CreateTtl
                        | OpCode::Delete
                        | OpCode::SetData
                        | OpCode::Check
                )
            )
        };
        if !allowed {
            return Err(JuteError::Invalid {
                what: "MultiHeader.type",
                reason: format!(
                    "op {} is not allowed in a {}",
                    h.op,
                    if read_only { "multiRead" } else { "multi" }
                ),
            });
        }
        let op = Request::read_op(h.op, r).map_err(|e| match e {
            RequestError::Malformed(j) => j,
            RequestError::UnknownOp(op) => JuteError::Invalid {
                what: "MultiHeader.type",
                reason: format!("unknown op {op}"),
            },
        })?;
        // Bounded: every round consumes a header and an op from a bounded frame.
        ops.push(op);
    }
}
