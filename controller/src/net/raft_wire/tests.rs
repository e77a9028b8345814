//! Round trips of every KRaft RPC through its codec, and the malformed inputs each refuses.

use super::*;
use crate::net::wire::read_request;
use crate::raft::{Batch, Epoch, EpochEndOffset, Offset};
use metaquorum_log::batch::RecordData;

fn round_trip_request(m: Message) {
    let (sent, bytes) = encode_raft_request(&m, "cid", 7, "t").unwrap();
    let raw = read_request(bytes).unwrap();
    assert_eq!(raw.api, sent.api);
    let back = decode_raft_request(raw.api, raw.version, raw.body).unwrap();
    assert_eq!(back.message, m);
    assert_eq!(back.cluster_id.as_deref(), Some("cid"));
}

fn round_trip_response(request: &Message, response: Message) {
    let (sent, _) = encode_raft_request(request, "cid", 7, "t").unwrap();
    let bytes = encode_raft_response(sent.api, sent.version, 7, &response).unwrap();
    assert_eq!(decode_raft_response(sent, bytes).unwrap(), response);
}

#[test]
fn every_raft_rpc_round_trips() {
    let vote = Message::VoteRequest {
        replica_epoch: Epoch(3),
        replica_id: NodeId(2),
        last_offset_epoch: Epoch(2),
        last_offset: Offset(17),
        pre_vote: true,
    };
    round_trip_request(vote.clone());
    round_trip_response(
        &vote,
        Message::VoteResponse {
            error: ErrorCode::None,
            leader_epoch: Epoch(2),
            leader_id: None,
            vote_granted: true,
            pre_vote: true,
        },
    );
    let bqe = Message::BeginQuorumEpochRequest {
        leader_epoch: Epoch(4),
        leader_id: NodeId(1),
    };
    round_trip_request(bqe.clone());
    round_trip_response(
        &bqe,
        Message::BeginQuorumEpochResponse {
            error: ErrorCode::FencedLeaderEpoch,
            leader_epoch: Epoch(5),
            leader_id: Some(NodeId(3)),
        },
    );
    let eqe = Message::EndQuorumEpochRequest {
        leader_epoch: Epoch(4),
        leader_id: NodeId(1),
        preferred_successors: vec![NodeId(3), NodeId(2)],
    };
    round_trip_request(eqe.clone());
    round_trip_response(
        &eqe,
        Message::EndQuorumEpochResponse {
            error: ErrorCode::None,
            leader_epoch: Epoch(4),
            leader_id: Some(NodeId(1)),
        },
    );
    let fetch = Message::FetchRequest {
        replica_id: NodeId(2),
        current_leader_epoch: Epoch(4),
        fetch_offset: Offset(10),
        last_fetched_epoch: Epoch(3),
        max_bytes: 1 << 20,
    };
    round_trip_request(fetch.clone());
    let rec = |v: &'static str| RecordData {
        key: None,
        value: Some(Bytes::from_static(v.as_bytes())),
    };
    round_trip_response(
        &fetch,
        Message::FetchResponse {
            error: ErrorCode::None,
            leader_epoch: Epoch(4),
            leader_id: Some(NodeId(1)),
            high_watermark: Offset(11),
            log_start_offset: Offset(0),
            records: vec![
                Batch::new(Offset(10), Epoch(4), false, vec![rec("a"), rec("b")]),
                Batch::new(Offset(12), Epoch(4), true, vec![rec("c")]),
            ],
            diverging_epoch: None,
            snapshot_id: None,
        },
    );
    round_trip_response(
        &fetch,
        Message::FetchResponse {
            error: ErrorCode::None,
            leader_epoch: Epoch(4),
            leader_id: Some(NodeId(1)),
            high_watermark: Offset(11),
            log_start_offset: Offset(0),
            records: vec![],
            diverging_epoch: Some(EpochEndOffset {
                epoch: Epoch(2),
                end_offset: Offset(8),
            }),
            snapshot_id: Some(SnapshotId {
                end_offset: Offset(5),
                epoch: Epoch(1),
            }),
        },
    );
    let snap = Message::FetchSnapshotRequest {
        replica_id: NodeId(3),
        current_leader_epoch: Epoch(4),
        snapshot_id: SnapshotId {
            end_offset: Offset(100),
            epoch: Epoch(2),
        },
        position: 4096,
        max_bytes: 1 << 20,
    };
    round_trip_request(snap.clone());
    round_trip_response(
        &snap,
        Message::FetchSnapshotResponse {
            error: ErrorCode::None,
            leader_epoch: Epoch(4),
            leader_id: Some(NodeId(1)),
            snapshot_id: SnapshotId {
                end_offset: Offset(100),
                epoch: Epoch(2),
            },
            size: 9000,
            position: 4096,
            bytes: Bytes::from_static(b"chunk"),
        },
    );
}

