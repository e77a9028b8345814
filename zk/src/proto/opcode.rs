//! ZooKeeper's opcodes (`ZooDefs.OpCode`): the `type` of a `RequestHeader` and of a multi op.

/// An opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum OpCode {
    /// A watch event (server to client, xid -1).
    Notification = 0,
    /// Create a node; answers its path.
    Create = 1,
    /// Delete a node.
    Delete = 2,
    /// A node's `Stat`, if it exists; sets a data watch even on a missing node.
    Exists = 3,
    /// A node's data and `Stat`.
    GetData = 4,
    /// Replace a node's data.
    SetData = 5,
    /// A node's ACL and `Stat`.
    GetAcl = 6,
    /// Replace a node's ACL.
    SetAcl = 7,
    /// A node's children.
    GetChildren = 8,
    /// Catch the server up with the leader.
    Sync = 9,
    /// Keep the session alive (xid -2).
    Ping = 11,
    /// A node's children and `Stat`.
    GetChildren2 = 12,
    /// Check a node's version (inside a multi, mostly).
    Check = 13,
    /// Writes applied all or nothing.
    Multi = 14,
    /// Create a node; answers its path and `Stat`.
    Create2 = 15,
    /// Dynamic reconfiguration.
    Reconfig = 16,
    /// Whether a watch is set.
    CheckWatches = 17,
    /// Remove watches.
    RemoveWatches = 18,
    /// Create a container node.
    CreateContainer = 19,
    /// Delete a container node (internal).
    DeleteContainer = 20,
    /// Create a node with a time to live.
    CreateTtl = 21,
    /// Reads answered together, each on its own.
    MultiRead = 22,
    /// Add authentication (xid -4).
    Auth = 100,
    /// Re-arm watches after a reconnect (xid -8).
    SetWatches = 101,
    /// SASL authentication.
    Sasl = 102,
    /// The session's ephemeral nodes under a prefix.
    GetEphemerals = 103,
    /// The number of descendants of a node.
    GetAllChildrenNumber = 104,
    /// Re-arm watches, persistent ones too, after a reconnect (xid -8).
    SetWatches2 = 105,
    /// Add a persistent or persistent-recursive watch.
    AddWatch = 106,
    /// The identities the session has authenticated as.
    WhoAmI = 107,
    /// Create a session (internal).
    CreateSession = -10,
    /// Close the session.
    CloseSession = -11,
    /// An error result inside a multi response.
    Error = -1,
}

impl OpCode {
    /// Every opcode.
    pub const ALL: [OpCode; 33] = [
        OpCode::Notification,
        OpCode::Create,
        OpCode::Delete,
        OpCode::Exists,
        OpCode::GetData,
        OpCode::SetData,
        OpCode::GetAcl,
        OpCode::SetAcl,
        OpCode::GetChildren,
        OpCode::Sync,
        OpCode::Ping,
        OpCode::GetChildren2,
        OpCode::Check,
        OpCode::Multi,
        OpCode::Create2,
        OpCode::Reconfig,
        OpCode::CheckWatches,
        OpCode::RemoveWatches,
        OpCode::CreateContainer,
        OpCode::DeleteContainer,
        OpCode::CreateTtl,
        OpCode::MultiRead,
        OpCode::Auth,
        OpCode::SetWatches,
        OpCode::Sasl,
        OpCode::GetEphemerals,
        OpCode::GetAllChildrenNumber,
        OpCode::SetWatches2,
        OpCode::AddWatch,
        OpCode::WhoAmI,
        OpCode::CreateSession,
        OpCode::CloseSession,
        OpCode::Error,
    ];

    /// The number on the wire.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The opcode of a number, if ZooKeeper defines it.
    pub fn from_code(code: i32) -> Option<OpCode> {
        OpCode::ALL.into_iter().find(|o| o.code() == code)
    }

    /// The short name ZooKeeper's `cons` output shows as `lop` (the last operation).
    pub fn short_name(self) -> &'static str {
        match self {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                "CREA"
            }
            OpCode::Delete | OpCode::DeleteContainer => "DELE",
            OpCode::SetData => "SETD",
            OpCode::GetData => "GETD",
            OpCode::Exists => "EXIS",
            OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
            OpCode::Multi => "MULT",
            OpCode::MultiRead => "MLTR",
            OpCode::Sync => "SYNC",
            OpCode::SetWatches => "SETW",
            OpCode::SetWatches2 => "STW2",
            OpCode::AddWatch => "ADDW",
            OpCode::GetAcl => "GETA",
            OpCode::SetAcl => "SETA",
            OpCode::Check => "CHEC",
            OpCode::CloseSession => "CLOS",
            OpCode::Ping => "PING",
            OpCode::CreateSession => "SESS",
            OpCode::WhoAmI => "HOMI",
            OpCode::GetEphemerals => "GETE",
            OpCode::GetAllChildrenNumber => "GETACN",
            OpCode::CheckWatches => "CHKW",
            OpCode::RemoveWatches => "REMW",
            OpCode::Reconfig => "RECO",
            OpCode::Notification | OpCode::Auth | OpCode::Sasl | OpCode::Error => "NA",
        }
    }
}
