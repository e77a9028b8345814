//! The data records every request and response is built from (`Id`, `ACL`, `Stat`,
//! `WatcherEvent`, `ClientInfo`) and the small enumerations they carry (permissions, create
//! modes, event types, keeper states, watcher types, add-watch modes).

use bytes::BytesMut;

use super::jute::{put_int, put_long, put_string, JuteError, Reader, Record};

/// An identity: a scheme (`world`, `auth`, `digest`, `ip`, `super`) and an id within it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    /// The scheme.
    pub scheme: String,
    /// The id (`anyone`, `user:base64(sha1)`, `10.0.0.0/8`).
    pub id: String,
}

impl Id {
    /// An identity.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }
}

impl Record for Id {
    fn write(&self, out: &mut BytesMut) {
        put_string(out, &self.scheme);
        put_string(out, &self.id);
    }

    fn read(r: &mut Reader) -> Result<Id, JuteError> {
        Ok(Id {
            scheme: r.string("Id.scheme")?,
            id: r.string("Id.id")?,
        })
    }
}

/// Permission bits of an [`Acl`] (`ZooDefs.Perms`).
pub mod perms {
    /// Read data and children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set the ACL.
    pub const ADMIN: i32 = 16;
    /// Everything.
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// One entry of a node's access control list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Acl {
    /// The [`perms`] bits granted.
    pub perms: i32,
    /// To whom.
    pub id: Id,
}

impl Acl {
    /// `OPEN_ACL_UNSAFE`: everything, to anyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("world", "anyone"),
        }]
    }

    /// `CREATOR_ALL_ACL`: everything, to the identities the creator authenticated as.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("auth", ""),
        }]
    }

    /// `READ_ACL_UNSAFE`: read, to anyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        }]
    }
}

impl Record for Acl {
    fn write(&self, out: &mut BytesMut) {
        put_int(out, self.perms);
        self.id.write(out);
    }

    fn read(r: &mut Reader) -> Result<Acl, JuteError> {
        Ok(Acl {
            perms: r.int("ACL.perms")?,
            id: Id::read(r)?,
        })
    }
}

/// Fewest bytes an encoded [`Acl`] takes (perms and two empty strings).
pub const ACL_BYTES_MIN: usize = 12;

/// A node's metadata as ZooKeeper reports it (68 bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Stat {
    /// The zxid of the change that created the node.
    pub czxid: i64,
    /// The zxid of the change that last set its data.
    pub mzxid: i64,
    /// When it was created, in ms since the epoch.
    pub ctime: i64,
    /// When its data was last set, in ms since the epoch.
    pub mtime: i64,
    /// Data changes since creation.
    pub version: i32,
    /// Child creations since creation.
    pub cversion: i32,
    /// ACL changes since creation.
    pub aversion: i32,
    /// The owning session of an ephemeral; 0 for a persistent node; special values mark
    /// containers and TTL nodes ([`CreateMode`]).
    pub ephemeral_owner: i64,
    /// Bytes of data (0 for null).
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
    /// The zxid of the last change to its children.
    pub pzxid: i64,
}

/// Bytes of an encoded [`Stat`].
pub const STAT_BYTES: usize = 68;

impl Record for Stat {
    fn write(&self, out: &mut BytesMut) {
        put_long(out, self.czxid);
        put_long(out, self.mzxid);
        put_long(out, self.ctime);
        put_long(out, self.mtime);
        put_int(out, self.version);
        put_int(out, self.cversion);
        put_int(out, self.aversion);
        put_long(out, self.ephemeral_owner);
        put_int(out, self.data_length);
        put_int(out, self.num_children);
        put_long(out, self.pzxid);
    }

    fn read(r: &mut Reader) -> Result<Stat, JuteError> {
        Ok(Stat {
            czxid: r.long("Stat.czxid")?,
            mzxid: r.long("Stat.mzxid")?,
            ctime: r.long("Stat.ctime")?,
            mtime: r.long("Stat.mtime")?,
            version: r.int("Stat.version")?,
            cversion: r.int("Stat.cversion")?,
            aversion: r.int("Stat.aversion")?,
            ephemeral_owner: r.long("Stat.ephemeralOwner")?,
            data_length: r.int("Stat.dataLength")?,
            num_children: r.int("Stat.numChildren")?,
            pzxid: r.long("Stat.pzxid")?,
        })
    }
}

/// How a node is created (`CreateMode`, the `flags` of a create request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreateMode {
    /// Stays until deleted.
    Persistent,
    /// Deleted when its session ends.
    Ephemeral,
    /// Persistent, with a sequence number appended to its name.
    PersistentSequential,
    /// Ephemeral, with a sequence number appended to its name.
    EphemeralSequential,
    /// Deleted once its last child is deleted.
    Container,
    /// Deleted when unmodified for its TTL and childless.
    PersistentWithTtl,
    /// A TTL node with a sequence number appended to its name.
    PersistentSequentialWithTtl,
}

impl CreateMode {
    /// The mode of a create request's `flags`, if valid.
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        Some(match flags {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return None,
        })
    }

    /// The `flags` value.
    pub fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }

    /// Whether the node ends with its session.
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Whether a sequence number is appended to the name.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// Whether the node has a time to live.
    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// `ephemeralOwner` of a container node.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
/// Largest TTL a node can have, in ms (the low 40 bits of `ephemeralOwner`).
pub const TTL_MS_MAX: i64 = (1 << 40) - 1;

/// `ephemeralOwner` of a TTL node: high byte 0xff, the TTL in the low 40 bits.
pub fn ttl_ephemeral_owner(ttl_ms: i64) -> i64 {
    (0xffu64 << 56) as i64 | (ttl_ms & TTL_MS_MAX)
}

