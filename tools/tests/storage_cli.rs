//! End-to-end tests of `metaquorum storage` and `metaquorum log dump`, run as an operator would:
//! the real binary, real files, exit codes and wording checked.

use metaquorum_log::{Epoch, MetaProperties, NodeId};
use std::path::Path;
use std::process::{Command, Output};

use metaquorum_log::kafka_uuid::to_kafka_string;

fn metaquorum(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_metaquorum"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run metaquorum")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_config(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

fn static_controller(dir: &Path, data: &str) -> String {
    write_config(
        dir,
        "controller.properties",
        &format!(
            "node.id=1\nprocess.roles=controller\ncontroller.quorum.voters=1@127.0.0.1:19093,2@127.0.0.1:19094\n\
             listeners=CONTROLLER://127.0.0.1:19093\ncontroller.listener.names=CONTROLLER\nlog.dirs={data}\n"
        ),
    )
}

fn random_uuid() -> String {
    let o = metaquorum(&["storage", "random-uuid"], &[]);
    assert!(o.status.success());
    stdout(&o).trim().to_string()
}

#[test]
fn random_uuid_prints_distinct_kafka_uuids() {
    let a = random_uuid();
    let b = random_uuid();
    assert_eq!(a.len(), 22, "{a}");
    assert_ne!(a, b);
    assert!(metaquorum_log::kafka_uuid::parse_kafka_uuid(&a).is_ok());
}

#[test]
fn format_then_info_then_refuse_to_format_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = static_controller(tmp.path(), data.to_str().unwrap());
    let id = random_uuid();

    let info = metaquorum(&["storage", "info", "-c", &cfg], &[]);
    assert_eq!(info.status.code(), Some(1));
    assert!(
        stdout(&info).contains("does not exist."),
        "{}",
        stdout(&info)
    );

    let o = metaquorum(&["storage", "format", "-c", &cfg, "-t", &id], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        format!(
            "Formatting metadata directory {} with metadata.version 3.9-IV0.",
            data.display()
        )
    );
    let mp = MetaProperties::read(&data).unwrap().unwrap();
    assert_eq!(
        (mp.cluster_id.as_str(), mp.node_id, mp.version),
        (id.as_str(), NodeId(1), 1)
    );
    assert!(data.join("bootstrap.checkpoint").exists());
    assert!(data
        .join("__cluster_metadata-0/00000000000000000000-0000000000.checkpoint")
        .exists());
    assert_eq!(
        metaquorum_controller::storage::read_bootstrap_metadata_version(&data).unwrap(),
        21
    );

    let info = metaquorum(&["storage", "info", "-c", &cfg], &[]);
    assert!(info.status.success(), "{}", stdout(&info));
    let text = stdout(&info);
    assert!(
        text.starts_with(&format!("Found log directory:\n  {}\n", data.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("Found metadata: {{cluster.id={id}, directory.id=")),
        "{text}"
    );
    assert!(!text.contains("problem"), "{text}");

    let again = metaquorum(&["storage", "format", "-c", &cfg, "-t", &id], &[]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("is already formatted. Use --ignore-formatted"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        MetaProperties::read(&data).unwrap().unwrap(),
        mp,
        "refused format changed nothing"
    );

    let ignored = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            &cfg,
            "-t",
            &id,
            "--ignore-formatted",
        ],
        &[],
    );
    assert!(ignored.status.success());
    assert_eq!(
        stdout(&ignored).trim(),
        "All of the log directories are already formatted."
    );
}

#[test]
fn info_reports_mismatched_cluster_ids_and_unformatted_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let cfg_a = static_controller(tmp.path(), a.to_str().unwrap());
    assert!(metaquorum(
        &["storage", "format", "-c", &cfg_a, "-t", &random_uuid()],
        &[]
    )
    .status
    .success());
    let broker_b = write_config(
        tmp.path(),
        "b.properties",
        &format!(
            "node.id=1\nprocess.roles=controller\ncontroller.quorum.voters=1@127.0.0.1:19093\n\
             listeners=CONTROLLER://127.0.0.1:19093\ncontroller.listener.names=CONTROLLER\nlog.dirs={}\n",
            b.display()
        ),
    );
    assert!(metaquorum(
        &["storage", "format", "-c", &broker_b, "-t", &random_uuid()],
        &[]
    )
    .status
    .success());
    let both = format!("log.dirs={},{}", a.display(), b.display());
    let info = metaquorum(&["storage", "info", "-c", &cfg_a, "--override", &both], &[]);
    assert_eq!(info.status.code(), Some(1));
    assert!(stdout(&info).contains("Found log directories:"));
    assert!(
        stdout(&info).contains("Mismatched cluster IDs between storage directories."),
        "{}",
        stdout(&info)
    );

    let c = tmp.path().join("c");
    std::fs::create_dir(&c).unwrap();
    let with_c = format!("log.dirs={},{}", a.display(), c.display());
    let info = metaquorum(
        &["storage", "info", "-c", &cfg_a, "--override", &with_c],
        &[],
    );
    assert_eq!(info.status.code(), Some(1));
    assert!(stdout(&info).contains(&format!("{} is not formatted.", c.display())));
}

