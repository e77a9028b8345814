//! Kafka request and response envelopes over [`kafka-protocol`](kafka_protocol): the request
//! header (v1, or v2 for flexible versions), version checks against what this node serves,
//! bounded decoding of bodies, and encoding of responses and requests.
//!
//! Decoding never trusts the bytes: a short header, an unknown API key, an unsupported version,
//! a body that does not parse or leaves bytes over, and a decoder panic (a `capacity overflow`
//! from a wire length) all become a [`WireError`] for that request only.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

/// Why a request or response could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame is shorter than a request header.
    #[error("frame of {0} bytes is too short for a request header")]
    Truncated(usize),
    /// The API key is not one Kafka defines.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// The API exists but this node does not serve it (or not at this version).
    #[error("{api:?} v{version} is not supported (supported: {supported})")]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// The version asked for.
        version: i16,
        /// What is supported, as `min..=max`, or `none`.
        supported: String,
    },
    /// The header or body does not parse.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// A well-formed response that carries a top-level error instead of an answer (e.g. a
    /// peer whose driver is stopping): not a protocol fault.
    #[error("{what} carries error code {code}")]
    ErrorAnswer {
        /// The response.
        what: String,
        /// Its top-level error code.
        code: i16,
    },
    /// A message could not be encoded.
    #[error("encoding {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
}

/// A request as read off a connection: its header and undecoded body.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The API.
    pub api: ApiKey,
    /// The API version.
    pub version: i16,
    /// The client's correlation id, echoed in the response.
    pub correlation_id: i32,
    /// The client id, if sent.
    pub client_id: Option<String>,
    /// The body bytes.
    pub body: Bytes,
}

/// Reads a request header from a frame. Only the API key and version are read before the key is
/// known to be valid, so a short or garbage frame cannot reach the crate's decoders.
pub fn read_request(mut frame: Bytes) -> Result<RawRequest, WireError> {
    if frame.len() < 8 {
        return Err(WireError::Truncated(frame.len()));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api = ApiKey::try_from(key).map_err(|_| WireError::UnknownApiKey(key))?;
    let header_version = api.request_header_version(version);
    let header: RequestHeader = decode_guarded("request header", &mut frame, header_version)?;
    Ok(RawRequest {
        api,
        version,
        correlation_id: header.correlation_id,
        client_id: header.client_id.map(|s| s.to_string()),
        body: frame,
    })
}

/// Decodes a whole body: every byte must be consumed.
pub fn decode_body<T: Decodable>(
    what: &str,
    body: &mut Bytes,
    version: i16,
) -> Result<T, WireError> {
    let value = decode_guarded(what, body, version)?;
    if body.has_remaining() {
        return Err(WireError::Malformed {
            what: what.to_string(),
            reason: format!("{} bytes left over after the message", body.remaining()),
        });
    }
    Ok(value)
}

/// Runs a crate decoder, turning errors and panics into [`WireError::Malformed`].
fn decode_guarded<T: Decodable>(what: &str, buf: &mut Bytes, version: i16) -> Result<T, WireError> {
    guarded(what, || T::decode(buf, version))
}

/// Runs `decode`, turning its error, or a panic on an impossible length, into
/// [`WireError::Malformed`].
fn guarded<T, E: std::fmt::Display>(
    what: &str,
    decode: impl FnOnce() -> Result<T, E>,
) -> Result<T, WireError> {
    match catch_unwind(AssertUnwindSafe(decode)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(WireError::Malformed {
            what: what.to_string(),
            reason: e.to_string(),
        }),
        Err(_) => Err(WireError::Malformed {
            what: what.to_string(),
            reason: "a length in the message is impossible".to_string(),
        }),
    }
}

/// Encodes a response frame body (without the size prefix): header, then body.
pub fn encode_response<R: Encodable + HeaderVersion>(
    what: &str,
    correlation_id: i32,
    version: i16,
    response: &R,
) -> Result<Bytes, WireError> {
    let mut out = BytesMut::with_capacity(64);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let err = |e: &dyn std::fmt::Display| WireError::Encode {
        what: what.to_string(),
        reason: e.to_string(),
    };
    header
        .encode(&mut out, R::header_version(version))
        .map_err(|e| err(&e))?;
    response.encode(&mut out, version).map_err(|e| err(&e))?;
    Ok(out.freeze())
}

/// Encodes a response of any API (a [`ResponseKind`]) at `version`, with its header.
pub fn encode_response_kind(
    api: ApiKey,
    correlation_id: i32,
    version: i16,
    response: &ResponseKind,
) -> Result<Bytes, WireError> {
    let mut out = BytesMut::with_capacity(128);
    let err = |e: &dyn std::fmt::Display| WireError::Encode {
        what: format!("{api:?} response"),
        reason: e.to_string(),
    };
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, api.response_header_version(version))
        .map_err(|e| err(&e))?;
    response.encode(&mut out, version).map_err(|e| err(&e))?;
    Ok(out.freeze())
}

