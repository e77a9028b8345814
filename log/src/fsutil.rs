//! Small durable-file helpers: directory fsync, atomic replace, exclusive directory lock.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapOptions};

use crate::error::{io_err, LogError};

/// Fsyncs a directory so that creations, renames and deletions inside it are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), LogError> {
    let d = File::open(dir).map_err(io_err("open directory", dir))?;
    d.sync_all().map_err(io_err("fsync directory", dir))
}

/// Replaces `path` with `bytes` atomically: write `<path>.tmp`, fsync it, rename over `path`,
/// fsync the directory. A crash leaves either the old or the new content, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let tmp = tmp_path(path);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err("rename", &tmp))?;
    fsync_dir(parent_of(path))
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// An exclusive advisory lock (`flock`) on `<dir>/.lock`, held for the life of the value, so two
/// processes never open the same log directory. Released when dropped or when the process dies.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock or fails with [`LogError::Locked`] if another process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, LogError> {
        let path = dir.join(".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err("create lock file", &path))?;
        // SAFETY: flock on a valid, owned descriptor; no memory is shared.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(LogError::Locked { path });
            }
            return Err(io_err("lock", &path)(err));
        }
        Ok(DirLock { _file: file, path })
    }

    /// Path of the lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Maps the first `len` bytes of `file` read-only and shared; `None` for a zero length (an empty
/// mapping is invalid). `len` may exceed the file's size: only touching pages wholly past the end
/// faults, and callers never read past the bytes they wrote.
///
/// Callers must hold the directory lock ([`DirLock`]) and shrink the file only through `&mut`
/// methods that drop or outlive every slice of the mapping; nothing is ever written through it.
pub fn map_read_only(file: &File, path: &Path, len: usize) -> Result<Option<Mmap>, LogError> {
    if len == 0 {
        return Ok(None);
    }
    // SAFETY: see the function's contract: no other process truncates the file (directory lock),
    // and this process shrinks it only while no slice of the mapping is borrowed.
    let map = unsafe { MmapOptions::new().len(len).map(file) }.map_err(io_err("mmap", path))?;
    Ok(Some(map))
}
