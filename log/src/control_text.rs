//! The text `metaquorum log dump` prints for a control record, in `kafka-dump-log`'s form: the
//! KRaft control messages as a name and compact JSON (`SnapshotHeader {"version":0,...}`),
//! transaction markers as `endTxnMarker: COMMIT coordinatorEpoch: N`, and types it does not know
//! as `controlType: UNKNOWN(id)`. JSON fields appear in schema order with Kafka's camelCase
//! names, Uuids in Kafka's base64 form, the way Kafka's generated JSON converters write them.
//!
//! Kafka itself prints a LeaderChange record only as `controlType: LEADER_CHANGE(2)`; here it is
//! decoded like the other KRaft messages (`LeaderChange {...}`), since who won which epoch with
//! whose votes is what an operator reading a metadata log wants to see.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::leader_change_message::Voter as LeaderChangeVoter;
use kafka_protocol::messages::{
    KRaftVersionRecord, LeaderChangeMessage, SnapshotFooterRecord, SnapshotHeaderRecord,
    VotersRecord,
};
use kafka_protocol::protocol::Decodable;

use crate::control::{control_type_id, ControlRecordType};
use crate::kafka_uuid::to_kafka_string;

/// The version every KRaft control message body is read at (they have a single schema
/// version; the message's own `version` field travels inside the body).
const CONTROL_BODY_VERSION: i16 = 0;

/// Describes a control record from its key and value, or says why it cannot be read.
pub fn describe_control_record(
    key: Option<&Bytes>,
    value: Option<&Bytes>,
) -> Result<String, String> {
    let key = key.ok_or("a control record without a key")?;
    let type_id = control_type_id(key)
        .ok_or_else(|| format!("a control record key of {} byte(s)", key.len()))?;
    let Some(kind) = ControlRecordType::from_id(type_id) else {
        return Ok(format!("controlType: UNKNOWN({type_id})"));
    };
    let value = value.ok_or_else(|| format!("a {} control record without a value", kind.name()))?;
    Ok(match kind {
        ControlRecordType::Abort | ControlRecordType::Commit => {
            format!(
                "endTxnMarker: {} coordinatorEpoch: {}",
                kind.name(),
                end_txn_coordinator_epoch(value)?
            )
        }
        ControlRecordType::LeaderChange => {
            let m: LeaderChangeMessage = decode_whole(value)?;
            let voters = |vs: &[LeaderChangeVoter]| {
                array(
                    vs.iter()
                        .map(|v| object(&[("voterId", v.voter_id.to_string())])),
                )
            };
            format!(
                "LeaderChange {}",
                object(&[
                    ("version", m.version.to_string()),
                    ("leaderId", m.leader_id.0.to_string()),
                    ("voters", voters(&m.voters)),
                    ("grantingVoters", voters(&m.granting_voters)),
                ])
            )
        }
        ControlRecordType::SnapshotHeader => {
            let m: SnapshotHeaderRecord = decode_whole(value)?;
            format!(
                "SnapshotHeader {}",
                object(&[
                    ("version", m.version.to_string()),
                    (
                        "lastContainedLogTimestamp",
                        m.last_contained_log_timestamp.to_string(),
                    ),
                ])
            )
        }
        ControlRecordType::SnapshotFooter => {
            let m: SnapshotFooterRecord = decode_whole(value)?;
            format!(
                "SnapshotFooter {}",
                object(&[("version", m.version.to_string())])
            )
        }
        ControlRecordType::KRaftVersion => {
            let m: KRaftVersionRecord = decode_whole(value)?;
            format!(
                "KRaftVersion {}",
                object(&[
                    ("version", m.version.to_string()),
                    ("kRaftVersion", m.k_raft_version.to_string()),
                ])
            )
        }
        ControlRecordType::KRaftVoters => {
            let m: VotersRecord = decode_whole(value)?;
            format!("KRaftVoters {}", voters_json(&m))
        }
    })
}

/// The coordinator epoch of an end-transaction marker value (version: i16, epoch: i32).
fn end_txn_coordinator_epoch(value: &Bytes) -> Result<i32, String> {
    if value.len() < 6 {
        return Err(format!(
            "an end-transaction marker of {} byte(s); at least 6 expected",
            value.len()
        ));
    }
    Ok(i32::from_be_bytes([value[2], value[3], value[4], value[5]]))
}

/// Decodes a whole control message body: a body with bytes left over is damaged, not skipped.
fn decode_whole<M: Decodable>(value: &Bytes) -> Result<M, String> {
    let mut buf = value.clone();
    let message = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        M::decode(&mut buf, CONTROL_BODY_VERSION)
    }))
    .map_err(|_| "a length in the control record is impossible".to_string())?
    .map_err(|e| format!("cannot decode the control record: {e}"))?;
    if buf.has_remaining() {
        return Err(format!(
            "{} byte(s) left over after the control record",
            buf.remaining()
        ));
    }
    Ok(message)
}

fn voters_json(m: &VotersRecord) -> String {
    let voters = m.voters.iter().map(|v| {
        let endpoints = v.endpoints.iter().map(|e| {
            object(&[
                ("name", string(e.name.as_str())),
                ("host", string(e.host.as_str())),
                ("port", e.port.to_string()),
            ])
        });
        object(&[
            ("voterId", v.voter_id.0.to_string()),
            (
                "voterDirectoryId",
                string(&to_kafka_string(v.voter_directory_id)),
            ),
            ("endpoints", array(endpoints)),
            (
                "kRaftVersionFeature",
                object(&[
                    (
                        "minSupportedVersion",
                        v.k_raft_version_feature.min_supported_version.to_string(),
                    ),
                    (
                        "maxSupportedVersion",
                        v.k_raft_version_feature.max_supported_version.to_string(),
                    ),
                ]),
            ),
        ])
    });
    object(&[
        ("version", m.version.to_string()),
        ("voters", array(voters)),
    ])
}

