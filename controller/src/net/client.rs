//! A small Kafka-protocol client for the admin tools and tests: one connection, one request at
//! a time, ApiVersions-aware version choice, bounded waits.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestKind, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::frame::FrameCodec;
use super::wire::{
    decode_response, decode_response_kind, encode_request, encode_request_kind,
    response_correlation_id,
};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not connect.
    #[error("connecting to {addr}: {reason}")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The server does not support the API at any version this client speaks.
    #[error("{addr} does not support {api:?}")]
    Unsupported {
        /// The address.
        addr: String,
        /// The API.
        api: ApiKey,
    },
    /// The connection failed or the response did not parse.
    #[error("{addr}: {reason}")]
    Io {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// No answer in time.
    #[error("{addr}: no response within {ms} ms")]
    Timeout {
        /// The address.
        addr: String,
        /// The wait.
        ms: u64,
    },
}

/// One connection to a Kafka-protocol server.
pub struct KafkaClient {
    addr: String,
    framed: Framed<TcpStream, FrameCodec>,
    next_id: i32,
    versions: Vec<(i16, i16, i16)>,
    timeout: Duration,
    client_id: String,
}

impl KafkaClient {
    /// Connects and negotiates versions with ApiVersions.
    pub async fn connect(addr: &str, timeout_ms: u64) -> Result<KafkaClient, ClientError> {
        let timeout = Duration::from_millis(timeout_ms);
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout {
                addr: addr.to_string(),
                ms: timeout_ms,
            })?
            .map_err(|e| ClientError::Connect {
                addr: addr.to_string(),
                reason: e.to_string(),
            })?;
        let _ = stream.set_nodelay(true);
        let mut client = KafkaClient {
            addr: addr.to_string(),
            framed: Framed::new(stream, FrameCodec::new(256 * 1024 * 1024)),
            next_id: 0,
            versions: Vec::new(),
            timeout,
            client_id: "metaquorum-admin".into(),
        };
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("metaquorum"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let resp: ApiVersionsResponse = client.send_at(ApiKey::ApiVersions, 3, &req).await?;
        client.versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, k.min_version, k.max_version))
            .collect();
        Ok(client)
    }

    /// The address connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The highest version of `api` both sides speak.
    pub fn version_for(&self, api: ApiKey) -> Option<i16> {
        let ours = api.valid_versions();
        self.versions
            .iter()
            .find(|(k, _, _)| *k == api as i16)
            .and_then(|(_, min, max)| {
                let v = (*max).min(ours.max);
                (v >= *min && v >= ours.min).then_some(v)
            })
    }

    /// Sends a request at the highest common version.
    pub async fn send<R>(&mut self, request: &R) -> Result<(i16, R::Response), ClientError>
    where
        R: Request + Encodable + HeaderVersion,
        R::Response: Decodable + HeaderVersion,
    {
        let api = ApiKey::try_from(R::KEY).map_err(|_| ClientError::Io {
            addr: self.addr.clone(),
            reason: format!("unknown api key {}", R::KEY),
        })?;
        let version = self
            .version_for(api)
            .ok_or_else(|| ClientError::Unsupported {
                addr: self.addr.clone(),
                api,
            })?;
        Ok((version, self.send_at(api, version, request).await?))
    }

    /// Sends a request of any API (a decoded [`RequestKind`]) at `version`; a broker forwards
    /// its clients' admin requests to the controller this way, at the client's version.
    pub async fn send_kind(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &RequestKind,
    ) -> Result<ResponseKind, ClientError> {
        let addr = self.addr.clone();
        let io = |reason: String| ClientError::Io {
            addr: addr.clone(),
            reason,
        };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1) & i32::MAX;
        let bytes = encode_request_kind(api, version, id, &self.client_id, request)
            .map_err(|e| io(e.to_string()))?;
        self.framed
            .send(bytes)
            .await
            .map_err(|e| io(e.to_string()))?;
        let mut frame = self.next_frame(id).await?;
        decode_response_kind(api, version, &mut frame).map_err(|e| io(e.to_string()))
    }

    /// Waits for the response frame with correlation id `id`.
    async fn next_frame(&mut self, id: i32) -> Result<Bytes, ClientError> {
        let addr = self.addr.clone();
        let io = |reason: String| ClientError::Io {
            addr: addr.clone(),
            reason,
        };
        let frame = tokio::time::timeout(self.timeout, self.framed.next())
            .await
            .map_err(|_| ClientError::Timeout {
                addr: self.addr.clone(),
                ms: self.timeout.as_millis() as u64,
            })?
            .ok_or_else(|| io("connection closed".into()))?
            .map_err(|e| io(e.to_string()))?;
        let got = response_correlation_id(&frame).map_err(|e| io(e.to_string()))?;
        if got != id {
            return Err(io(format!("correlation id {got}, expected {id}")));
        }
        Ok(frame)
    }

    /// Sets the client id sent in request headers.
    pub fn set_client_id(&mut self, client_id: impl Into<String>) {
        self.client_id = client_id.into();
    }

    /// Sends a request at a given version.
    pub async fn send_at<R, Resp>(
        &mut self,
        api: ApiKey,
        version: i16,
        request: &R,
    ) -> Result<Resp, ClientError>
    where
        R: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion,
    {
        let addr = self.addr.clone();
        let io = |reason: String| ClientError::Io {
            addr: addr.clone(),
            reason,
        };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1) & i32::MAX;
        let bytes = encode_request(api, version, id, &self.client_id, request)
            .map_err(|e| io(e.to_string()))?;
        self.framed
            .send(bytes)
            .await
            .map_err(|e| io(e.to_string()))?;
        let frame = self.next_frame(id).await?;
        decode_response(&format!("{api:?} response"), frame, version).map_err(|e| io(e.to_string()))
    }
}
