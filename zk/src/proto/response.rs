//! The bodies that follow a [`super::ReplyHeader`] whose `err` is 0, one shape per opcode (as
//! ZooKeeper's `FinalRequestProcessor` chooses them), and the results of a multi or multiRead.
//! A server encodes them; a client decodes them knowing the opcode it sent.

use bytes::{Bytes, BytesMut};

use super::jute::{
    put_buffer, put_int, put_string, put_strings, put_vector, JuteError, Reader, Record,
};
use super::records::{Acl, ClientInfo, Stat, ACL_BYTES_MIN};
use super::request::MultiHeader;
use super::OpCode;

/// A response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: delete, ping, auth, setWatches, checkWatches, removeWatches, closeSession.
    Empty,
    /// create: the created path (with a sequential suffix).
    Create {
        /// The created path.
        path: String,
    },
    /// create2, createContainer, createTTL: the path and the new node's `Stat`.
    Create2 {
        /// The created path.
        path: String,
        /// The new node's `Stat`.
        stat: Stat,
    },
    /// exists, setData, setACL, and check on its own: a `Stat`.
    Stat(Stat),
    /// getData.
    GetData {
        /// The data; `None` is null.
        data: Option<Bytes>,
        /// The node's `Stat`.
        stat: Stat,
    },
    /// getACL.
    GetAcl {
        /// The ACL.
        acl: Vec<Acl>,
        /// The node's `Stat`.
        stat: Stat,
    },
    /// getChildren, getEphemerals: names (children) or paths (ephemerals).
    Strings(Vec<String>),
    /// getChildren2.
    Children2 {
        /// The children's names.
        children: Vec<String>,
        /// The node's `Stat`.
        stat: Stat,
    },
    /// sync: the path synced.
    Sync {
        /// The path.
        path: String,
    },
    /// getAllChildrenNumber.
    AllChildrenNumber(i32),
    /// addWatch: an `ErrorResponse` holding 0.
    AddWatch,
    /// whoAmI.
    WhoAmI(Vec<ClientInfo>),
    /// reconfig: the new configuration as getData answers it.
    Reconfig {
        /// The configuration.
        data: Option<Bytes>,
        /// The config node's `Stat`.
        stat: Stat,
    },
    /// SASL: the server's token.
    Sasl(Option<Bytes>),
    /// multi and multiRead: one result per op.
    Multi(Vec<OpResult>),
}

/// The result of one op of a multi or multiRead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// create.
    Create {
        /// The created path.
        path: String,
    },
    /// create2, createContainer, createTTL.
    Create2 {
        /// The created path.
        path: String,
        /// The new node's `Stat`.
        stat: Stat,
    },
    /// delete.
    Delete,
    /// setData.
    SetData {
        /// The node's new `Stat`.
        stat: Stat,
    },
    /// check.
    Check,
    /// getChildren (multiRead).
    GetChildren {
        /// The children.
        children: Vec<String>,
    },
    /// getData (multiRead).
    GetData {
        /// The data.
        data: Option<Bytes>,
        /// The node's `Stat`.
        stat: Stat,
    },
    /// An op that failed, or was not applied because another failed: an
    /// [`super::ErrorCode`] number.
    Error(i32),
}

impl OpResult {
    /// The opcode this result carries in its header (-1 for an error).
    fn op(&self) -> OpCode {
        match self {
            OpResult::Create { .. } => OpCode::Create,
            OpResult::Create2 { .. } => OpCode::Create2,
            OpResult::Delete => OpCode::Delete,
            OpResult::SetData { .. } => OpCode::SetData,
            OpResult::Check => OpCode::Check,
            OpResult::GetChildren { .. } => OpCode::GetChildren,
            OpResult::GetData { .. } => OpCode::GetData,
            OpResult::Error(_) => OpCode::Error,
        }
    }
}

