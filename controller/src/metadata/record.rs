//! The frame every metadata record travels in (Kafka's `MetadataRecordSerde`: unsigned varints
//! frame version 1, apiKey, record version, then the record body), and `FeatureLevelRecord`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Frame version Kafka writes in front of every metadata record.
pub const FRAME_VERSION: u32 = 1;
/// apiKey of `FeatureLevelRecord`.
pub const FEATURE_LEVEL_RECORD_API_KEY: u16 = 12;

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
}

/// The frame header of a metadata record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFrame {
    /// Record type (`FeatureLevelRecord` is 12, ...).
    pub api_key: u16,
    /// Version of the record schema.
    pub version: u16,
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
    let mut value: u32 = 0;
    for i in 0..5 {
        if !buf.has_remaining() {
            return Err(RecordError::Truncated(what));
        }
        let b = buf.get_u8();
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

/// Encodes the frame header.
pub fn put_frame(out: &mut BytesMut, frame: RecordFrame) {
    put_uvarint(out, FRAME_VERSION);
    put_uvarint(out, frame.api_key as u32);
    put_uvarint(out, frame.version as u32);
}

/// Decodes the frame header, leaving `buf` at the record body.
pub fn get_frame(buf: &mut Bytes) -> Result<RecordFrame, RecordError> {
    let fv = get_uvarint(buf, "frame version")?;
    if fv != FRAME_VERSION {
        return Err(RecordError::BadFrameVersion(fv));
    }
    let api_key = get_uvarint(buf, "apiKey")?;
    let version = get_uvarint(buf, "version")?;
    let to_u16 = |v: u32, what: &str| {
        u16::try_from(v).map_err(|_| RecordError::Invalid(format!("{what} {v} out of range")))
    };
    Ok(RecordFrame {
        api_key: to_u16(api_key, "apiKey")?,
        version: to_u16(version, "version")?,
    })
}

/// `FeatureLevelRecord` (apiKey 12, v0, flexible): a finalized feature level such as
/// `metadata.version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureLevelRecord {
    /// Feature name.
    pub name: String,
    /// Finalized level.
    pub feature_level: i16,
}

impl FeatureLevelRecord {
    /// The framed record bytes (a record value in the metadata log).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(8 + self.name.len());
        put_frame(
            &mut out,
            RecordFrame {
                api_key: FEATURE_LEVEL_RECORD_API_KEY,
                version: 0,
            },
        );
        put_uvarint(&mut out, self.name.len() as u32 + 1);
        out.put_slice(self.name.as_bytes());
        out.put_i16(self.feature_level);
        put_uvarint(&mut out, 0); // no tagged fields
        out.freeze()
    }

    /// Decodes a framed `FeatureLevelRecord`.
    pub fn decode(mut buf: Bytes) -> Result<FeatureLevelRecord, RecordError> {
        let frame = get_frame(&mut buf)?;
        if frame.api_key != FEATURE_LEVEL_RECORD_API_KEY || frame.version != 0 {
            return Err(RecordError::Invalid(format!(
                "expected FeatureLevelRecord v0, found apiKey {} v{}",
                frame.api_key, frame.version
            )));
        }
        let len = get_uvarint(&mut buf, "name length")?;
        let len = len
            .checked_sub(1)
            .ok_or_else(|| RecordError::Invalid("null feature name".into()))?
            as usize;
        if buf.remaining() < len + 2 {
            return Err(RecordError::Truncated("name"));
        }
        let name = String::from_utf8(buf.split_to(len).to_vec())
            .map_err(|_| RecordError::Invalid("feature name is not UTF-8".into()))?;
        let feature_level = buf.get_i16();
        let tagged = get_uvarint(&mut buf, "tagged fields")?;
        if tagged != 0 {
            return Err(RecordError::Invalid(format!(
                "{tagged} unexpected tagged fields"
            )));
        }
        Ok(FeatureLevelRecord {
            name,
            feature_level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn feature_level_bytes_match_kafka_layout() {
        let r = FeatureLevelRecord {
            name: "metadata.version".into(),
            feature_level: 21,
        };
        let b = r.encode();
        // frame 1, apiKey 12, version 0, compact string len 17, name, int16 21, no tags.
        assert_eq!(&b[..4], &[1, 12, 0, 17]);
        assert_eq!(&b[4..20], b"metadata.version");
        assert_eq!(&b[20..], &[0, 21, 0]);
        assert_eq!(FeatureLevelRecord::decode(b).unwrap(), r);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = FeatureLevelRecord::decode(Bytes::from(bytes));
        }

        #[test]
        fn uvarint_round_trips(v in any::<u32>()) {
            let mut out = BytesMut::new();
            put_uvarint(&mut out, v);
            prop_assert_eq!(get_uvarint(&mut out.freeze(), "v").unwrap(), v);
        }
    }
}
