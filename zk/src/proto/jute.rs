//! Jute, ZooKeeper's binary record encoding: big-endian `int` (4 bytes) and `long` (8), `boolean`
//! (1 byte), `buffer` and `ustring` (an `int` length, -1 for null, then the bytes), `vector`
//! (an `int` count, -1 for null, then the elements); a record is its fields in order, untagged.
//!
//! [`Reader`] decodes from a frame without copying (buffers are slices of it) and never trusts a
//! length: one that runs past the frame is an error before anything is allocated.

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// Why a jute record could not be read. `what` names the field being read; `at` is the byte
/// offset in the frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JuteError {
    /// The frame ended inside a field.
    #[error("{what}: truncated at byte {at} ({needed} bytes needed, {left} left)")]
    Truncated {
        /// The field.
        what: &'static str,
        /// Where it starts.
        at: usize,
        /// How many bytes it needs.
        needed: usize,
        /// How many the frame has left.
        left: usize,
    },
    /// A length or count below -1.
    #[error("{what}: negative length {len} at byte {at}")]
    NegativeLength {
        /// The field.
        what: &'static str,
        /// Where it starts.
        at: usize,
        /// The length read.
        len: i32,
    },
    /// A null (-1) where the protocol needs a value (a path).
    #[error("{what}: null at byte {at}")]
    Null {
        /// The field.
        what: &'static str,
        /// Where it starts.
        at: usize,
    },
    /// A string that is not UTF-8.
    #[error("{what}: not UTF-8 at byte {at}")]
    NotUtf8 {
        /// The field.
        what: &'static str,
        /// Where it starts.
        at: usize,
    },
    /// A value the protocol does not define (an unknown multi op, a bad enum value).
    #[error("{what}: {reason}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// A cursor over one frame.
#[derive(Debug, Clone)]
pub struct Reader {
    buf: Bytes,
    // Invariant: pos <= buf.len().
    pos: usize,
}

impl Reader {
    /// A reader at the start of `buf`.
    pub fn new(buf: Bytes) -> Reader {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The offset of the next byte.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn take(&mut self, what: &'static str, n: usize) -> Result<&[u8], JuteError> {
        if self.remaining() < n {
            return Err(JuteError::Truncated {
                what,
                at: self.pos,
                needed: n,
                left: self.remaining(),
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.buf[start..self.pos])
    }

    /// A jute `int`.
    pub fn int(&mut self, what: &'static str) -> Result<i32, JuteError> {
        let b = self.take(what, 4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A jute `long`.
    pub fn long(&mut self, what: &'static str) -> Result<i64, JuteError> {
        let b = self.take(what, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// A jute `boolean`: any non-zero byte is true, as Java's `readBoolean` reads it.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, JuteError> {
        Ok(self.take(what, 1)?[0] != 0)
    }

    /// A length or count: -1 is null (`None`); below that is an error; above what is left in
    /// the frame (each element taking at least `min_element_bytes`) is truncation.
    fn length(
        &mut self,
        what: &'static str,
        min_element_bytes: usize,
    ) -> Result<Option<usize>, JuteError> {
        let at = self.pos;
        let len = self.int(what)?;
        if len == -1 {
            return Ok(None);
        }
        let Ok(n) = usize::try_from(len) else {
            return Err(JuteError::NegativeLength { what, at, len });
        };
        let needed = n.saturating_mul(min_element_bytes);
        if needed > self.remaining() {
            return Err(JuteError::Truncated {
                what,
                at,
                needed,
                left: self.remaining(),
            });
        }
        Ok(Some(n))
    }

    /// A jute `buffer`; null is `None`.
    pub fn buffer(&mut self, what: &'static str) -> Result<Option<Bytes>, JuteError> {
        match self.length(what, 1)? {
            None => Ok(None),
            Some(n) => {
                let start = self.pos;
                self.pos += n;
                Ok(Some(self.buf.slice(start..self.pos)))
            }
        }
    }

    /// A jute `ustring`; null is `None`.
    pub fn ustring(&mut self, what: &'static str) -> Result<Option<String>, JuteError> {
        let at = self.pos;
        match self.buffer(what)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b.to_vec())
                .map(Some)
                .map_err(|_| JuteError::NotUtf8 { what, at }),
        }
    }

    /// A `ustring` that must not be null (a path, a scheme).
    pub fn string(&mut self, what: &'static str) -> Result<String, JuteError> {
        let at = self.pos;
        self.ustring(what)?.ok_or(JuteError::Null { what, at })
    }

    /// A jute `vector`, each element read by `element`, which takes at least
    /// `min_element_bytes`. Null reads as empty: no record of the protocol gives a null vector a
    /// meaning of its own (a null ACL list is refused as an empty one).
    pub fn vector<T>(
        &mut self,
        what: &'static str,
        min_element_bytes: usize,
        mut element: impl FnMut(&mut Reader) -> Result<T, JuteError>,
    ) -> Result<Vec<T>, JuteError> {
        let n = self.length(what, min_element_bytes.max(1))?.unwrap_or(0);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(element(self)?);
        }
        Ok(out)
    }

    /// A vector of non-null strings.
    pub fn strings(&mut self, what: &'static str) -> Result<Vec<String>, JuteError> {
        self.vector(what, 4, |r| r.string(what))
    }

    /// Whatever is left of the frame.
    pub fn rest(&mut self) -> Bytes {
        let rest = self.buf.slice(self.pos..);
        self.pos = self.buf.len();
        rest
    }
}

/// A jute `int`.
pub fn put_int(out: &mut BytesMut, v: i32) {
    out.put_i32(v);
}

/// A jute `long`.
pub fn put_long(out: &mut BytesMut, v: i64) {
    out.put_i64(v);
}

/// A jute `boolean`.
pub fn put_bool(out: &mut BytesMut, v: bool) {
    out.put_u8(u8::from(v));
}

/// A jute `buffer`; `None` is null.
pub fn put_buffer(out: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        None => out.put_i32(-1),
        Some(b) => {
            out.put_i32(len_i32(b.len()));
            out.put_slice(b);
        }
    }
}

/// A non-null jute `ustring`.
pub fn put_string(out: &mut BytesMut, v: &str) {
    put_buffer(out, Some(v.as_bytes()));
}

/// A jute `vector`, each element written by `element`.
pub fn put_vector<T>(out: &mut BytesMut, v: &[T], mut element: impl FnMut(&mut BytesMut, &T)) {
    out.put_i32(len_i32(v.len()));
    for e in v {
        element(out, e);
    }
}

/// A vector of strings.
pub fn put_strings(out: &mut BytesMut, v: &[String]) {
    put_vector(out, v, |out, s| put_string(out, s));
}

/// A length as jute writes it. Frames are bounded far below 2 GiB (`jute.maxbuffer`), so a
/// longer value is a caller's bug; it saturates rather than wraps.
fn len_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A record with a jute encoding.
pub trait Record: Sized {
    /// Appends the record's encoding.
    fn write(&self, out: &mut BytesMut);
    /// Reads one record.
    fn read(r: &mut Reader) -> Result<Self, JuteError>;

    /// The record alone, encoded.
    fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write(&mut out);
        out.freeze()
    }
}
