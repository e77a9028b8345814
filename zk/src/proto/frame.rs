//! Framing: every packet both ways is a big-endian `int` length and that many bytes, at most
//! `jute.maxbuffer`; and the four-letter words, which share the client port and are recognised
//! in the first four bytes of a connection that has not sent a ConnectRequest.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;

use super::jute::Record;
use super::request::Request;
use super::session::{ReplyHeader, RequestHeader};

/// ZooKeeper's default `jute.maxbuffer`: the largest frame accepted, in bytes.
pub const JUTE_MAXBUFFER_DEFAULT: usize = 0xfffff;

/// A frame that cannot be read; the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// A negative length (ZooKeeper's "Len error").
    #[error("negative frame length {0}")]
    Negative(i32),
    /// A length beyond `jute.maxbuffer`.
    #[error("frame length {len} exceeds jute.maxbuffer {max}")]
    TooLong {
        /// The length announced.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Takes one whole frame's payload off the front of `buf`, or `None` until it has arrived.
pub fn split_frame(
    buf: &mut BytesMut,
    frame_bytes_max: usize,
) -> Result<Option<Bytes>, FrameError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let Ok(len) = usize::try_from(len) else {
        return Err(FrameError::Negative(len));
    };
    if len > frame_bytes_max {
        return Err(FrameError::TooLong {
            len,
            max: frame_bytes_max,
        });
    }
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Appends a frame whose payload `body` writes.
pub fn put_frame(out: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = out.len();
    out.put_i32(0);
    body(out);
    let len = i32::try_from(out.len() - start - 4).unwrap_or(i32::MAX);
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// Appends a request frame: its header, then its body.
pub fn put_request(out: &mut BytesMut, xid: i32, request: &Request) {
    put_frame(out, |out| {
        RequestHeader {
            xid,
            op: request.op().code(),
        }
        .write(out);
        request.write(out);
    });
}

/// Appends a reply frame: its header, then (when `err` is 0) the body `body` writes.
pub fn put_reply(out: &mut BytesMut, header: ReplyHeader, body: impl FnOnce(&mut BytesMut)) {
    put_frame(out, |out| {
        header.write(out);
        if header.err == 0 {
            body(out);
        }
    });
}

/// The four-letter words ZooKeeper knows (`stmk` is followed by an 8-byte mask).
pub const FOUR_LETTER_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srvr", "srst", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// The four-letter word the first bytes of a fresh connection spell, if they spell one.
pub fn four_letter_word(first: &[u8]) -> Option<&'static str> {
    let word = first.get(..4)?;
    FOUR_LETTER_WORDS.into_iter().find(|w| w.as_bytes() == word)
}
