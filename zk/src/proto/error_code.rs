//! ZooKeeper's error codes (`KeeperException.Code`), the numbers a `ReplyHeader.err` and a multi
//! `ErrorResult` carry.

/// A ZooKeeper error code. `Ok` is 0; system errors are -1..-14, API errors -100 and below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    /// Everything is fine.
    Ok = 0,
    /// A system or server-side error.
    SystemError = -1,
    /// The operation was not applied because an earlier op of the same multi failed.
    RuntimeInconsistency = -2,
    /// A data inconsistency was found.
    DataInconsistency = -3,
    /// The connection to the server was lost (client side).
    ConnectionLoss = -4,
    /// A request could not be decoded or a response encoded.
    MarshallingError = -5,
    /// The operation is not implemented (an unknown opcode, TTL nodes when disabled).
    Unimplemented = -6,
    /// The operation timed out (client side).
    OperationTimeout = -7,
    /// Invalid arguments (a bad path, a bad create mode).
    BadArguments = -8,
    /// Unknown session (internal).
    UnknownSession = -12,
    /// A reconfiguration was attempted without a quorum for it.
    NewConfigNoQuorum = -13,
    /// Another reconfiguration is in progress.
    ReconfigInProgress = -14,
    /// The base of the API errors.
    ApiError = -100,
    /// The node does not exist.
    NoNode = -101,
    /// Not authorised for the operation.
    NoAuth = -102,
    /// The version given does not match the node's.
    BadVersion = -103,
    /// Ephemeral nodes may not have children.
    NoChildrenForEphemerals = -108,
    /// The node already exists.
    NodeExists = -110,
    /// The node has children.
    NotEmpty = -111,
    /// The session has expired.
    SessionExpired = -112,
    /// An invalid callback (client side).
    InvalidCallback = -113,
    /// An invalid ACL.
    InvalidAcl = -114,
    /// Authentication failed.
    AuthFailed = -115,
    /// The session moved to another server.
    SessionMoved = -118,
    /// A write reached a read-only server.
    NotReadOnly = -119,
    /// An ephemeral create on a local session.
    EphemeralOnLocalSession = -120,
    /// No such watch to check or remove.
    NoWatcher = -121,
    /// The request timed out on the server.
    RequestTimeout = -122,
    /// Dynamic reconfiguration is disabled.
    ReconfigDisabled = -123,
    /// The session was closed and requires SASL authentication.
    SessionClosedRequireSaslAuth = -124,
    /// A quota was exceeded.
    QuotaExceeded = -125,
    /// The operation was throttled.
    ThrottledOp = -127,
}

impl ErrorCode {
    /// Every code, in the order above.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::Ok,
        ErrorCode::SystemError,
        ErrorCode::RuntimeInconsistency,
        ErrorCode::DataInconsistency,
        ErrorCode::ConnectionLoss,
        ErrorCode::MarshallingError,
        ErrorCode::Unimplemented,
        ErrorCode::OperationTimeout,
        ErrorCode::BadArguments,
        ErrorCode::UnknownSession,
        ErrorCode::NewConfigNoQuorum,
        ErrorCode::ReconfigInProgress,
        ErrorCode::ApiError,
        ErrorCode::NoNode,
        ErrorCode::NoAuth,
        ErrorCode::BadVersion,
        ErrorCode::NoChildrenForEphemerals,
        ErrorCode::NodeExists,
        ErrorCode::NotEmpty,
        ErrorCode::SessionExpired,
        ErrorCode::InvalidCallback,
        ErrorCode::InvalidAcl,
        ErrorCode::AuthFailed,
        ErrorCode::SessionMoved,
        ErrorCode::NotReadOnly,
        ErrorCode::EphemeralOnLocalSession,
        ErrorCode::NoWatcher,
        ErrorCode::RequestTimeout,
        ErrorCode::ReconfigDisabled,
        ErrorCode::SessionClosedRequireSaslAuth,
        ErrorCode::QuotaExceeded,
        ErrorCode::ThrottledOp,
    ];

    /// The number on the wire.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The code of a number, if ZooKeeper defines it.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The constant's name in ZooKeeper's `KeeperException.Code` (`NONODE`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "OK",
            ErrorCode::SystemError => "SYSTEMERROR",
            ErrorCode::RuntimeInconsistency => "RUNTIMEINCONSISTENCY",
            ErrorCode::DataInconsistency => "DATAINCONSISTENCY",
            ErrorCode::ConnectionLoss => "CONNECTIONLOSS",
            ErrorCode::MarshallingError => "MARSHALLINGERROR",
            ErrorCode::Unimplemented => "UNIMPLEMENTED",
            ErrorCode::OperationTimeout => "OPERATIONTIMEOUT",
            ErrorCode::BadArguments => "BADARGUMENTS",
            ErrorCode::UnknownSession => "UNKNOWNSESSION",
            ErrorCode::NewConfigNoQuorum => "NEWCONFIGNOQUORUM",
            ErrorCode::ReconfigInProgress => "RECONFIGINPROGRESS",
            ErrorCode::ApiError => "APIERROR",
            ErrorCode::NoNode => "NONODE",
            ErrorCode::NoAuth => "NOAUTH",
            ErrorCode::BadVersion => "BADVERSION",
            ErrorCode::NoChildrenForEphemerals => "NOCHILDRENFOREPHEMERALS",
            ErrorCode::NodeExists => "NODEEXISTS",
            ErrorCode::NotEmpty => "NOTEMPTY",
            ErrorCode::SessionExpired => "SESSIONEXPIRED",
            ErrorCode::InvalidCallback => "INVALIDCALLBACK",
            ErrorCode::InvalidAcl => "INVALIDACL",
            ErrorCode::AuthFailed => "AUTHFAILED",
            ErrorCode::SessionMoved => "SESSIONMOVED",
            ErrorCode::NotReadOnly => "NOTREADONLY",
            ErrorCode::EphemeralOnLocalSession => "EPHEMERALONLOCALSESSION",
            ErrorCode::NoWatcher => "NOWATCHER",
            ErrorCode::RequestTimeout => "REQUESTTIMEOUT",
            ErrorCode::ReconfigDisabled => "RECONFIGDISABLED",
            ErrorCode::SessionClosedRequireSaslAuth => "SESSIONCLOSEDREQUIRESASLAUTH",
            ErrorCode::QuotaExceeded => "QUOTAEXCEEDED",
            ErrorCode::ThrottledOp => "THROTTLEDOP",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}