#[test]
fn a_damaged_batch_rejects_the_fetch_response() {
    let rec = RecordData {
        key: None,
        value: Some(Bytes::from_static(b"v")),
    };
    let good = encode_batches(&[Batch::new(Offset(0), Epoch(1), false, vec![rec])], 0).unwrap();
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(decode_batches(&good).is_ok());
    assert!(decode_batches(&bad).is_err());
}

#[test]
fn a_top_level_error_answers_every_raft_rpc() {
    // What the server sends when a request cannot reach the core: the peer reads it as an
    // error answer (Vote, Fetch, FetchSnapshot) or as the core's error (the quorum-epoch RPCs,
    // whose responses carry it beside the partition's).
    let requests = [
        Message::VoteRequest {
            replica_epoch: Epoch(1),
            replica_id: NodeId(2),
            last_offset_epoch: Epoch(0),
            last_offset: Offset(0),
            pre_vote: false,
        },
        Message::FetchRequest {
            replica_id: NodeId(2),
            current_leader_epoch: Epoch(1),
            fetch_offset: Offset(0),
            last_fetched_epoch: Epoch(0),
            max_bytes: 1024,
        },
        Message::FetchSnapshotRequest {
            replica_id: NodeId(2),
            current_leader_epoch: Epoch(1),
            snapshot_id: SnapshotId {
                end_offset: Offset(10),
                epoch: Epoch(1),
            },
            position: 0,
            max_bytes: 1024,
        },
    ];
    for request in &requests {
        let (sent, _) = encode_raft_request(request, "cid", 7, "t").unwrap();
        let bytes = raft_error_response(
            sent.api,
            sent.version,
            7,
            ResponseError::InconsistentClusterId,
        )
        .unwrap();
        match decode_raft_response(sent, bytes) {
            Err(WireError::ErrorAnswer { code, .. }) => assert_eq!(code, 104, "{request:?}"),
            other => panic!("{request:?}: {other:?}"),
        }
    }
}

#[test]
fn a_request_names_exactly_the_metadata_partition() {
    use kafka_protocol::messages::vote_request::{PartitionData, TopicData, VoteRequest};
    let partition =
        || PartitionData::default().with_replica_id(kafka_protocol::messages::BrokerId(2));
    let topic = |name: &'static str, partitions| {
        TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str(name)))
            .with_partitions(partitions)
    };
    let cases = [
        (vec![], "0 topics"),
        (
            vec![topic(METADATA_TOPIC, vec![partition()]); 2],
            "2 topics",
        ),
        (
            vec![topic("orders", vec![partition()])],
            "is not __cluster_metadata",
        ),
        (vec![topic(METADATA_TOPIC, vec![])], "0 partitions"),
        (
            vec![topic(METADATA_TOPIC, vec![partition(), partition()])],
            "2 partitions",
        ),
    ];
    for (topics, expected) in cases {
        let r = VoteRequest::default().with_topics(topics);
        let bytes =
            crate::net::wire::encode_request(ApiKey::Vote, vote::VERSION, 1, "t", &r).unwrap();
        let raw = read_request(bytes).unwrap();
        match decode_raft_request(raw.api, raw.version, raw.body) {
            Err(WireError::Malformed { reason, .. }) => {
                assert!(reason.contains(expected), "{reason} (expected {expected})")
            }
            other => panic!("{expected}: {other:?}"),
        }
    }
}

#[test]
fn a_message_of_another_rpc_is_an_error_not_a_panic() {
    let response = Message::VoteResponse {
        error: ErrorCode::None,
        leader_epoch: Epoch(1),
        leader_id: None,
        vote_granted: false,
        pre_vote: false,
    };
    assert!(encode_raft_request(&response, "cid", 1, "t").is_err());
    let request = Message::BeginQuorumEpochRequest {
        leader_epoch: Epoch(1),
        leader_id: NodeId(1),
    };
    assert!(encode_raft_response(ApiKey::BeginQuorumEpoch, 0, 1, &request).is_err());
    assert!(vote::encode_request(&request, "cid", 1, "t").is_err());
    assert!(fetch::encode_response(13, 1, &response).is_err());
    assert!(
        raft_error_response(ApiKey::Metadata, 0, 1, ResponseError::UnknownServerError).is_err()
    );
}