/// Encodes a request frame body (without the size prefix): header, then body.
pub fn encode_request<R: Encodable + HeaderVersion>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    request: &R,
) -> Result<Bytes, WireError> {
    encode_request_with(api, version, correlation_id, client_id, |out| {
        request.encode(out, version)
    })
}

/// [`encode_request`] for a request of any API (a [`RequestKind`]), e.g. one a broker forwards.
pub fn encode_request_kind(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    request: &RequestKind,
) -> Result<Bytes, WireError> {
    encode_request_with(api, version, correlation_id, client_id, |out| {
        request.encode(out, version)
    })
}

fn encode_request_with<E: std::fmt::Display>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &str,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<Bytes, WireError> {
    let mut out = BytesMut::with_capacity(128);
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_string())));
    let err = |e: &dyn std::fmt::Display| WireError::Encode {
        what: format!("{api:?} request"),
        reason: e.to_string(),
    };
    header
        .encode(&mut out, api.request_header_version(version))
        .map_err(|e| err(&e))?;
    body(&mut out).map_err(|e| err(&e))?;
    Ok(out.freeze())
}

/// Reads the correlation id that starts every response.
pub fn response_correlation_id(frame: &Bytes) -> Result<i32, WireError> {
    if frame.len() < 4 {
        return Err(WireError::Truncated(frame.len()));
    }
    Ok(i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]))
}

/// Decodes a response frame of a known API and version.
pub fn decode_response<R: Decodable + HeaderVersion>(
    what: &str,
    mut frame: Bytes,
    version: i16,
) -> Result<R, WireError> {
    let _header: ResponseHeader =
        decode_guarded("response header", &mut frame, R::header_version(version))?;
    decode_body(what, &mut frame, version)
}

/// Decodes a response frame of any API at `version` into a [`ResponseKind`].
pub fn decode_response_kind(
    api: ApiKey,
    version: i16,
    frame: &mut Bytes,
) -> Result<ResponseKind, WireError> {
    let _header: ResponseHeader = decode_guarded(
        "response header",
        frame,
        api.response_header_version(version),
    )?;
    guarded(&format!("{api:?} response"), || {
        ResponseKind::decode(api, frame, version)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use kafka_protocol::messages::ApiVersionsRequest;

    #[test]
    fn a_request_round_trips_through_header_and_body() {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("t"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        let bytes = encode_request(ApiKey::ApiVersions, 3, 42, "me", &req).unwrap();
        let raw = read_request(bytes).unwrap();
        assert_eq!(raw.api, ApiKey::ApiVersions);
        assert_eq!(raw.version, 3);
        assert_eq!(raw.correlation_id, 42);
        assert_eq!(raw.client_id.as_deref(), Some("me"));
        let mut body = raw.body;
        let back: ApiVersionsRequest = decode_body("ApiVersions", &mut body, 3).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(
            read_request(Bytes::from_static(&[0, 1])).unwrap_err(),
            WireError::Truncated(2)
        );
        assert!(matches!(
            read_request(Bytes::from_static(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 1])),
            Err(WireError::UnknownApiKey(0x7f7f))
        ));
        // A CreateTopics v0 body claiming 2^31-1 topics: decoding fails (no abort, no panic).
        let mut frame = BytesMut::new();
        frame.put_i16(ApiKey::CreateTopics as i16);
        frame.put_i16(0);
        frame.put_i32(1);
        frame.put_i16(-1); // null client id
        frame.put_i32(i32::MAX);
        let raw = read_request(frame.freeze()).unwrap();
        let mut body = raw.body;
        let r: Result<kafka_protocol::messages::CreateTopicsRequest, _> =
            decode_body("CreateTopics", &mut body, 0);
        assert!(r.is_err());
    }
}
