//! Kafka's Uuid text form: 16 random bytes as URL-safe base64 without padding (22 characters),
//! as printed by `kafka-storage random-uuid` and stored in `meta.properties`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

/// Formats a Uuid the way Kafka prints it.
pub fn to_kafka_string(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// Why a text is not a Kafka Uuid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UuidError {
    /// Not URL-safe base64 without padding.
    #[error("'{text}' is not a base64 Uuid: {reason}")]
    NotBase64 {
        /// The text.
        text: String,
        /// The decoder's reason.
        reason: String,
    },
    /// Base64 of something other than 16 bytes.
    #[error("'{0}' does not decode to 16 bytes")]
    WrongLength(String),
}

/// Parses Kafka's 22-character base64 Uuid form.
pub fn parse_kafka_uuid(s: &str) -> Result<Uuid, UuidError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s.trim())
        .map_err(|e| UuidError::NotBase64 {
            text: s.into(),
            reason: e.to_string(),
        })?;
    let arr: [u8; 16] = bytes
        .try_into()
        .map_err(|_| UuidError::WrongLength(s.into()))?;
    Ok(Uuid::from_bytes(arr))
}

/// A fresh random Uuid as Kafka generates it: never the reserved all-zero (`ZERO_UUID`) or
/// one (`ONE_UUID`, the metadata topic's id) values, and never one whose text starts with '-'
/// (which command-line parsers would take for an option).
pub fn random_kafka_uuid() -> Uuid {
    loop {
        let id = Uuid::new_v4();
        let text = to_kafka_string(id);
        if id.as_u128() > 1 && !text.starts_with('-') {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_has_kafka_length() {
        for _ in 0..100 {
            let id = random_kafka_uuid();
            let s = to_kafka_string(id);
            assert_eq!(s.len(), 22);
            assert!(!s.starts_with('-'));
            assert_eq!(parse_kafka_uuid(&s).unwrap(), id);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_kafka_uuid("not a uuid").is_err());
        assert!(parse_kafka_uuid("AAAA").is_err());
        assert!(parse_kafka_uuid("").is_err());
    }

    #[test]
    fn known_value() {
        // ONE_UUID in Kafka's text form.
        assert_eq!(
            to_kafka_string(Uuid::from_u128(1)),
            "AAAAAAAAAAAAAAAAAAAAAQ"
        );
    }
}
