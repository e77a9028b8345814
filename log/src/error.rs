//! The log crate's error type. Storage errors are returned, never panicked: the caller decides
//! whether a node can go on.

use crate::ids::{Epoch, Offset};
use std::path::{Path, PathBuf};

use crate::batch::BatchError;

/// Everything that can go wrong in the metadata log, its snapshots and its small state files.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("open", "fdatasync", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Data on disk is damaged somewhere recovery may not repair by truncation.
    #[error("corrupt log data in {path} at byte {position}: {reason}")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// Byte position of the damage.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// Bytes handed to `append` are not valid batches.
    #[error("invalid batch at byte {position} of the appended buffer: {source}")]
    InvalidBatch {
        /// Position within the appended buffer.
        position: usize,
        /// The batch problem.
        source: BatchError,
    },
    /// An appended batch does not start at the log end offset.
    #[error("batch base offset {got} does not match the log end offset {expected}")]
    OffsetMismatch {
        /// The log end offset.
        expected: Offset,
        /// The batch's base offset.
        got: Offset,
    },
    /// An appended batch carries an epoch lower than the last one in the log.
    #[error("batch epoch {batch_epoch} is lower than the log's last epoch {last_epoch}")]
    EpochRegression {
        /// Epoch of the last batch in the log.
        last_epoch: Epoch,
        /// Epoch of the appended batch.
        batch_epoch: Epoch,
    },
    /// An offset is outside the log.
    #[error("offset {offset} is outside the log [{start}, {end})")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: Offset,
        /// Log start offset.
        start: Offset,
        /// Log end offset.
        end: Offset,
    },
    /// Another process holds the directory lock.
    #[error("{path} is locked by another process (is a node already running on this directory?)")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A file's content does not parse.
    #[error("malformed {path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A caller broke the API's contract (bad argument).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Builds a closure turning an `io::Error` into [`LogError::Io`] with context.
pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> LogError + 'a {
    move |source| LogError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}
