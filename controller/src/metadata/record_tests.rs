//! Tests of the record codec: known bytes derived by hand from Kafka's schemas, round trips of
//! every record type, old versions, rejections, and random input never panicking.

use bytes::Bytes;
use proptest::prelude::*;
use uuid::Uuid;

use super::record::*;
use metaquorum_zk as zk;

fn frame(api_key: u8, version: u8) -> Vec<u8> {
    vec![1, api_key, version]
}

fn uuid_one() -> Vec<u8> {
    let mut v = vec![0u8; 15];
    v.push(1);
    v
}

#[test]
fn topic_record_known_bytes() {
    // TopicRecord v0 (apiKey 2): Name compact string (len+1 = 4, "foo"), TopicId 16 bytes,
    // empty tagged-field section (0).
    let r = MetadataRecord::Topic(TopicRecord {
        name: "foo".into(),
        topic_id: Uuid::from_u128(1),
    });
    let mut want = frame(2, 0);
    want.extend_from_slice(&[4, b'f', b'o', b'o']);
    want.extend(uuid_one());
    want.push(0);
    assert_eq!(&r.encode()[..], &want[..]);
    assert_eq!(MetadataRecord::decode(Bytes::from(want)).unwrap(), r);
    assert_eq!(
        r.to_json(),
        serde_json::json!({"type": "TOPIC_RECORD", "version": 0,
            "data": {"name": "foo", "topicId": "AAAAAAAAAAAAAAAAAAAAAQ"}})
    );
    assert_eq!(
        r.to_json_string(),
        r#"{"type":"TOPIC_RECORD","version":0,"data":{"name":"foo","topicId":"AAAAAAAAAAAAAAAAAAAAAQ"}}"#
    );
}

#[test]
fn register_broker_json_in_schema_order() {
    let r = MetadataRecord::RegisterBroker(RegisterBrokerRecord {
        broker_id: 1,
        is_migrating_zk_broker: false,
        incarnation_id: Uuid::from_u128(1),
        broker_epoch: 7,
        end_points: vec![Endpoint {
            name: "PLAINTEXT".into(),
            host: "h".into(),
            port: 9092,
            security_protocol: 0,
        }],
        features: vec![FeatureRange {
            name: "metadata.version".into(),
            min_supported_version: 1,
            max_supported_version: 21,
        }],
        rack: None,
        fenced: true,
        in_controlled_shutdown: false,
        log_dirs: vec![],
    });
    assert_eq!(
        r.to_json_string(),
        concat!(
            r#"{"type":"REGISTER_BROKER_RECORD","version":3,"data":{"brokerId":1,"#,
            r#""isMigratingZkBroker":false,"incarnationId":"AAAAAAAAAAAAAAAAAAAAAQ","#,
            r#""brokerEpoch":7,"endPoints":[{"name":"PLAINTEXT","host":"h","port":9092,"#,
            r#""securityProtocol":0}],"features":[{"name":"metadata.version","#,
            r#""minSupportedVersion":1,"maxSupportedVersion":21}],"rack":null,"fenced":true,"#,
            r#""inControlledShutdown":false}}"#
        )
    );
    // As read at v0: no IsMigratingZkBroker, no InControlledShutdown.
    let v0 = r.to_json_at(0);
    assert_eq!(v0["version"], 0);
    assert!(v0["data"].get("isMigratingZkBroker").is_none());
    assert!(v0["data"].get("inControlledShutdown").is_none());
}

fn partition_record() -> PartitionRecord {
    PartitionRecord {
        partition_id: 0,
        topic_id: Uuid::from_u128(1),
        replicas: vec![1, 2],
        isr: vec![1],
        removing_replicas: vec![],
        adding_replicas: vec![],
        leader: 1,
        leader_recovery_state: 0,
        leader_epoch: 0,
        partition_epoch: 0,
        directories: vec![],
        eligible_leader_replicas: None,
        last_known_elr: None,
    }
}

