//! The znode tree and the sessions that own ephemerals: the replicated state of the ZooKeeper
//! front. Every node applies the same committed transactions ([`crate::txn::Txn`]) in log order
//! and so holds the same tree; the zxid of a change is the log offset of its record.
//!
//! The tree is persistent (structurally shared maps, `imbl`): a clone is O(1), so a reader, a
//! snapshot or the active controller's scratch copy for a multi never blocks or copies the
//! writer.

use std::sync::Arc;

use bytes::Bytes;
use imbl::{HashMap, OrdMap, OrdSet};

use crate::path;
use crate::proto::records::{
    owned_by_session, ttl_of_ephemeral_owner, Acl, Stat, CONTAINER_EPHEMERAL_OWNER,
};

/// One znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Znode {
    /// Its data; `None` is null (a create with null data).
    pub data: Option<Bytes>,
    /// Its ACL (shared: most nodes of a tree carry one of a few ACLs).
    pub acl: Arc<[Acl]>,
    /// Its metadata as stored. Invariant: `stat.num_children == children.len()` and
    /// `stat.data_length == data.len()`. `stat.cversion` counts child creations only (it names
    /// the next sequential child); clients see [`Znode::stat`].
    pub stat: Stat,
    /// Its children's names.
    pub children: OrdSet<Arc<str>>,
}

impl Znode {
    /// The `Stat` a client sees, as ZooKeeper's `DataNode.copyStat` makes it: the cversion
    /// reported counts deletes of children too (twice the creations less the children left),
    /// so a sequential child's number is not the cversion a client reads once a child was
    /// deleted; and a container's or TTL node's marker shows as an ephemeralOwner of 0. Both
    /// found by `tests/tests/zookeeper_semantics.rs` against a real ZooKeeper.
    pub fn stat(&self) -> Stat {
        let owner = self.stat.ephemeral_owner;
        Stat {
            ephemeral_owner: if owned_by_session(owner) { owner } else { 0 },
            cversion: self
                .stat
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(self.stat.num_children),
            ..self.stat
        }
    }
}

/// What a create gives a new node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    /// Its data.
    pub data: Option<Bytes>,
    /// Its ACL.
    pub acl: Arc<[Acl]>,
    /// Its `ephemeralOwner`: 0, the owning session, or a container or TTL marker.
    pub ephemeral_owner: i64,
}

/// A session the quorum knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The negotiated timeout.
    pub timeout_ms: i32,
    /// The password a client must show to re-attach (16 random bytes drawn by the active
    /// controller; replicated so that any node can check it).
    pub passwd: Bytes,
}

/// The tree, the sessions and the ephemerals each owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTree {
    nodes: HashMap<Arc<str>, Arc<Znode>>,
    sessions: OrdMap<i64, Session>,
    // Invariant: a path is listed under a session iff the node exists and its ephemeralOwner
    // is that session.
    ephemerals: HashMap<i64, OrdSet<Arc<str>>>,
    // Invariant: exactly the paths of container and TTL nodes (the ones the active controller
    // may reap), so finding them does not scan the tree.
    expiring: OrdSet<Arc<str>>,
    last_zxid: i64,
}

impl Default for DataTree {
    fn default() -> DataTree {
        DataTree::new()
    }
}