/// The TTL a TTL node's `ephemeralOwner` marker carries, or `None` for any other owner: the
/// inverse of [`ttl_ephemeral_owner`].
pub fn ttl_of_ephemeral_owner(ephemeral_owner: i64) -> Option<i64> {
    ((ephemeral_owner as u64 >> 56) == 0xff).then_some(ephemeral_owner & TTL_MS_MAX)
}

/// Whether an `ephemeralOwner` names a session (an ephemeral node), rather than being 0 (a
/// persistent node) or a container or TTL marker (ZooKeeper's `EphemeralType.NORMAL`).
pub fn owned_by_session(ephemeral_owner: i64) -> bool {
    ephemeral_owner != 0
        && ephemeral_owner != CONTAINER_EPHEMERAL_OWNER
        && ttl_of_ephemeral_owner(ephemeral_owner).is_none()
}

/// What happened to a watched node (`Watcher.Event.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum EventType {
    /// A state change of the connection, not of a node.
    None = -1,
    /// The node was created.
    NodeCreated = 1,
    /// The node was deleted.
    NodeDeleted = 2,
    /// The node's data changed.
    NodeDataChanged = 3,
    /// The node's children changed.
    NodeChildrenChanged = 4,
    /// A data watch was removed.
    DataWatchRemoved = 5,
    /// A child watch was removed.
    ChildWatchRemoved = 6,
    /// A persistent watch was removed.
    PersistentWatchRemoved = 7,
}

impl EventType {
    /// The event type of a number.
    pub fn from_code(code: i32) -> Option<EventType> {
        Some(match code {
            -1 => EventType::None,
            1 => EventType::NodeCreated,
            2 => EventType::NodeDeleted,
            3 => EventType::NodeDataChanged,
            4 => EventType::NodeChildrenChanged,
            5 => EventType::DataWatchRemoved,
            6 => EventType::ChildWatchRemoved,
            7 => EventType::PersistentWatchRemoved,
            _ => return None,
        })
    }
}

/// The connection state a watch event reports (`Watcher.Event.KeeperState`); a server sends
/// node events with [`KeeperState::SyncConnected`] only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum KeeperState {
    /// Disconnected from the server.
    Disconnected = 0,
    /// Connected.
    SyncConnected = 3,
    /// Authentication failed.
    AuthFailed = 4,
    /// Connected to a read-only server.
    ConnectedReadOnly = 5,
    /// SASL authentication succeeded.
    SaslAuthenticated = 6,
    /// The session expired.
    Expired = -112,
    /// The client closed the session.
    Closed = 7,
}

/// A watch event, sent with xid -1 and the triggering zxid in the reply header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherEvent {
    /// An [`EventType`] number.
    pub event_type: i32,
    /// A [`KeeperState`] number.
    pub state: i32,
    /// The node (empty for state events).
    pub path: String,
}

impl Record for WatcherEvent {
    fn write(&self, out: &mut BytesMut) {
        put_int(out, self.event_type);
        put_int(out, self.state);
        put_string(out, &self.path);
    }

    fn read(r: &mut Reader) -> Result<WatcherEvent, JuteError> {
        Ok(WatcherEvent {
            event_type: r.int("WatcherEvent.type")?,
            state: r.int("WatcherEvent.state")?,
            path: r.string("WatcherEvent.path")?,
        })
    }
}

/// Which watches a checkWatches or removeWatches request means (`Watcher.WatcherType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatcherType {
    /// Child watches.
    Children,
    /// Data (and exist) watches.
    Data,
    /// Any watch.
    Any,
    /// Persistent watches.
    Persistent,
    /// Persistent recursive watches.
    PersistentRecursive,
}

impl WatcherType {
    /// The watcher type of a number.
    pub fn from_code(code: i32) -> Option<WatcherType> {
        Some(match code {
            1 => WatcherType::Children,
            2 => WatcherType::Data,
            3 => WatcherType::Any,
            4 => WatcherType::Persistent,
            5 => WatcherType::PersistentRecursive,
            _ => return None,
        })
    }

    /// The number on the wire.
    pub fn code(self) -> i32 {
        match self {
            WatcherType::Children => 1,
            WatcherType::Data => 2,
            WatcherType::Any => 3,
            WatcherType::Persistent => 4,
            WatcherType::PersistentRecursive => 5,
        }
    }
}

/// The `mode` of an addWatch request (`AddWatchMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddWatchMode {
    /// Fires on the node's changes and stays set.
    Persistent,
    /// Fires on the changes of the node and every descendant, and stays set.
    PersistentRecursive,
}

impl AddWatchMode {
    /// The mode of a number.
    pub fn from_code(code: i32) -> Option<AddWatchMode> {
        match code {
            0 => Some(AddWatchMode::Persistent),
            1 => Some(AddWatchMode::PersistentRecursive),
            _ => None,
        }
    }
}

/// One identity a session authenticated as, as whoAmI reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The scheme (`ip`, `digest`, `super`).
    pub auth_scheme: String,
    /// The user within it.
    pub user: String,
}

impl Record for ClientInfo {
    fn write(&self, out: &mut BytesMut) {
        put_string(out, &self.auth_scheme);
        put_string(out, &self.user);
    }

    fn read(r: &mut Reader) -> Result<ClientInfo, JuteError> {
        Ok(ClientInfo {
            auth_scheme: r.string("ClientInfo.authScheme")?,
            user: r.string("ClientInfo.user")?,
        })
    }
}