#[test]
fn partition_record_known_bytes() {
    // PartitionRecord v2 (apiKey 3), fields in schema order, skipping the tagged ones:
    // PartitionId int32 0, TopicId 16 bytes, Replicas compact array (len+1 = 3) [1, 2],
    // Isr (2) [1], RemovingReplicas (1) [], AddingReplicas (1) [], Leader 1, LeaderEpoch 0,
    // PartitionEpoch 0, Directories (v1+, not tagged) (1) [], then the tagged section:
    // LeaderRecoveryState (tag 0) and ELR/LastKnownElr (tags 1, 2) are at their defaults, so 0.
    let r = MetadataRecord::Partition(partition_record());
    let mut want = frame(3, 2);
    want.extend_from_slice(&[0, 0, 0, 0]);
    want.extend(uuid_one());
    want.extend_from_slice(&[3, 0, 0, 0, 1, 0, 0, 0, 2]);
    want.extend_from_slice(&[2, 0, 0, 0, 1]);
    want.extend_from_slice(&[1, 1]);
    want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    want.push(1);
    want.push(0);
    assert_eq!(&r.encode()[..], &want[..]);
    assert_eq!(MetadataRecord::decode(Bytes::from(want)).unwrap(), r);

    // With LeaderRecoveryState 1 and ELR [2]: two tagged fields, in tag order:
    // tag 0, size 1, value 1; tag 1, size 5, compact array (len+1 = 2) [2].
    let mut p = partition_record();
    p.leader_recovery_state = 1;
    p.eligible_leader_replicas = Some(vec![2]);
    let bytes = MetadataRecord::Partition(p.clone()).encode();
    assert_eq!(
        &bytes[bytes.len() - 12..],
        &[1, 2, 0, 1, 1, 1, 5, 2, 0, 0, 0, 2]
    );
    assert_eq!(
        MetadataRecord::decode(bytes).unwrap(),
        MetadataRecord::Partition(p)
    );

    // Version 0 has no Directories field: same body without the `1` before the tag section.
    let mut v0 = frame(3, 0);
    v0.extend_from_slice(&[0, 0, 0, 0]);
    v0.extend(uuid_one());
    v0.extend_from_slice(&[3, 0, 0, 0, 1, 0, 0, 0, 2, 2, 0, 0, 0, 1, 1, 1]);
    v0.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        MetadataRecord::decode(Bytes::from(v0)).unwrap(),
        MetadataRecord::Partition(partition_record())
    );
}

#[test]
fn partition_change_record_known_bytes() {
    // PartitionChangeRecord v2 (apiKey 5): PartitionId 3, TopicId, then only tagged fields.
    // Isr (tag 0) = [2, 3]: size 9 = compact len 3 + two int32; Leader (tag 1) = 2: size 4.
    // Every other tag is at its default (null / -1) and left out. Count = 2.
    let mut c = PartitionChangeRecord::new(Uuid::from_u128(1), 3);
    c.isr = Some(vec![2, 3]);
    c.leader = 2;
    let r = MetadataRecord::PartitionChange(c);
    let mut want = frame(5, 2);
    want.extend_from_slice(&[0, 0, 0, 3]);
    want.extend(uuid_one());
    want.extend_from_slice(&[2, 0, 9, 3, 0, 0, 0, 2, 0, 0, 0, 3, 1, 4, 0, 0, 0, 2]);
    assert_eq!(&r.encode()[..], &want[..]);
    assert_eq!(MetadataRecord::decode(Bytes::from(want)).unwrap(), r);
    assert_eq!(
        r.to_json()["data"],
        serde_json::json!({"partitionId": 3, "topicId": "AAAAAAAAAAAAAAAAAAAAAQ",
            "isr": [2, 3], "leader": 2})
    );
    // Kafka's field order (schema order, tagged fields at their default left out).
    assert_eq!(
        r.to_json_string(),
        r#"{"type":"PARTITION_CHANGE_RECORD","version":2,"data":{"partitionId":3,"topicId":"AAAAAAAAAAAAAAAAAAAAAQ","isr":[2,3],"leader":2}}"#
    );

    // An unknown tag (99, 2 bytes) is skipped; at v0 tag 6 (ELR, v2+) is unknown too.
    let mut v0 = frame(5, 0);
    v0.extend_from_slice(&[0, 0, 0, 3]);
    v0.extend(uuid_one());
    v0.extend_from_slice(&[2, 6, 5, 2, 0, 0, 0, 7, 99, 2, 0xab, 0xcd]);
    assert_eq!(
        MetadataRecord::decode(Bytes::from(v0)).unwrap(),
        MetadataRecord::PartitionChange(PartitionChangeRecord::new(Uuid::from_u128(1), 3))
    );
}