impl Response {
    /// Appends the body.
    pub fn write(&self, out: &mut BytesMut) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => put_string(out, path),
            Response::Create2 { path, stat } => {
                put_string(out, path);
                stat.write(out);
            }
            Response::Stat(stat) => stat.write(out),
            Response::GetData { data, stat } | Response::Reconfig { data, stat } => {
                put_buffer(out, data.as_deref());
                stat.write(out);
            }
            Response::GetAcl { acl, stat } => {
                put_vector(out, acl, |out, a| a.write(out));
                stat.write(out);
            }
            Response::Strings(v) => put_strings(out, v),
            Response::Children2 { children, stat } => {
                put_strings(out, children);
                stat.write(out);
            }
            Response::AllChildrenNumber(n) => put_int(out, *n),
            Response::AddWatch => put_int(out, 0),
            Response::WhoAmI(v) => put_vector(out, v, |out, c| c.write(out)),
            Response::Sasl(token) => put_buffer(out, token.as_deref()),
            Response::Multi(results) => {
                for result in results {
                    let err = match result {
                        OpResult::Error(e) => *e,
                        _ => 0,
                    };
                    MultiHeader {
                        op: result.op().code(),
                        done: false,
                        err,
                    }
                    .write(out);
                    match result {
                        OpResult::Create { path } => put_string(out, path),
                        OpResult::Create2 { path, stat } => {
                            put_string(out, path);
                            stat.write(out);
                        }
                        OpResult::Delete | OpResult::Check => {}
                        OpResult::SetData { stat } => stat.write(out),
                        OpResult::GetChildren { children } => put_strings(out, children),
                        OpResult::GetData { data, stat } => {
                            put_buffer(out, data.as_deref());
                            stat.write(out);
                        }
                        OpResult::Error(e) => put_int(out, *e),
                    }
                }
                MultiHeader::END.write(out);
            }
        }
    }

    /// Decodes the body answering a request of opcode `op` (a client's view: it knows what it
    /// asked).
    pub fn decode(op: OpCode, body: Bytes) -> Result<Response, JuteError> {
        let r = &mut Reader::new(body);
        Ok(match op {
            OpCode::Create => Response::Create {
                path: r.string("CreateResponse.path")?,
            },
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => Response::Create2 {
                path: r.string("Create2Response.path")?,
                stat: Stat::read(r)?,
            },
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl | OpCode::Check => {
                Response::Stat(Stat::read(r)?)
            }
            OpCode::GetData => Response::GetData {
                data: r.buffer("GetDataResponse.data")?,
                stat: Stat::read(r)?,
            },
            OpCode::Reconfig => Response::Reconfig {
                data: r.buffer("GetDataResponse.data")?,
                stat: Stat::read(r)?,
            },
            OpCode::GetAcl => Response::GetAcl {
                acl: r.vector("GetACLResponse.acl", ACL_BYTES_MIN, Acl::read)?,
                stat: Stat::read(r)?,
            },
            OpCode::GetChildren => Response::Strings(r.strings("GetChildrenResponse.children")?),
            OpCode::GetEphemerals => {
                Response::Strings(r.strings("GetEphemeralsResponse.ephemerals")?)
            }
            OpCode::GetChildren2 => Response::Children2 {
                children: r.strings("GetChildren2Response.children")?,
                stat: Stat::read(r)?,
            },
            OpCode::Sync => Response::Sync {
                path: r.string("SyncResponse.path")?,
            },
            OpCode::GetAllChildrenNumber => {
                Response::AllChildrenNumber(r.int("GetAllChildrenNumberResponse.totalNumber")?)
            }
            OpCode::AddWatch => {
                let err = r.int("ErrorResponse.err")?;
                if err != 0 {
                    return Err(JuteError::Invalid {
                        what: "ErrorResponse.err",
                        reason: format!("addWatch answered {err} in a successful reply"),
                    });
                }
                Response::AddWatch
            }
            OpCode::WhoAmI => {
                Response::WhoAmI(r.vector("WhoAmIResponse.clientInfo", 8, ClientInfo::read)?)
            }
            OpCode::Sasl => Response::Sasl(r.buffer("SetSASLResponse.token")?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(read_results(r)?),
            OpCode::Delete
            | OpCode::Ping
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::CloseSession
            | OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => Response::Empty,
        })
    }
}

fn read_results(r: &mut Reader) -> Result<Vec<OpResult>, JuteError> {
    let mut results = Vec::new();
    loop {
        let h = MultiHeader::read(r)?;
        if h.done {
            return Ok(results);
        }
        let result = match OpCode::from_code(h.op) {
            Some(OpCode::Create) => OpResult::Create {
                path: r.string("CreateResponse.path")?,
            },
            Some(OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl) => {
                OpResult::Create2 {
                    path: r.string("Create2Response.path")?,
                    stat: Stat::read(r)?,
                }
            }
            Some(OpCode::Delete) => OpResult::Delete,
            Some(OpCode::SetData) => OpResult::SetData {
                stat: Stat::read(r)?,
            },
            Some(OpCode::Check) => OpResult::Check,
            Some(OpCode::GetChildren) => OpResult::GetChildren {
                children: r.strings("GetChildrenResponse.children")?,
            },
            Some(OpCode::GetData) => OpResult::GetData {
                data: r.buffer("GetDataResponse.data")?,
                stat: Stat::read(r)?,
            },
            Some(OpCode::Error) => OpResult::Error(r.int("ErrorResponse.err")?),
            _ => {
                return Err(JuteError::Invalid {
                    what: "MultiHeader.type",
                    reason: format!("op {} cannot be a multi result", h.op),
                })
            }
        };
        results.push(result);
    }
}
