//! Watches, as ZooKeeper's `WatchManager` keeps them: one-shot data (and exist) and child watches,
//! persistent and persistent-recursive watches (`addWatch`), fired by what a committed
//! transaction did ([`crate::txn::Applied`]), in the order it did it. A node holds the watches of
//! the connections it serves; the tree is the same everywhere, so the same transaction fires the
//! same watches wherever a client is connected.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::path;
use crate::proto::records::{Acl, AddWatchMode, EventType, KeeperState, WatcherEvent, WatcherType};
use crate::proto::request::{AddWatchRequest, WatchesRequest};
use crate::proto::{ErrorCode, Request, Response};
use crate::tree::DataTree;
use crate::txn::Applied;

/// Who set a watch: a connection (or, in tests, any number that names one).
pub type WatcherId = u64;

/// How a watcher watches a path in one of the two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Mode {
    /// Fires once.
    Standard,
    /// addWatch PERSISTENT: fires every time.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: fires every time, for the path and every descendant,
    /// except for child changes.
    Recursive,
}

/// One of ZooKeeper's two watch tables: path → watcher → mode. A watcher has at most one
/// entry per path and table.
type Table = BTreeMap<String, BTreeMap<WatcherId, Mode>>;

/// Every watch a node holds, in ZooKeeper's two tables: data watches (exists, getData) and
/// child watches (getChildren). A persistent watch (addWatch) is entered in both, and the
/// watch requests name a table (checkWatches and removeWatches of type Children look in the
/// child table only), so a client sees the same answers it would from ZooKeeper.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watches {
    data: Table,
    child: Table,
}

/// The last watch set on a path decides its mode, as in ZooKeeper: a getData with a watch on a
/// path with a persistent watch leaves a one-shot one.
fn add(table: &mut Table, path: &str, watcher: WatcherId, mode: Mode) {
    table
        .entry(path.to_string())
        .or_default()
        .insert(watcher, mode);
}

fn contains(table: &Table, path: &str, watcher: WatcherId, mode: Option<Mode>) -> bool {
    table
        .get(path)
        .and_then(|w| w.get(&watcher))
        .is_some_and(|m| mode.is_none_or(|want| *m == want))
}

fn remove(table: &mut Table, path: &str, watcher: WatcherId, mode: Option<Mode>) -> bool {
    if !contains(table, path, watcher, mode) {
        return false;
    }
    if let Some(w) = table.get_mut(path) {
        w.remove(&watcher);
        if w.is_empty() {
            table.remove(path);
        }
    }
    true
}

/// Fires `event` on `path` in `table`: the watchers on the path (one-shot ones removed; for
/// NodeChildrenChanged, recursive ones skipped), then the recursive watchers on its ancestors
/// (not for NodeChildrenChanged); each watcher not already in `heard` hears it once.
fn fire(
    table: &mut Table,
    path: &str,
    event: EventType,
    acl: &[Acl],
    can_read: &dyn Fn(WatcherId, &[Acl]) -> bool,
    heard: &mut Vec<WatcherId>,
) {
    // A watch tells only of nodes the watcher may read (READ in the node's ACL; for a child
    // change, the parent's), as ZooKeeper does since the fix of CVE-2024-23944, which the
    // Debian 3.8 package has: an exists watch or addWatch on a node the watcher cannot read
    // hears nothing of it. Found by tests/tests/zookeeper_semantics.rs.
    let may_hear = |id: WatcherId| can_read(id, acl);
    let children_changed = event == EventType::NodeChildrenChanged;
    if let Some(w) = table.get_mut(path) {
        let hit: Vec<(WatcherId, Mode)> = w
            .iter()
            .filter(|(_, m)| !(children_changed && **m == Mode::Recursive))
            .map(|(id, m)| (*id, *m))
            .collect();
        for (id, m) in hit {
            // A one-shot watch is used up by the event even when its watcher may not hear it.
            if m == Mode::Standard {
                w.remove(&id);
            }
            if may_hear(id) && !heard.contains(&id) {
                heard.push(id);
            }
        }
        if w.is_empty() {
            table.remove(path);
        }
    }
    if children_changed || path == "/" {
        return;
    }
    let mut at = path::parent(path);
    loop {
        if let Some(w) = table.get(at) {
            for (id, m) in w {
                if *m == Mode::Recursive && !heard.contains(id) && may_hear(*id) {
                    heard.push(*id);
                }
            }
        }
        if at == "/" {
            break;
        }
        at = path::parent(at);
    }
}