#[test]
fn encode_at_older_versions() {
    // PartitionRecord v0 has no Directories and no ELR: fine while they are at defaults.
    let r = MetadataRecord::Partition(partition_record());
    let v0 = r.encode_at(0).unwrap();
    assert_eq!(&v0[..3], &[1, 3, 0]);
    assert_eq!(v0.len(), r.encode().len() - 1);
    assert_eq!(MetadataRecord::decode(v0).unwrap(), r);
    let mut p = partition_record();
    p.eligible_leader_replicas = Some(vec![1]);
    let with_elr = MetadataRecord::Partition(p);
    assert!(with_elr.encode_at(1).is_err());
    assert!(with_elr.encode_at(2).is_ok());
    assert!(matches!(
        r.encode_at(3),
        Err(RecordError::UnsupportedVersion { version: 3, .. })
    ));
    assert_eq!(
        r.to_json_string_at(0),
        concat!(
            r#"{"type":"PARTITION_RECORD","version":0,"data":{"partitionId":0,"#,
            r#""topicId":"AAAAAAAAAAAAAAAAAAAAAQ","replicas":[1,2],"isr":[1],"#,
            r#""removingReplicas":[],"addingReplicas":[],"leader":1,"leaderEpoch":0,"#,
            r#""partitionEpoch":0}}"#
        )
    );
}

#[test]
fn rejects_unknown_types_versions_and_garbage() {
    assert_eq!(
        MetadataRecord::decode(Bytes::from_static(&[1, 99, 0])),
        Err(RecordError::UnknownApiKey(99))
    );
    let err = MetadataRecord::decode(Bytes::from_static(&[1, 2, 1])).unwrap_err();
    assert!(matches!(
        err,
        RecordError::UnsupportedVersion {
            api_key: 2,
            version: 1,
            max_version: 0,
            ..
        }
    ));
    assert!(err.to_string().contains("TOPIC_RECORD"));
    assert_eq!(
        MetadataRecord::decode(Bytes::from_static(&[0, 2, 0])),
        Err(RecordError::BadFrameVersion(0))
    );
    let mut bytes = MetadataRecord::NoOp(NoOpRecord {}).encode().to_vec();
    bytes.push(7);
    assert_eq!(
        MetadataRecord::decode(Bytes::from(bytes)),
        Err(RecordError::TrailingBytes(1, "NO_OP_RECORD"))
    );
}

#[test]
fn huge_lengths_fail_without_allocating() {
    // Replicas claims 2^32-2 elements with 0 bytes behind it.
    let mut b = frame(3, 0);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend(uuid_one());
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(
        MetadataRecord::decode(Bytes::from(b)),
        Err(RecordError::Truncated("Replicas"))
    );
    // A 32768-byte name: longer than Kafka's string limit, rejected even though present.
    let mut b = frame(2, 0);
    b.extend_from_slice(&[0x81, 0x80, 0x02]);
    b.extend(std::iter::repeat_n(b'a', 0x8000));
    b.extend(uuid_one());
    b.push(0);
    assert!(matches!(
        MetadataRecord::decode(Bytes::from(b)),
        Err(RecordError::Invalid(msg)) if msg.contains("invalid length 32768")
    ));
    // A tagged section claiming 2^31 fields.
    let mut b = frame(20, 0);
    b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x08]);
    assert!(MetadataRecord::decode(Bytes::from(b)).is_err());
}

#[test]
fn broker_registration_change_tags() {
    // Fenced (tag 0) = -1 (unfence), InControlledShutdown (tag 1) at default 0 is left out.
    let r = MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
        broker_id: 1,
        broker_epoch: 5,
        fenced: -1,
        in_controlled_shutdown: 0,
        log_dirs: vec![],
    });
    let b = r.encode();
    assert_eq!(
        &b[..],
        &[1, 17, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 1, 0xff]
    );
    assert_eq!(MetadataRecord::decode(b).unwrap(), r);
}