/// A JSON object from fields whose values are already JSON text, in the order given.
fn object(fields: &[(&str, String)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{value}", string(name)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A JSON array of items that are already JSON text.
fn array(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(","))
}

/// A JSON string literal.
fn string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::control_record;
    use kafka_protocol::messages::voters_record::{Endpoint, KRaftVersionFeature, Voter};
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::protocol::StrBytes;

    fn describe<M: kafka_protocol::protocol::Encodable>(
        kind: ControlRecordType,
        m: &M,
    ) -> Result<String, String> {
        let r = control_record(kind, m, 0).unwrap();
        describe_control_record(r.key.as_ref(), r.value.as_ref())
    }

    #[test]
    fn snapshot_header_and_footer_as_kafka_dump_log_prints_them() {
        let h = SnapshotHeaderRecord::default()
            .with_version(0)
            .with_last_contained_log_timestamp(1_700_000_000_123);
        assert_eq!(
            describe(ControlRecordType::SnapshotHeader, &h).unwrap(),
            r#"SnapshotHeader {"version":0,"lastContainedLogTimestamp":1700000000123}"#
        );
        let f = SnapshotFooterRecord::default().with_version(0);
        assert_eq!(
            describe(ControlRecordType::SnapshotFooter, &f).unwrap(),
            r#"SnapshotFooter {"version":0}"#
        );
    }

    #[test]
    fn kraft_version_and_voters_in_schema_order() {
        let v = KRaftVersionRecord::default()
            .with_version(0)
            .with_k_raft_version(1);
        assert_eq!(
            describe(ControlRecordType::KRaftVersion, &v).unwrap(),
            r#"KRaftVersion {"version":0,"kRaftVersion":1}"#
        );
        let id = uuid::Uuid::from_bytes([7; 16]);
        let voters = VotersRecord::default()
            .with_version(0)
            .with_voters(vec![Voter::default()
                .with_voter_id(BrokerId(3))
                .with_voter_directory_id(id)
                .with_endpoints(vec![Endpoint::default()
                    .with_name(StrBytes::from_static_str("CONTROLLER"))
                    .with_host(StrBytes::from_static_str("localhost"))
                    .with_port(9093)])
                .with_k_raft_version_feature(
                    KRaftVersionFeature::default()
                        .with_min_supported_version(0)
                        .with_max_supported_version(1),
                )]);
        assert_eq!(
            describe(ControlRecordType::KRaftVoters, &voters).unwrap(),
            format!(
                r#"KRaftVoters {{"version":0,"voters":[{{"voterId":3,"voterDirectoryId":"{}","endpoints":[{{"name":"CONTROLLER","host":"localhost","port":9093}}],"kRaftVersionFeature":{{"minSupportedVersion":0,"maxSupportedVersion":1}}}}]}}"#,
                to_kafka_string(id)
            )
        );
    }

    #[test]
    fn leader_change_lists_voters_and_granting_voters() {
        let v = |id| LeaderChangeVoter::default().with_voter_id(id);
        let m = LeaderChangeMessage::default()
            .with_version(0)
            .with_leader_id(BrokerId(2))
            .with_voters(vec![v(1), v(2), v(3)])
            .with_granting_voters(vec![v(2), v(3)]);
        assert_eq!(
            describe(ControlRecordType::LeaderChange, &m).unwrap(),
            r#"LeaderChange {"version":0,"leaderId":2,"voters":[{"voterId":1},{"voterId":2},{"voterId":3}],"grantingVoters":[{"voterId":2},{"voterId":3}]}"#
        );
    }

    #[test]
    fn transaction_markers_and_unknown_types() {
        let key = Bytes::from_static(&[0, 0, 0, 1]);
        let value = Bytes::from_static(&[0, 0, 0, 0, 0, 5]);
        assert_eq!(
            describe_control_record(Some(&key), Some(&value)).unwrap(),
            "endTxnMarker: COMMIT coordinatorEpoch: 5"
        );
        let key = Bytes::from_static(&[0, 0, 0, 42]);
        assert_eq!(
            describe_control_record(Some(&key), None).unwrap(),
            "controlType: UNKNOWN(42)"
        );
    }

    #[test]
    fn damaged_control_records_are_errors() {
        let header = Bytes::from_static(&[0, 0, 0, 3]);
        assert!(describe_control_record(None, None).is_err());
        assert!(describe_control_record(Some(&Bytes::from_static(&[0])), None).is_err());
        assert!(describe_control_record(Some(&header), None).is_err());
        assert!(describe_control_record(Some(&header), Some(&Bytes::from_static(&[0]))).is_err());
        // A valid header with a byte appended is damaged, not quietly accepted.
        let r = control_record(
            ControlRecordType::SnapshotHeader,
            &SnapshotHeaderRecord::default(),
            0,
        )
        .unwrap();
        let mut longer = r.value.unwrap().to_vec();
        longer.push(0);
        let err = describe_control_record(Some(&header), Some(&Bytes::from(longer))).unwrap_err();
        assert!(err.contains("left over"), "{err}");
    }
}