impl Watches {
    /// An empty set.
    pub fn new() -> Watches {
        Watches::default()
    }

    /// A one-shot data watch (exists, getData).
    pub fn add_data(&mut self, path: &str, watcher: WatcherId) {
        add(&mut self.data, path, watcher, Mode::Standard);
    }

    /// A one-shot child watch (getChildren).
    pub fn add_child(&mut self, path: &str, watcher: WatcherId) {
        add(&mut self.child, path, watcher, Mode::Standard);
    }

    /// A persistent watch, recursive or not (addWatch), entered in both tables.
    pub fn add_persistent(&mut self, path: &str, recursive: bool, watcher: WatcherId) {
        let mode = if recursive {
            Mode::Recursive
        } else {
            Mode::Persistent
        };
        add(&mut self.data, path, watcher, mode);
        add(&mut self.child, path, watcher, mode);
    }

    /// Number of watches held (an entry in each table counts once per table, as ZooKeeper's
    /// `wchs` counts them).
    pub fn count(&self) -> usize {
        self.data
            .values()
            .chain(self.child.values())
            .map(BTreeMap::len)
            .sum()
    }

    /// Number of paths watched.
    pub fn path_count(&self) -> usize {
        let mut paths: BTreeSet<&String> = self.data.keys().collect();
        paths.extend(self.child.keys());
        paths.len()
    }

    /// Whether `watcher` holds a watch of `t` on `path` (checkWatches).
    pub fn has(&self, path: &str, t: WatcherType, watcher: WatcherId) -> bool {
        let (d, c) = (&self.data, &self.child);
        match t {
            WatcherType::Children => contains(c, path, watcher, None),
            WatcherType::Data => contains(d, path, watcher, None),
            WatcherType::Any => {
                contains(c, path, watcher, None) || contains(d, path, watcher, None)
            }
            WatcherType::Persistent => {
                let m = Some(Mode::Persistent);
                contains(c, path, watcher, m) || contains(d, path, watcher, m)
            }
            WatcherType::PersistentRecursive => {
                let m = Some(Mode::Recursive);
                contains(c, path, watcher, m) || contains(d, path, watcher, m)
            }
        }
    }

    /// Removes `watcher`'s watches of `t` on `path` (removeWatches); answers whether there
    /// were any.
    pub fn remove(&mut self, path: &str, t: WatcherType, watcher: WatcherId) -> bool {
        let (d, c) = (&mut self.data, &mut self.child);
        match t {
            WatcherType::Children => remove(c, path, watcher, None),
            WatcherType::Data => remove(d, path, watcher, None),
            WatcherType::Any => {
                let from_child = remove(c, path, watcher, None);
                remove(d, path, watcher, None) | from_child
            }
            WatcherType::Persistent => {
                let m = Some(Mode::Persistent);
                let from_child = remove(c, path, watcher, m);
                remove(d, path, watcher, m) | from_child
            }
            WatcherType::PersistentRecursive => {
                let m = Some(Mode::Recursive);
                let from_child = remove(c, path, watcher, m);
                remove(d, path, watcher, m) | from_child
            }
        }
    }

    /// Drops every watch of a connection that went away.
    pub fn remove_watcher(&mut self, watcher: WatcherId) {
        for table in [&mut self.data, &mut self.child] {
            table.retain(|_, w| {
                w.remove(&watcher);
                !w.is_empty()
            });
        }
    }

    /// Fires what `applied` triggers, in the order it happened, and returns the events to send,
    /// each to its watcher. `can_read` says whether a watcher may read a node with an ACL.
    pub fn trigger(
        &mut self,
        tree: &DataTree,
        applied: &Applied,
        can_read: &dyn Fn(WatcherId, &[Acl]) -> bool,
    ) -> Vec<(WatcherId, WatcherEvent)> {
        let mut out = Vec::new();
        // A child change is heard by who may read the parent.
        let parent_acl = |path: &str| {
            tree.get(path::parent(path))
                .map(|n| n.acl.clone())
                .unwrap_or_else(|| Arc::from([]))
        };
        self.trigger_into(applied, &parent_acl, can_read, &mut out);
        out
    }