fn arb_uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn arb_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9._-]{0,12}"
}

fn arb_ints() -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(-1i32..20, 0..5)
}

fn arb_opt_ints() -> impl Strategy<Value = Option<Vec<i32>>> {
    proptest::option::of(arb_ints())
}

fn arb_uuids() -> impl Strategy<Value = Vec<Uuid>> {
    proptest::collection::vec(arb_uuid(), 0..3)
}

fn arb_endpoints() -> impl Strategy<Value = Vec<Endpoint>> {
    proptest::collection::vec(
        (arb_name(), arb_name(), any::<u16>(), 0i16..4).prop_map(|(name, host, port, sp)| {
            Endpoint {
                name,
                host,
                port,
                security_protocol: sp,
            }
        }),
        0..3,
    )
}

fn arb_features() -> impl Strategy<Value = Vec<FeatureRange>> {
    proptest::collection::vec(
        (arb_name(), any::<i16>(), any::<i16>()).prop_map(|(name, min, max)| FeatureRange {
            name,
            min_supported_version: min,
            max_supported_version: max,
        }),
        0..3,
    )
}

/// Any record of any type we support, with arbitrary field values.
pub(crate) fn arb_record() -> impl Strategy<Value = MetadataRecord> {
    prop_oneof![
        (
            any::<i32>(),
            any::<bool>(),
            arb_uuid(),
            any::<i64>(),
            arb_endpoints(),
            arb_features(),
            proptest::option::of(arb_name()),
            any::<(bool, bool)>(),
            arb_uuids()
        )
            .prop_map(|(id, zk, inc, epoch, eps, feats, rack, (f, ics), dirs)| {
                MetadataRecord::RegisterBroker(RegisterBrokerRecord {
                    broker_id: id,
                    is_migrating_zk_broker: zk,
                    incarnation_id: inc,
                    broker_epoch: epoch,
                    end_points: eps,
                    features: feats,
                    rack,
                    fenced: f,
                    in_controlled_shutdown: ics,
                    log_dirs: dirs,
                })
            }),
        (any::<i32>(), any::<i64>()).prop_map(|(broker_id, broker_epoch)| {
            MetadataRecord::UnregisterBroker(UnregisterBrokerRecord {
                broker_id,
                broker_epoch,
            })
        }),
        (arb_name(), arb_uuid())
            .prop_map(|(name, topic_id)| MetadataRecord::Topic(TopicRecord { name, topic_id })),
        (
            any::<i32>(),
            arb_uuid(),
            (arb_ints(), arb_ints(), arb_ints(), arb_ints()),
            (any::<i32>(), any::<i8>(), any::<i32>(), any::<i32>()),
            arb_uuids(),
            arb_opt_ints(),
            arb_opt_ints()
        )
            .prop_map(
                |(pid, tid, (r, i, rm, ad), (l, lrs, le, pe), dirs, elr, lke)| {
                    MetadataRecord::Partition(PartitionRecord {
                        partition_id: pid,
                        topic_id: tid,
                        replicas: r,
                        isr: i,
                        removing_replicas: rm,
                        adding_replicas: ad,
                        leader: l,
                        leader_recovery_state: lrs,
                        leader_epoch: le,
                        partition_epoch: pe,
                        directories: dirs,
                        eligible_leader_replicas: elr,
                        last_known_elr: lke,
                    })
                }
            ),
        (
            any::<i8>(),
            arb_name(),
            arb_name(),
            proptest::option::of(arb_name())
        )
            .prop_map(|(resource_type, resource_name, name, value)| {
                MetadataRecord::Config(ConfigRecord {
                    resource_type,
                    resource_name,
                    name,
                    value,
                })
            }),
        (
            any::<i32>(),
            arb_uuid(),
            (
                arb_opt_ints(),
                arb_opt_ints(),
                arb_opt_ints(),
                arb_opt_ints()
            ),
            (any::<i32>(), any::<i8>()),
            proptest::option::of(arb_uuids()),
            arb_opt_ints(),
            arb_opt_ints()
        )
            .prop_map(
                |(pid, tid, (isr, r, rm, ad), (leader, lrs), dirs, elr, lke)| {
                    MetadataRecord::PartitionChange(PartitionChangeRecord {
                        partition_id: pid,
                        topic_id: tid,
                        isr,
                        leader,
                        replicas: r,
                        removing_replicas: rm,
                        adding_replicas: ad,
                        leader_recovery_state: lrs,
                        directories: dirs,
                        eligible_leader_replicas: elr,
                        last_known_elr: lke,
                    })
                }
            ),
        arb_uuid().prop_map(|topic_id| MetadataRecord::RemoveTopic(RemoveTopicRecord { topic_id })),
        (arb_name(), any::<i16>()).prop_map(|(name, feature_level)| {
            MetadataRecord::FeatureLevel(FeatureLevelRecord {
                name,
                feature_level,
            })
        }),
        (any::<i32>(), any::<i64>(), any::<i64>()).prop_map(|(b, e, n)| {
            MetadataRecord::ProducerIds(ProducerIdsRecord {
                broker_id: b,
                broker_epoch: e,
                next_producer_id: n,
            })
        }),
        (
            any::<i32>(),
            any::<i64>(),
            any::<i8>(),
            any::<i8>(),
            arb_uuids()
        )
            .prop_map(|(broker_id, broker_epoch, fenced, ics, log_dirs)| {
                MetadataRecord::BrokerRegistrationChange(BrokerRegistrationChangeRecord {
                    broker_id,
                    broker_epoch,
                    fenced,
                    in_controlled_shutdown: ics,
                    log_dirs,
                })
            }),
        (
            arb_uuid(),
            any::<(i8, i8, i8, i8)>(),
            arb_name(),
            arb_name(),
            arb_name()
        )
            .prop_map(|(id, (rt, pt, op, perm), resource_name, principal, host)| {
                MetadataRecord::AccessControlEntry(AccessControlEntryRecord {
                    id,
                    resource_type: rt,
                    resource_name,
                    pattern_type: pt,
                    principal,
                    host,
                    operation: op,
                    permission_type: perm,
                })
            }),
        arb_uuid().prop_map(|id| {
            MetadataRecord::RemoveAccessControlEntry(RemoveAccessControlEntryRecord { id })
        }),
        Just(MetadataRecord::NoOp(NoOpRecord {})),
        any::<i8>().prop_map(
            |s| MetadataRecord::ZkMigrationState(ZkMigrationStateRecord {
                zk_migration_state: s
            })
        ),
        proptest::option::of(arb_name())
            .prop_map(|name| MetadataRecord::BeginTransaction(BeginTransactionRecord { name })),
        Just(MetadataRecord::EndTransaction(EndTransactionRecord {})),
        proptest::option::of(arb_name()).prop_map(|reason| {
            MetadataRecord::AbortTransaction(AbortTransactionRecord { reason })
        }),
        (
            any::<i32>(),
            arb_uuid(),
            any::<bool>(),
            arb_endpoints(),
            arb_features()
        )
            .prop_map(
                |(controller_id, incarnation_id, zk, end_points, features)| {
                    MetadataRecord::RegisterController(RegisterControllerRecord {
                        controller_id,
                        incarnation_id,
                        zk_migration_ready: zk,
                        end_points,
                        features,
                    })
                }
            ),
        arb_zk_txn_record().prop_map(MetadataRecord::ZkTxn),
        arb_zk_snapshot_record().prop_map(MetadataRecord::ZkSnapshot),
    ]
}

