//! Fuzz target: the ZooKeeper protocol decoders on arbitrary bytes, as a server reads them (a
//! ConnectRequest, then frames of a request header and a body) and as a client reads answers.
//! Nothing may panic; whatever decodes must encode again and decode to the same value.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use metaquorum_zk::proto::frame::split_frame;
use metaquorum_zk::proto::jute::{Reader, Record};
use metaquorum_zk::proto::{ConnectRequest, OpCode, Request, RequestHeader, Response};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(c) = ConnectRequest::read(&mut Reader::new(bytes.clone())) {
        assert_eq!(ConnectRequest::read(&mut Reader::new(c.to_bytes())), Ok(c));
    }
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = split_frame(&mut buf, 1 << 16) {
        let mut r = Reader::new(frame);
        let Ok(header) = RequestHeader::read(&mut r) else {
            continue;
        };
        let body = r.rest();
        if let Ok(request) = Request::decode(header.op, body.clone()) {
            let mut again = BytesMut::new();
            request.write(&mut again);
            assert_eq!(Request::decode(header.op, again.freeze()), Ok(request));
        }
        if let Some(op) = OpCode::from_code(header.op) {
            if let Ok(response) = Response::decode(op, body) {
                let mut again = BytesMut::new();
                response.write(&mut again);
                assert_eq!(Response::decode(op, again.freeze()), Ok(response));
            }
        }
    }
});