    fn trigger_into(
        &mut self,
        applied: &Applied,
        parent_acl: &dyn Fn(&str) -> Arc<[Acl]>,
        can_read: &dyn Fn(WatcherId, &[Acl]) -> bool,
        out: &mut Vec<(WatcherId, WatcherEvent)>,
    ) {
        match applied {
            Applied::Created { path, acl, .. } => {
                self.event(path, EventType::NodeCreated, false, acl, can_read, out);
                let (parent, acl) = (path::parent(path), parent_acl(path));
                let changed = EventType::NodeChildrenChanged;
                self.event(parent, changed, true, &acl, can_read, out);
            }
            Applied::Deleted { path, acl } => {
                self.deleted(path, acl, &parent_acl(path), can_read, out)
            }
            Applied::DataSet { path, acl, .. } => {
                self.event(path, EventType::NodeDataChanged, false, acl, can_read, out);
            }
            Applied::SessionClosed { deleted } => {
                for (path, acl) in deleted {
                    self.deleted(path, acl, &parent_acl(path), can_read, out);
                }
            }
            Applied::Multi(parts) => {
                for part in parts {
                    self.trigger_into(part, parent_acl, can_read, out);
                }
            }
            Applied::AclSet { .. }
            | Applied::Checked { .. }
            | Applied::Error(_)
            | Applied::SessionOpened => {}
        }
    }

    /// NodeDeleted in both tables (a watcher hears it once), then the parent's child change.
    fn deleted(
        &mut self,
        path: &str,
        acl: &[Acl],
        parent_acl: &[Acl],
        can_read: &dyn Fn(WatcherId, &[Acl]) -> bool,
        out: &mut Vec<(WatcherId, WatcherEvent)>,
    ) {
        let mut heard = Vec::new();
        let event = EventType::NodeDeleted;
        fire(&mut self.data, path, event, acl, can_read, &mut heard);
        fire(&mut self.child, path, event, acl, can_read, &mut heard);
        emit(path, event, heard, out);
        let (parent, changed) = (path::parent(path), EventType::NodeChildrenChanged);
        self.event(parent, changed, true, parent_acl, can_read, out);
    }

    /// An event fired in the data table, or in the child table.
    fn event(
        &mut self,
        path: &str,
        event: EventType,
        child_table: bool,
        acl: &[Acl],
        can_read: &dyn Fn(WatcherId, &[Acl]) -> bool,
        out: &mut Vec<(WatcherId, WatcherEvent)>,
    ) {
        let table = if child_table {
            &mut self.child
        } else {
            &mut self.data
        };
        let mut heard = Vec::new();
        fire(table, path, event, acl, can_read, &mut heard);
        emit(path, event, heard, out);
    }
}

fn emit(
    path: &str,
    event: EventType,
    heard: Vec<WatcherId>,
    out: &mut Vec<(WatcherId, WatcherEvent)>,
) {
    for w in heard {
        out.push((
            w,
            WatcherEvent {
                event_type: event as i32,
                state: KeeperState::SyncConnected as i32,
                path: path.to_string(),
            },
        ));
    }
}

/// Sets the watch a successful read asked for: exists leaves a data watch even on a missing node,
/// getData a data watch and getChildren a child watch only when they answered.
pub fn after_read(
    watches: &mut Watches,
    watcher: WatcherId,
    request: &Request,
    result: &Result<Response, ErrorCode>,
) {
    match request {
        Request::Exists(r) if r.watch => {
            if matches!(result, Ok(_) | Err(ErrorCode::NoNode)) {
                watches.add_data(&r.path, watcher);
            }
        }
        Request::GetData(r) if r.watch && result.is_ok() => watches.add_data(&r.path, watcher),
        Request::GetChildren(r) | Request::GetChildren2(r) if r.watch && result.is_ok() => {
            watches.add_child(&r.path, watcher)
        }
        _ => {}
    }
}

/// The watcher types checkWatches and removeWatches accept: ZooKeeper 3.8 reads only Children,
/// Data and Any there and answers MARSHALLINGERROR to the persistent types (found by
/// `tests/tests/zookeeper_semantics.rs`); removing Any removes persistent watches too.
fn removable(code: i32) -> Option<WatcherType> {
    WatcherType::from_code(code).filter(|t| {
        matches!(
            t,
            WatcherType::Children | WatcherType::Data | WatcherType::Any
        )
    })
}