/// A few paths, so random ZooKeeper transactions often meet the nodes earlier ones made.
fn arb_zk_path() -> impl Strategy<Value = String> {
    proptest::sample::select(vec!["/a", "/b", "/a/x", "/a/y", "/b/z", "/zookeeper/q"])
        .prop_map(String::from)
}

fn arb_zk_data() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from))
}

fn arb_zk_acl() -> impl Strategy<Value = std::sync::Arc<[zk::proto::records::Acl]>> {
    prop_oneof![
        Just(zk::proto::records::Acl::open_unsafe().into()),
        Just(zk::proto::records::Acl::read_unsafe().into()),
    ]
}

/// A ZooKeeper transaction that is not a multi, for sessions 1 to 3.
fn arb_zk_single_txn() -> impl Strategy<Value = zk::txn::Txn> {
    use zk::txn::Txn;
    prop_oneof![
        (arb_zk_path(), arb_zk_data(), arb_zk_acl(), 0i64..4, 0i32..4).prop_map(
            |(path, data, acl, ephemeral_owner, parent_cversion)| Txn::Create {
                path,
                node: zk::tree::NewNode {
                    data,
                    acl,
                    ephemeral_owner,
                },
                parent_cversion,
            }
        ),
        arb_zk_path().prop_map(|path| Txn::Delete { path }),
        (arb_zk_path(), arb_zk_data(), 0i32..4).prop_map(|(path, data, version)| {
            Txn::SetData {
                path,
                data,
                version,
            }
        }),
        (arb_zk_path(), arb_zk_acl(), 0i32..4).prop_map(|(path, acl, aversion)| {
            Txn::SetAcl {
                path,
                acl,
                aversion,
            }
        }),
        arb_zk_path().prop_map(|path| Txn::Check { path }),
        (-120i32..1).prop_map(Txn::Error),
        (1_000i32..60_000, any::<[u8; 16]>()).prop_map(|(timeout_ms, p)| {
            Txn::CreateSession {
                timeout_ms,
                passwd: Bytes::copy_from_slice(&p),
            }
        }),
        Just(Txn::CloseSession),
    ]
}

