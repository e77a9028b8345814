//! Kafka's framing: every request and response is a 4-byte big-endian size followed by that many
//! bytes. The codec bounds the size (Kafka's `socket.request.max.bytes`, 100 MiB by default) and
//! rejects a negative or oversized size before buffering anything, so a garbage header cannot make
//! the server allocate.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Kafka's default `socket.request.max.bytes`.
pub const FRAME_BYTES_MAX_DEFAULT: usize = 100 * 1024 * 1024;
/// Bytes of the size prefix.
const SIZE_BYTES: usize = 4;

/// Why a frame could not be read or written. Any of these ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The size prefix is negative.
    #[error("frame size {0} is negative")]
    NegativeSize(i32),
    /// The frame is larger than allowed.
    #[error("frame of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Declared or actual size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
}

/// Length-prefixed frames, bounded by `frame_bytes_max`.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    frame_bytes_max: usize,
}

impl FrameCodec {
    /// A codec refusing frames larger than `frame_bytes_max`.
    pub fn new(frame_bytes_max: usize) -> Self {
        FrameCodec { frame_bytes_max }
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(FRAME_BYTES_MAX_DEFAULT)
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if src.len() < SIZE_BYTES {
            return Ok(None);
        }
        let size = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if size < 0 {
            return Err(FrameError::NegativeSize(size));
        }
        let size = size as usize;
        if size > self.frame_bytes_max {
            return Err(FrameError::TooLarge {
                size,
                max: self.frame_bytes_max,
            });
        }
        if src.len() < SIZE_BYTES + size {
            // Reserve what this frame needs (bounded above), so the reads that follow fill it.
            src.reserve(SIZE_BYTES + size - src.len());
            return Ok(None);
        }
        src.advance(SIZE_BYTES);
        Ok(Some(src.split_to(size).freeze()))
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        if item.len() > self.frame_bytes_max || item.len() > i32::MAX as usize {
            return Err(FrameError::TooLarge {
                size: item.len(),
                max: self.frame_bytes_max,
            });
        }
        dst.reserve(SIZE_BYTES + item.len());
        dst.put_i32(item.len() as i32);
        dst.extend_from_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frames_round_trip_across_arbitrary_splits() {
        let mut codec = FrameCodec::new(1024);
        let mut wire = BytesMut::new();
        for payload in [&b""[..], b"a", &[7u8; 1000][..]] {
            codec
                .encode(Bytes::copy_from_slice(payload), &mut wire)
                .unwrap();
        }
        let wire = wire.freeze();
        for split in 0..wire.len() {
            let mut buf = BytesMut::new();
            let mut out = Vec::new();
            for chunk in [&wire[..split], &wire[split..]] {
                buf.extend_from_slice(chunk);
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    out.push(f);
                }
            }
            assert_eq!(out.len(), 3, "split at {split}");
            assert_eq!(out[2].len(), 1000);
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn negative_and_oversized_sizes_are_refused_before_buffering() {
        let mut codec = FrameCodec::new(100);
        let mut buf = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::NegativeSize(-1))
        ));
        let mut buf = BytesMut::from(&(101i32).to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLarge {
                size: 101,
                max: 100
            })
        ));
        assert!(buf.capacity() < 100, "nothing reserved for a refused frame");
        let mut out = BytesMut::new();
        assert!(codec.encode(Bytes::from(vec![0u8; 101]), &mut out).is_err());
        assert!(out.is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut codec = FrameCodec::new(64);
            let mut buf = BytesMut::from(&bytes[..]);
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
        }
    }
}