/// Answers the requests that only touch a connection's watches (addWatch, checkWatches,
/// removeWatches); `None` for any other.
pub fn watch_request(
    watches: &mut Watches,
    watcher: WatcherId,
    request: &Request,
) -> Option<Result<Response, ErrorCode>> {
    Some(match request {
        // ZooKeeper cannot answer a checkWatches of a non-empty path that does not start with
        // '/' (a removeWatches of one, an empty or otherwise malformed path, is just not
        // watched; found by tests/tests/zookeeper_semantics.rs).
        Request::CheckWatches(WatchesRequest { path: p, .. })
            if !p.is_empty() && !p.starts_with('/') =>
        {
            Err(ErrorCode::MarshallingError)
        }
        Request::AddWatch(AddWatchRequest { path: p, mode }) => {
            match AddWatchMode::from_code(*mode) {
                Some(m) => {
                    watches.add_persistent(p, m == AddWatchMode::PersistentRecursive, watcher);
                    Ok(Response::AddWatch)
                }
                // An unknown mode: ZooKeeper cannot read the request.
                None => Err(ErrorCode::MarshallingError),
            }
        }
        Request::CheckWatches(WatchesRequest {
            path: p,
            watcher_type,
        }) => match removable(*watcher_type) {
            Some(t) if watches.has(p, t, watcher) => Ok(Response::Empty),
            Some(_) => Err(ErrorCode::NoWatcher),
            None => Err(ErrorCode::MarshallingError),
        },
        Request::RemoveWatches(WatchesRequest {
            path: p,
            watcher_type,
        }) => match removable(*watcher_type) {
            Some(t) if watches.remove(p, t, watcher) => Ok(Response::Empty),
            Some(_) => Err(ErrorCode::NoWatcher),
            None => Err(ErrorCode::MarshallingError),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::records::Stat;

    fn created(path: &str) -> Applied {
        Applied::Created {
            path: path.into(),
            stat: Stat::default(),
            acl: Acl::open_unsafe().into(),
        }
    }

    fn anyone(_: WatcherId, _: &[Acl]) -> bool {
        true
    }

    fn events(fired: &[(WatcherId, WatcherEvent)]) -> Vec<(WatcherId, i32, &str)> {
        fired
            .iter()
            .map(|(w, e)| (*w, e.event_type, e.path.as_str()))
            .collect()
    }

    #[test]
    fn one_shot_watches_fire_once_and_in_order() {
        let mut w = Watches::new();
        w.add_data("/a", 1);
        w.add_child("/", 1);
        w.add_child("/a", 2);
        w.add_data("/a", 2);
        let fired = w.trigger(
            &DataTree::new(),
            &Applied::Deleted {
                path: "/a".into(),
                acl: Acl::open_unsafe().into(),
            },
            &anyone,
        );
        // Watcher 2 held a data and a child watch on /a: one NodeDeleted.
        assert_eq!(
            events(&fired),
            [
                (1, EventType::NodeDeleted as i32, "/a"),
                (2, EventType::NodeDeleted as i32, "/a"),
                (1, EventType::NodeChildrenChanged as i32, "/"),
            ]
        );
        assert_eq!(w.count(), 0);
        assert!(w
            .trigger(&DataTree::new(), &created("/a"), &anyone)
            .is_empty());
    }

    #[test]
    fn persistent_watches_stay_and_recursive_ones_skip_child_events() {
        let mut w = Watches::new();
        w.add_persistent("/a", false, 1);
        w.add_persistent("/a", true, 2);
        let fired = w.trigger(&DataTree::new(), &created("/a/b"), &anyone);
        // /a/b created: NodeCreated reaches the recursive watch on /a; NodeChildrenChanged on
        // /a reaches the persistent one only.
        assert_eq!(
            events(&fired),
            [
                (2, EventType::NodeCreated as i32, "/a/b"),
                (1, EventType::NodeChildrenChanged as i32, "/a"),
            ]
        );
        assert_eq!(
            w.trigger(&DataTree::new(), &created("/a/b"), &anyone).len(),
            2,
            "still set"
        );
        assert!(w.has("/a", WatcherType::Persistent, 1));
        assert!(w.remove("/a", WatcherType::Any, 1));
        assert!(!w.remove("/a", WatcherType::Any, 1));
        w.remove_watcher(2);
        assert_eq!(w.count(), 0);
    }
}