pub(crate) fn arb_zk_txn_record() -> impl Strategy<Value = ZkTxnRecord> {
    let txn = prop_oneof![
        4 => arb_zk_single_txn(),
        1 => proptest::collection::vec(arb_zk_single_txn(), 0..4).prop_map(zk::txn::Txn::Multi),
    ];
    (1i64..4, any::<i64>(), txn).prop_map(|(session_id, time_ms, txn)| {
        ZkTxnRecord(zk::record::TxnRecord {
            session_id,
            time_ms,
            txn,
        })
    })
}

fn arb_zk_snapshot_record() -> impl Strategy<Value = ZkSnapshotRecord> {
    use zk::record::SnapshotRecord;
    prop_oneof![
        (
            arb_zk_path(),
            arb_zk_data(),
            arb_zk_acl(),
            any::<[i64; 6]>(),
            any::<[i32; 5]>()
        )
            .prop_map(|(path, data, acl, l, i)| SnapshotRecord::Node {
                path,
                data,
                acl,
                stat: zk::proto::records::Stat {
                    czxid: l[0],
                    mzxid: l[1],
                    ctime: l[2],
                    mtime: l[3],
                    version: i[0],
                    cversion: i[1],
                    aversion: i[2],
                    ephemeral_owner: l[4],
                    data_length: i[3],
                    num_children: i[4],
                    pzxid: l[5],
                },
            }),
        (any::<i64>(), 1i32..100_000, any::<[u8; 16]>()).prop_map(|(id, timeout_ms, p)| {
            SnapshotRecord::Session {
                id,
                session: zk::tree::Session {
                    timeout_ms,
                    passwd: Bytes::copy_from_slice(&p),
                },
            }
        }),
        any::<i64>().prop_map(SnapshotRecord::LastZxid),
    ]
    .prop_map(ZkSnapshotRecord)
}

