//! Kafka's "flexible version" primitives for metadata record bodies: a bounds-checked reader and
//! a writer for fixed-width integers, uuids, compact strings and arrays and tagged-field sections.
//! Every length read from the wire is checked against the bytes remaining before anything is
//! allocated, so malformed input fails with a [`RecordError`] and never panics.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use uuid::Uuid;

/// A malformed metadata record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes end early.
    #[error("metadata record ends early while reading {0}")]
    Truncated(&'static str),
    /// A varint is longer than 5 bytes.
    #[error("malformed varint in {0}")]
    BadVarint(&'static str),
    /// The frame version is not 1.
    #[error("unsupported metadata record frame version {0}")]
    BadFrameVersion(u32),
    /// A field's value is invalid.
    #[error("invalid metadata record: {0}")]
    Invalid(String),
    /// The apiKey names no metadata record we know.
    #[error("unknown metadata record type (apiKey {0})")]
    UnknownApiKey(u16),
    /// The record type is known but not at this version.
    #[error("unsupported version {version} of {name} (apiKey {api_key}); versions 0 to {max_version} are supported")]
    UnsupportedVersion {
        /// The record's apiKey.
        api_key: u16,
        /// The record's name.
        name: &'static str,
        /// The version found.
        version: u16,
        /// The newest version we read.
        max_version: u16,
    },
    /// Bytes are left after the record body.
    #[error("found {0} byte(s) of garbage after metadata record {1}")]
    TrailingBytes(usize, &'static str),
}

/// Writes an unsigned varint (Kafka's `ByteUtils.writeUnsignedVarint`).
pub fn put_uvarint(out: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

/// Reads an unsigned varint of at most 5 bytes.
pub fn get_uvarint(buf: &mut Bytes, what: &'static str) -> Result<u32, RecordError> {
    read_uvarint(what, || {
        if buf.has_remaining() {
            Ok(buf.get_u8())
        } else {
            Err(RecordError::Truncated(what))
        }
    })
}

/// Decodes an unsigned varint of at most 5 bytes from `next_byte`, one byte at a time.
fn read_uvarint(
    what: &'static str,
    mut next_byte: impl FnMut() -> Result<u8, RecordError>,
) -> Result<u32, RecordError> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let b = next_byte()?;
        if i == 4 && b > 0x0f {
            return Err(RecordError::BadVarint(what));
        }
        value |= ((b & 0x7f) as u32) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(RecordError::BadVarint(what))
}

/// Longest string Kafka's generated readers accept (`Short.MAX_VALUE` bytes).
pub(crate) const STRING_BYTES_MAX: usize = 0x7fff;

/// Reads a record body from a byte slice. Every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Every byte not yet read (a body whose format is not Kafka's, read to its end).
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], RecordError> {
        if self.buf.len() < n {
            return Err(RecordError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self, what: &'static str) -> Result<i8, RecordError> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, RecordError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// Kafka reads a boolean as "byte != 0".
    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, RecordError> {
        Ok(self.take(1, what)?[0] != 0)
    }

    pub(crate) fn uuid(&mut self, what: &'static str) -> Result<Uuid, RecordError> {
        Ok(Uuid::from_bytes(self.array(what)?))
    }

    pub(crate) fn uvarint(&mut self, what: &'static str) -> Result<u32, RecordError> {
        read_uvarint(what, || Ok(self.take(1, what)?[0]))
    }

    /// A compact length (stored as length + 1; 0 is null), checked so that `len * min_elem_bytes`
    /// fits in what remains.
    fn compact_len(
        &mut self,
        what: &'static str,
        min_elem_bytes: usize,
    ) -> Result<Option<usize>, RecordError> {
        let raw = self.uvarint(what)?;
        let Some(len) = raw.checked_sub(1) else {
            return Ok(None);
        };
        let len = len as usize;
        if len.saturating_mul(min_elem_bytes.max(1)) > self.remaining() {
            return Err(RecordError::Truncated(what));
        }
        Ok(Some(len))
    }

    pub(crate) fn nullable_string(
        &mut self,
        what: &'static str,
    ) -> Result<Option<String>, RecordError> {
        match self.compact_len(what, 1)? {
            None => Ok(None),
            Some(len) if len > STRING_BYTES_MAX => Err(RecordError::Invalid(format!(
                "string field {what} had invalid length {len}"
            ))),
            Some(len) => {
                let bytes = self.take(len, what)?;
                String::from_utf8(bytes.to_vec())
                    .map(Some)
                    .map_err(|_| RecordError::Invalid(format!("{what} is not valid UTF-8")))
            }
        }
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, RecordError> {
        self.nullable_string(what)?
            .ok_or_else(|| RecordError::Invalid(format!("non-nullable field {what} was null")))
    }

    /// A nullable compact array whose elements take at least `min_elem_bytes` each.
    pub(crate) fn nullable_array<T>(
        &mut self,
        what: &'static str,
        min_elem_bytes: usize,
        mut elem: impl FnMut(&mut Self) -> Result<T, RecordError>,
    ) -> Result<Option<Vec<T>>, RecordError> {
        match self.compact_len(what, min_elem_bytes)? {
            None => Ok(None),
            Some(len) => {
                let mut out = Vec::with_capacity(len);
                for _ in 0..len {
                    out.push(elem(self)?);
                }
                Ok(Some(out))
            }
        }
    }

    pub(crate) fn array_of<T>(
        &mut self,
        what: &'static str,
        min_elem_bytes: usize,
        elem: impl FnMut(&mut Self) -> Result<T, RecordError>,
    ) -> Result<Vec<T>, RecordError> {
        self.nullable_array(what, min_elem_bytes, elem)?
            .ok_or_else(|| RecordError::Invalid(format!("non-nullable field {what} was null")))
    }

    pub(crate) fn i32_array(&mut self, what: &'static str) -> Result<Vec<i32>, RecordError> {
        self.array_of(what, 4, |r| r.i32(what))
    }

    pub(crate) fn nullable_i32_array(
        &mut self,
        what: &'static str,
    ) -> Result<Option<Vec<i32>>, RecordError> {
        self.nullable_array(what, 4, |r| r.i32(what))
    }

    pub(crate) fn uuid_array(&mut self, what: &'static str) -> Result<Vec<Uuid>, RecordError> {
        self.array_of(what, 16, |r| r.uuid(what))
    }

    pub(crate) fn nullable_uuid_array(
        &mut self,
        what: &'static str,
    ) -> Result<Option<Vec<Uuid>>, RecordError> {
        self.nullable_array(what, 16, |r| r.uuid(what))
    }

    /// Reads a tagged-field section. `known` is called with (tag, a reader over exactly that
    /// field's bytes) and returns whether it consumed the tag; unknown tags are skipped, as
    /// Kafka does.
    pub(crate) fn tagged_fields(
        &mut self,
        mut known: impl FnMut(u32, &mut Reader<'a>) -> Result<bool, RecordError>,
    ) -> Result<(), RecordError> {
        // Each tagged field takes at least two bytes (tag and size).
        let count = self.uvarint("tagged field count")? as usize;
        if count.saturating_mul(2) > self.remaining() {
            return Err(RecordError::Truncated("tagged fields"));
        }
        for _ in 0..count {
            let tag = self.uvarint("tag")?;
            let size = self.uvarint("tagged field size")? as usize;
            let mut field = Reader::new(self.take(size, "tagged field")?);
            known(tag, &mut field)?;
        }
        Ok(())
    }

    /// Reads a tagged-field section where no tag is known at this version.
    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), RecordError> {
        self.tagged_fields(|_, _| Ok(false))
    }
}

/// Writes a record body.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: BytesMut,
}

impl Writer {
    pub(crate) fn i8(&mut self, v: i8) {
        self.out.put_i8(v);
    }
    pub(crate) fn i16(&mut self, v: i16) {
        self.out.put_i16(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.out.put_u16(v);
    }
    pub(crate) fn i32(&mut self, v: i32) {
        self.out.put_i32(v);
    }
    pub(crate) fn i64(&mut self, v: i64) {
        self.out.put_i64(v);
    }
    pub(crate) fn bool(&mut self, v: bool) {
        self.out.put_u8(v as u8);
    }
    pub(crate) fn uuid(&mut self, v: &Uuid) {
        self.out.put_slice(v.as_bytes());
    }
    pub(crate) fn uvarint(&mut self, v: u32) {
        put_uvarint(&mut self.out, v);
    }
    fn compact_len(&mut self, len: usize) {
        self.uvarint(u32::try_from(len).map_or(u32::MAX, |l| l.saturating_add(1)));
    }
    pub(crate) fn string(&mut self, s: &str) {
        self.compact_len(s.len());
        self.out.put_slice(s.as_bytes());
    }
    pub(crate) fn nullable_string(&mut self, s: Option<&str>) {
        match s {
            None => self.uvarint(0),
            Some(s) => self.string(s),
        }
    }
    pub(crate) fn array_of<T>(&mut self, items: &[T], mut elem: impl FnMut(&mut Self, &T)) {
        self.compact_len(items.len());
        for item in items {
            elem(self, item);
        }
    }
    pub(crate) fn i32_array(&mut self, items: &[i32]) {
        self.array_of(items, |w, v| w.i32(*v));
    }
    pub(crate) fn uuid_array(&mut self, items: &[Uuid]) {
        self.array_of(items, |w, v| w.uuid(v));
    }

    /// Writes a tagged-field section from (tag, field writer) pairs in increasing tag order;
    /// `None` entries (fields at their default) are left out.
    pub(crate) fn tagged_fields(&mut self, fields: Vec<(u32, Option<Writer>)>) {
        let present: Vec<(u32, Writer)> = fields
            .into_iter()
            .filter_map(|(tag, w)| w.map(|w| (tag, w)))
            .collect();
        self.uvarint(present.len() as u32);
        for (tag, w) in present {
            self.uvarint(tag);
            self.uvarint(u32::try_from(w.out.len()).unwrap_or(u32::MAX));
            self.out.put_slice(&w.out);
        }
    }

    /// No tagged fields.
    pub(crate) fn no_tagged_fields(&mut self) {
        self.uvarint(0);
    }
}

/// A writer holding one tagged field's bytes, built by `f`.
pub(crate) fn tagged(f: impl FnOnce(&mut Writer)) -> Option<Writer> {
    let mut w = Writer::default();
    f(&mut w);
    Some(w)
}