impl DataTree {
    /// A fresh tree as ZooKeeper starts with: `/`, and the reserved `/zookeeper` with its
    /// `quota` and `config` children (config readable by anyone, writable by no one).
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: HashMap::new(),
            sessions: OrdMap::new(),
            ephemerals: HashMap::new(),
            expiring: OrdSet::new(),
            last_zxid: 0,
        };
        let open: Arc<[Acl]> = Acl::open_unsafe().into();
        for (p, acl) in [
            ("/", open.clone()),
            ("/zookeeper", open.clone()),
            ("/zookeeper/quota", open.clone()),
            ("/zookeeper/config", Acl::read_unsafe().into()),
        ] {
            let node = Znode {
                data: Some(Bytes::new()),
                acl,
                stat: Stat::default(),
                children: OrdSet::new(),
            };
            tree.nodes.insert(p.into(), Arc::new(node));
            if p != "/" {
                tree.link_child(path::parent(p), path::name(p));
            }
        }
        tree
    }

    /// Adds one node of a snapshot, as ZooKeeper's `DataTree.deserialize` reads them: the root
    /// starts the tree over (no other node, no session, zxid 0); any other node must be new and
    /// come after its parent, which must not be ephemeral. Children and `num_children` are rebuilt from the nodes that
    /// follow, the ephemerals index from the owners. On error nothing changed.
    pub fn restore_node(&mut self, path: &str, mut node: Znode) -> Result<(), String> {
        node.children = OrdSet::new();
        node.stat.num_children = 0;
        if path == "/" {
            *self = DataTree {
                nodes: HashMap::new(),
                sessions: OrdMap::new(),
                ephemerals: HashMap::new(),
                expiring: OrdSet::new(),
                last_zxid: 0,
            };
            self.nodes.insert("/".into(), Arc::new(node));
            return Ok(());
        }
        if self.nodes.contains_key(path) {
            return Err(format!("{path} appears twice"));
        }
        match self.nodes.get(path::parent(path)) {
            None => return Err(format!("{path} comes before its parent")),
            Some(p) if owned_by_session(p.stat.ephemeral_owner) => {
                return Err(format!("{path} is the child of an ephemeral node"))
            }
            Some(_) => {}
        }
        self.link_child(path::parent(path), path::name(path));
        let key: Arc<str> = path.into();
        if owned_by_session(node.stat.ephemeral_owner) {
            self.ephemerals
                .entry(node.stat.ephemeral_owner)
                .or_default()
                .insert(key.clone());
        } else if expiring(node.stat.ephemeral_owner) {
            self.expiring.insert(key.clone());
        }
        self.nodes.insert(key, Arc::new(node));
        Ok(())
    }

    /// Adds one session of a snapshot; a session given twice is an error.
    pub fn restore_session(&mut self, id: i64, session: Session) -> Result<(), String> {
        if self.sessions.contains_key(&id) {
            return Err(format!("session 0x{id:x} appears twice"));
        }
        self.sessions.insert(id, session);
        Ok(())
    }

    /// Sets the zxid a snapshot is at.
    pub fn restore_last_zxid(&mut self, zxid: i64) {
        self.last_zxid = zxid;
    }

    /// The zxid of the last change applied.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// The node at `path`. The root answers to `""` as well as `/`, as in ZooKeeper, which
    /// keeps it under both names.
    pub fn get(&self, path: &str) -> Option<&Znode> {
        let path = if path.is_empty() { "/" } else { path };
        self.nodes.get(path).map(|n| &**n)
    }

    /// Number of znodes, the root and the reserved ones included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The session `id`, if it is open.
    pub fn session(&self, id: i64) -> Option<Session> {
        self.sessions.get(&id).cloned()
    }

    /// The highest open session id, if any (O(log n): the sessions are kept in id order).
    pub fn max_session_id(&self) -> Option<i64> {
        self.sessions.get_max().map(|(id, _)| *id)
    }

    /// Every open session.
    pub fn sessions(&self) -> impl Iterator<Item = (i64, Session)> + '_ {
        self.sessions.iter().map(|(id, s)| (*id, s.clone()))
    }

    /// The ephemeral nodes of session `id`, in path order.
    pub fn ephemerals_of(&self, id: i64) -> Vec<String> {
        self.ephemerals
            .get(&id)
            .map(|set| set.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default()
    }

    /// Number of ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    /// The nodes the active controller should delete at `now_ms` (wall clock), at most `max`,
    /// as ZooKeeper's `ContainerManager` finds them: a container without children that has had
    /// some (its stored cversion is not 0), and a TTL node without children not changed for
    /// longer than its TTL.
    pub fn reapable(&self, now_ms: i64, max: usize) -> Vec<String> {
        self.expiring
            .iter()
            .filter(|p| {
                let Some(n) = self.nodes.get(&**p) else {
                    return false;
                };
                if !n.children.is_empty() {
                    return false;
                }
                match ttl_of_ephemeral_owner(n.stat.ephemeral_owner) {
                    Some(ttl) => ttl != 0 && now_ms.saturating_sub(n.stat.mtime) > ttl,
                    None => n.stat.cversion > 0,
                }
            })
            .take(max)
            .map(|p| p.to_string())
            .collect()
    }

    /// Number of container and TTL nodes.
    pub fn expiring_count(&self) -> usize {
        self.expiring.len()
    }

    /// Number of descendants of `path` (not counting it).
    pub fn descendant_count(&self, path: &str) -> usize {
        let Some(node) = self.get(path) else {
            return 0;
        };
        node.children
            .iter()
            .map(|c| 1 + self.descendant_count(&path::join(path, c)))
            .sum()
    }

    fn link_child(&mut self, parent: &str, name: &str) {
        if let Some(p) = self.nodes.get_mut(parent) {
            let p = Arc::make_mut(p);
            p.children.insert(name.into());
            p.stat.num_children = i32::try_from(p.children.len()).unwrap_or(i32::MAX);
        }
    }

    fn unlink_child(&mut self, parent: &str, name: &str) {
        if let Some(p) = self.nodes.get_mut(parent) {
            let p = Arc::make_mut(p);
            p.children.remove(name);
            p.stat.num_children = i32::try_from(p.children.len()).unwrap_or(i32::MAX);
        }
    }

    /// Adds a node under an existing parent, setting the parent's cversion to
    /// `parent_cversion` and its pzxid to `zxid` (ZooKeeper's `DataTree.createNode`).
    pub(crate) fn create_node(
        &mut self,
        path: &str,
        node: NewNode,
        parent_cversion: i32,
        zxid: i64,
        time_ms: i64,
    ) -> Stat {
        let NewNode {
            data,
            acl,
            ephemeral_owner,
        } = node;
        let stat = Stat {
            czxid: zxid,
            mzxid: zxid,
            ctime: time_ms,
            mtime: time_ms,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            data_length: data_len(&data),
            num_children: 0,
            pzxid: zxid,
        };
        let parent = path::parent(path);
        self.link_child(parent, path::name(path));
        if let Some(p) = self.nodes.get_mut(parent) {
            let p = Arc::make_mut(p);
            p.stat.cversion = parent_cversion;
            p.stat.pzxid = zxid;
        }
        let key: Arc<str> = path.into();
        if owned_by_session(ephemeral_owner) {
            self.ephemerals
                .entry(ephemeral_owner)
                .or_default()
                .insert(key.clone());
        } else if expiring(ephemeral_owner) {
            self.expiring.insert(key.clone());
        }
        let node = Znode {
            data,
            acl,
            stat,
            children: OrdSet::new(),
        };
        let reported = node.stat();
        self.nodes.insert(key, Arc::new(node));
        self.last_zxid = self.last_zxid.max(zxid);
        reported
    }

    /// Removes a childless node; its parent's pzxid becomes `zxid`. The parent's stored
    /// cversion counts creates only; deletes show in the reported one ([`Znode::stat`]).
    pub(crate) fn delete_node(&mut self, path: &str, zxid: i64) -> Option<Arc<[Acl]>> {
        let node = self.nodes.remove(path)?;
        debug_assert!(node.children.is_empty(), "{path} has children");
        let owner = node.stat.ephemeral_owner;
        if owned_by_session(owner) {
            if let Some(set) = self.ephemerals.get_mut(&owner) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&owner);
                }
            }
        } else if expiring(owner) {
            self.expiring.remove(path);
        }
        let parent = path::parent(path);
        self.unlink_child(parent, path::name(path));
        if let Some(p) = self.nodes.get_mut(parent) {
            Arc::make_mut(p).stat.pzxid = zxid;
        }
        self.last_zxid = self.last_zxid.max(zxid);
        Some(node.acl.clone())
    }

    /// Replaces a node's data.
    pub(crate) fn set_data(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        version: i32,
        zxid: i64,
        time_ms: i64,
    ) -> Option<Stat> {
        let node = Arc::make_mut(self.nodes.get_mut(path)?);
        node.stat.data_length = data_len(&data);
        node.data = data;
        node.stat.version = version;
        node.stat.mzxid = zxid;
        node.stat.mtime = time_ms;
        let stat = node.stat();
        self.last_zxid = self.last_zxid.max(zxid);
        Some(stat)
    }

    /// Replaces a node's ACL.
    pub(crate) fn set_acl(
        &mut self,
        path: &str,
        acl: Arc<[Acl]>,
        aversion: i32,
        zxid: i64,
    ) -> Option<Stat> {
        let node = Arc::make_mut(self.nodes.get_mut(path)?);
        node.acl = acl;
        node.stat.aversion = aversion;
        let stat = node.stat();
        self.last_zxid = self.last_zxid.max(zxid);
        Some(stat)
    }

    /// Opens a session.
    pub(crate) fn open_session(&mut self, id: i64, session: Session, zxid: i64) {
        self.sessions.insert(id, session);
        self.last_zxid = self.last_zxid.max(zxid);
    }

    /// Closes a session and deletes its ephemerals, in path order (an ephemeral has no
    /// children). Answers the paths deleted, with the ACL each had.
    pub(crate) fn close_session(&mut self, id: i64, zxid: i64) -> Vec<(String, Arc<[Acl]>)> {
        self.sessions.remove(&id);
        let mut deleted = Vec::new();
        for p in self.ephemerals_of(id) {
            if let Some(acl) = self.delete_node(&p, zxid) {
                deleted.push((p, acl));
            }
        }
        self.last_zxid = self.last_zxid.max(zxid);
        deleted
    }

    /// Records that `zxid` was applied with no change to the tree (a failed multi).
    pub(crate) fn note_zxid(&mut self, zxid: i64) {
        self.last_zxid = self.last_zxid.max(zxid);
    }
}

/// Whether an `ephemeralOwner` marks a container or a TTL node.
fn expiring(ephemeral_owner: i64) -> bool {
    ephemeral_owner == CONTAINER_EPHEMERAL_OWNER
        || ttl_of_ephemeral_owner(ephemeral_owner).is_some()
}

fn data_len(data: &Option<Bytes>) -> i32 {
    data.as_ref()
        .map_or(0, |d| i32::try_from(d.len()).unwrap_or(i32::MAX))
}
