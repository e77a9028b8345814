//! ZooKeeper paths: what a valid path is (ZooKeeper's `PathUtils.validatePath`), its parent and
//! its last component. An invalid path is answered with BADARGUMENTS.

use thiserror::Error;

/// Why a path is not a valid znode path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid path {path:?}: {reason}")]
pub struct PathError {
    /// The path as given.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Checks `path` as ZooKeeper does. A sequential create may end in `/` (the sequence number
/// becomes the last component), so `sequential` checks the path as if a digit followed.
pub fn validate(path: &str, sequential: bool) -> Result<(), PathError> {
    let err = |reason| {
        Err(PathError {
            path: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return err("path length must be > 0");
    }
    if !path.starts_with('/') {
        return err("path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') && !sequential {
        return err("path must not end with / character");
    }
    let checked = if sequential && path.ends_with('/') {
        &path[..path.len() - 1]
    } else {
        path
    };
    for component in checked.split('/').skip(1) {
        if component.is_empty() {
            return err("empty node name specified");
        }
        if component == "." || component == ".." {
            return err("relative paths not allowed");
        }
        for c in component.chars() {
            match c {
                '\0' => return err("null character not allowed"),
                // ZooKeeper also refuses U+D800..U+DFFF, which a Rust string cannot hold.
                '\u{1}'..='\u{1f}'
                | '\u{7f}'..='\u{9f}'
                | '\u{e000}'..='\u{f8ff}'
                | '\u{fff0}'..='\u{ffff}' => return err("invalid character"),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The parent of a valid path other than `/` (`/a` for `/a/b`, `/` for `/a`).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of a valid path (`b` for `/a/b`; empty for `/`).
pub fn name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// `child` under `parent`.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Whether `path` is `ancestor` or lies below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor == "/"
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_as_zookeeper_checks_them() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/...", "/a b", "/ü", "/a-"] {
            assert_eq!(validate(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/a/..",
            "/a/./b",
            "/a\0",
            "/a\u{1}",
            "/\u{7f}",
            "/\u{e000}",
            "/\u{fff5}",
        ] {
            assert!(validate(bad, false).is_err(), "{bad:?}");
        }
        // A sequential create may end in '/': the number becomes the name.
        assert_eq!(validate("/a/", true), Ok(()));
        assert!(validate("/a//", true).is_err());
    }

    #[test]
    fn parents_names_and_containment() {
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(name("/"), "");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert!(is_within("/a/b", "/a"));
        assert!(is_within("/a", "/a"));
        assert!(!is_within("/ab", "/a"));
        assert!(is_within("/x", "/"));
    }
}