/// The ZooKeeper front's records: their bodies are the front's own jute format, behind
/// Kafka's frame, and the dump never shows a session's password.
#[test]
fn zk_records_frame_and_dump() {
    let passwd = Bytes::from_static(b"0123456789abcdef");
    let r = MetadataRecord::ZkTxn(ZkTxnRecord(zk::record::TxnRecord {
        session_id: 7,
        time_ms: 1_700_000_000_000,
        txn: zk::txn::Txn::CreateSession {
            timeout_ms: 30_000,
            passwd: passwd.clone(),
        },
    }));
    let b = r.encode();
    // frame 1, apiKey 10000 as an unsigned varint (0x90 0x4e), version 0, then jute: format
    // version 0, sessionId 7.
    assert_eq!(&b[..4], &[1, 0x90, 0x4e, 0]);
    assert_eq!(&b[4..16], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(MetadataRecord::decode(b.clone()).unwrap(), r);
    assert_eq!(
        r.to_json_string(),
        r#"{"type":"METAQUORUM_ZK_TXN_RECORD","version":0,"data":{"sessionId":7,"time":1700000000000,"txn":{"type":"createSession","timeOut":30000}}}"#
    );
    let create = MetadataRecord::ZkTxn(ZkTxnRecord(zk::record::TxnRecord {
        session_id: 7,
        time_ms: 5,
        txn: zk::txn::Txn::Create {
            path: "/a".into(),
            node: zk::tree::NewNode {
                data: Some(Bytes::from_static(b"hi")),
                acl: zk::proto::records::Acl::open_unsafe().into(),
                ephemeral_owner: 7,
            },
            parent_cversion: 1,
        },
    }));
    assert_eq!(
        create.to_json()["data"]["txn"],
        serde_json::json!({"type": "create", "path": "/a", "data": "aGk=",
            "acl": [{"perms": 31, "scheme": "world", "id": "anyone"}],
            "ephemeralOwner": 7, "parentCVersion": 1})
    );
    let session =
        MetadataRecord::ZkSnapshot(ZkSnapshotRecord(zk::record::SnapshotRecord::Session {
            id: 7,
            session: zk::tree::Session {
                timeout_ms: 30_000,
                passwd,
            },
        }));
    let text = session.to_json_string();
    assert_eq!(
        text,
        r#"{"type":"METAQUORUM_ZK_SNAPSHOT_RECORD","version":0,"data":{"type":"session","sessionId":7,"timeOut":30000}}"#
    );
    // A damaged body is a clear error naming the front's format, not a panic.
    let mut bad = b.to_vec();
    bad[7] = 9; // format version 9
    let err = MetadataRecord::decode(Bytes::from(bad)).unwrap_err();
    assert!(
        err.to_string().contains("unknown format version 9"),
        "{err}"
    );
}

const API_KEYS: &[u16] = &[
    0,
    1,
    2,
    3,
    4,
    5,
    9,
    12,
    15,
    17,
    18,
    19,
    20,
    21,
    23,
    24,
    25,
    27,
    ZK_TXN_RECORD_API_KEY,
    ZK_SNAPSHOT_RECORD_API_KEY,
];

proptest! {
    #[test]
    fn every_record_round_trips(r in arb_record()) {
        let bytes = r.encode();
        let (frame, back) = MetadataRecord::decode_with_frame(bytes).unwrap();
        prop_assert_eq!(frame.version, r.version());
        prop_assert_eq!(frame.api_key, r.api_key());
        prop_assert_eq!(&back, &r);
        let j = r.to_json();
        prop_assert_eq!(j["type"].as_str().unwrap(), r.type_name());
        prop_assert!(j["data"].is_object());
        let text: serde_json::Value = serde_json::from_str(&r.to_json_string()).unwrap();
        prop_assert_eq!(text, j);
    }

    #[test]
    fn random_bodies_never_panic(
        key in proptest::sample::select(API_KEYS),
        version in 0u8..4,
        body in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let mut b = bytes::BytesMut::new();
        put_uvarint(&mut b, 1);
        put_uvarint(&mut b, u32::from(key));
        put_uvarint(&mut b, u32::from(version));
        b.extend_from_slice(&body);
        let _ = MetadataRecord::decode(b.freeze());
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = MetadataRecord::decode(Bytes::from(bytes));
    }

    #[test]
    fn mutated_records_never_panic(
        r in arb_record(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut b = r.encode().to_vec();
        for (at, v) in flips {
            let n = b.len();
            b[at % n] = v;
        }
        let _ = MetadataRecord::decode(Bytes::from(b.clone()));
        b.truncate(cut % (b.len() + 1));
        let _ = MetadataRecord::decode(Bytes::from(b));
    }
}