fn dynamic_controller(dir: &Path, data: &Path, node_id: i32) -> String {
    write_config(
        dir,
        &format!("dyn{node_id}.properties"),
        &format!(
            "node.id={node_id}\nprocess.roles=controller\ncontroller.quorum.bootstrap.servers=127.0.0.1:19093\n\
             listeners=CONTROLLER://127.0.0.1:1909{node_id}\ncontroller.listener.names=CONTROLLER\nlog.dirs={}\n",
            data.display()
        ),
    )
}

/// `storage format --standalone` with `cfg` and a fresh cluster id.
fn format_standalone(cfg: &str) -> Output {
    metaquorum(
        &[
            "storage",
            "format",
            "-c",
            cfg,
            "-t",
            &random_uuid(),
            "--standalone",
        ],
        &[],
    )
}

/// The voters of the bootstrap snapshot, decoded with Kafka's VotersRecord schema.
fn bootstrap_voters(data: &Path) -> Vec<(i32, uuid::Uuid, String)> {
    use kafka_protocol::messages::VotersRecord;
    let dir = data.join("__cluster_metadata-0");
    let reader = metaquorum_log::SnapshotReader::open(
        &dir.join("00000000000000000000-0000000000.checkpoint"),
        1 << 20,
    )
    .unwrap();
    reader.verify().unwrap();
    let mut out = Vec::new();
    for (_, _, bytes) in reader.batches() {
        let mut buf = bytes::Bytes::copy_from_slice(bytes);
        let set = kafka_protocol::records::RecordBatchDecoder::decode(&mut buf).unwrap();
        for r in set.records {
            let key = r.key.unwrap();
            if metaquorum_log::control::control_type_id(&key) == Some(6) {
                let v: VotersRecord =
                    metaquorum_log::control::decode_control(&r.value.unwrap(), 0).unwrap();
                for voter in v.voters {
                    let ep = &voter.endpoints[0];
                    out.push((
                        voter.voter_id.0,
                        voter.voter_directory_id,
                        format!("{}://{}:{}", ep.name, ep.host, ep.port),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn standalone_and_initial_controllers_write_the_voter_set_as_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d1");
    let cfg = dynamic_controller(tmp.path(), &data, 1);

    let o = metaquorum(
        &["storage", "format", "-c", &cfg, "-t", &random_uuid()],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("you must specify one of the following: --standalone, --initial-controllers, or --no-initial-controllers"));

    let o = format_standalone(&cfg);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("Formatting dynamic metadata voter directory"));
    let mp = MetaProperties::read(&data).unwrap().unwrap();
    assert_eq!(
        bootstrap_voters(&data),
        vec![(
            1,
            mp.directory_id.unwrap(),
            "CONTROLLER://127.0.0.1:19091".to_string()
        )]
    );

    // --initial-controllers: the node's own entry gives its metadata directory id.
    let data2 = tmp.path().join("d2");
    let cfg2 = dynamic_controller(tmp.path(), &data2, 2);
    let (d1, d2) = (
        metaquorum_log::kafka_uuid::random_kafka_uuid(),
        metaquorum_log::kafka_uuid::random_kafka_uuid(),
    );
    let list = format!(
        "1@127.0.0.1:19091:{},2@127.0.0.1:19092:{}",
        to_kafka_string(d1),
        to_kafka_string(d2)
    );
    let o = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            &cfg2,
            "-t",
            &random_uuid(),
            "-I",
            &list,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        MetaProperties::read(&data2).unwrap().unwrap().directory_id,
        Some(d2)
    );
    assert_eq!(
        bootstrap_voters(&data2)
            .iter()
            .map(|v| (v.0, v.1))
            .collect::<Vec<_>>(),
        vec![(1, d1), (2, d2)]
    );

    let data3 = tmp.path().join("d3");
    let cfg3 = dynamic_controller(tmp.path(), &data3, 3);
    let o = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            &cfg3,
            "-t",
            &random_uuid(),
            "-I",
            &list,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not contain this node's id 3"));
    assert!(!data3.join("meta.properties").exists());
    let o = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            &cfg3,
            "-t",
            &random_uuid(),
            "-I",
            "1@host:99999:x",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Invalid --initial-controllers entry"));
    let o = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            &cfg3,
            "-t",
            &random_uuid(),
            "--standalone",
            "-N",
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "conflicting flags are a usage error"
    );
}

#[test]
fn bad_configuration_is_an_error_naming_key_and_value_and_env_overrides_apply() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cfg = static_controller(tmp.path(), data.to_str().unwrap());
    let o = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            &cfg,
            "-t",
            &random_uuid(),
            "--override",
            "node.id=abc",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("node.id") && stderr(&o).contains("abc"),
        "{}",
        stderr(&o)
    );
    assert!(!data.exists());

    let o = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            "/nonexistent/x.properties",
            "-t",
            &random_uuid(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x.properties"));

    // The environment (Kafka's Docker mapping) picks node 2 and an unknown key only warns.
    let o = metaquorum(
        &[
            "storage",
            "format",
            "-c",
            &cfg,
            "-t",
            &random_uuid(),
            "--override",
            "listeners=CONTROLLER://127.0.0.1:19094",
        ],
        &[
            ("METAQUORUM_NODE_ID", "2"),
            ("METAQUORUM_SOME_UNKNOWN_KEY", "1"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("some.unknown.key"), "{}", stderr(&o));
    assert_eq!(
        MetaProperties::read(&data).unwrap().unwrap().node_id,
        NodeId(2)
    );
}

#[test]
fn log_dump_lists_batches_and_fails_on_a_bad_crc() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    // A NoOpRecord (apiKey 20, version 0) as Kafka frames it: frame version 1, apiKey, version,
    // no tagged fields.
    let no_op = bytes::Bytes::from_static(&[1, 20, 0, 0]);
    write_segment(&dir, &[no_op.clone(), no_op]);
    let o = metaquorum(&["log", "dump", dir.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.matches("isvalid: true").count(), 3, "{text}");
    assert!(
        text.contains("baseOffset: 2 lastOffset: 3 count: 2"),
        "{text}"
    );
    assert!(text.contains("partitionLeaderEpoch: 4"));
    // kafka-dump-log --cluster-metadata-decoder: a line per record after its batch.
    assert!(
        text.contains("| offset: 3 CreateTime: 1001 keySize: -1 valueSize: 4 sequence: -1 headerKeys: [] payload: {\"type\":\"NO_OP_RECORD\",\"version\":0,\"data\":{}}"),
        "{text}"
    );
    let o = metaquorum(
        &[
            "log",
            "dump",
            "--skip-record-metadata",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        stdout(&o)
            .lines()
            .filter(|l| *l == " payload: {\"type\":\"NO_OP_RECORD\",\"version\":0,\"data\":{}}")
            .count(),
        6
    );

    let seg = dir.join("00000000000000000000.log");
    let mut bytes = std::fs::read(&seg).unwrap();
    let len = bytes.len();
    bytes[len - 3] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    let o = metaquorum(&["log", "dump", seg.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("isvalid: false"));
    assert!(stderr(&o).contains("1 batch(es) with a bad CRC"));
}

/// Writes three batches of `values` (epoch 4, timestamps 1000..1002) to a log in `dir`.
fn write_segment(dir: &Path, values: &[bytes::Bytes]) {
    let (mut log, _) =
        metaquorum_log::Log::open(dir, metaquorum_log::LogConfig::default()).unwrap();
    for i in 0..3i64 {
        let mut b = bytes::BytesMut::new();
        let records: Vec<_> = values
            .iter()
            .map(|v| metaquorum_log::batch::RecordData {
                key: None,
                value: Some(v.clone()),
            })
            .collect();
        metaquorum_log::batch::encode_batch(
            &mut b,
            metaquorum_log::batch::BatchSpec {
                base_offset: log.end_offset(),
                epoch: Epoch(4),
                timestamp_ms: 1000 + i,
                control: false,
            },
            &records,
        )
        .unwrap();
        log.append(&b).unwrap();
    }
    log.flush().unwrap();
}

#[test]
fn log_dump_names_the_offset_of_a_record_it_cannot_decode_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    write_segment(&dir, &[bytes::Bytes::from_static(b"hello")]);
    let o = metaquorum(&["log", "dump", dir.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert_eq!(text.matches("isvalid: true").count(), 3, "{text}");
    assert!(
        text.contains("| offset: 1 CreateTime: 1001 keySize: -1 valueSize: 5 sequence: -1 headerKeys: [] error: cannot decode the record at offset 1: "),
        "{text}"
    );
    assert!(
        stderr(&o).contains("3 undecodable record(s)"),
        "{}",
        stderr(&o)
    );
}

// The bootstrap snapshot `storage format --standalone` writes (control records only), dumped as
// kafka-dump-log does.
#[test]
fn log_dump_decodes_a_formatted_bootstrap_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d1");
    let cfg = dynamic_controller(tmp.path(), &data, 1);
    let o = format_standalone(&cfg);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = data.join("__cluster_metadata-0");
    let o = metaquorum(&["log", "dump", dir.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(" SnapshotHeader {\"version\":0,\"lastContainedLogTimestamp\":"),
        "{text}"
    );
    assert!(
        text.contains(" KRaftVersion {\"version\":0,\"kRaftVersion\":1}"),
        "{text}"
    );
    assert!(
        text.contains(" KRaftVoters {\"version\":0,\"voters\":[{\"voterId\":1,"),
        "{text}"
    );
    assert!(text.contains(" SnapshotFooter {\"version\":0}"), "{text}");
}
