//! Tests of loading and validating whole configurations; parser details are tested beside
//! the parsers.

use super::*;

const CONTROLLER: &[(&str, &str)] = &[
    ("node.id", "1"),
    ("process.roles", "controller"),
    ("controller.quorum.voters", "1@localhost:9093"),
    ("listeners", "CONTROLLER://:9093"),
    ("controller.listener.names", "CONTROLLER"),
];
const BROKER: &[(&str, &str)] = &[
    ("node.id", "2"),
    ("process.roles", "broker"),
    ("controller.quorum.voters", "1@localhost:9093"),
    ("controller.listener.names", "CONTROLLER"),
];

fn props(base: &[(&str, &str)], changes: &[(&str, Option<&str>)]) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = base
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in changes {
        match v {
            Some(v) => map.insert(k.to_string(), v.to_string()),
            None => map.remove(*k),
        };
    }
    map
}

fn parse(base: &[(&str, &str)], changes: &[(&str, Option<&str>)]) -> Result<Loaded, ConfigError> {
    Config::from_properties(props(base, changes))
}

fn error(base: &[(&str, &str)], changes: &[(&str, Option<&str>)]) -> String {
    match parse(base, changes) {
        Ok(loaded) => panic!("expected an error for {changes:?}, got {:?}", loaded.config),
        Err(e) => e.to_string(),
    }
}

fn write_file(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let path = dir.path().join("server.properties");
    std::fs::write(&path, text).unwrap();
    path
}

fn to_file(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

/// Defaults checked against Kafka 3.9 (`KRaftConfigs.java`, `QuorumConfig.java`,
/// `LogConfig.java`, `ServerLogConfigs.java`), written out rather than read from the table.
fn assert_kafka_defaults(c: &Config) {
    assert_eq!(c.metadata_log_segment_bytes, 1024 * 1024 * 1024);
    assert_eq!(c.metadata_log_segment_min_bytes, 8 * 1024 * 1024);
    assert_eq!(c.metadata_log_segment_ms, 7 * 24 * 60 * 60 * 1000);
    assert_eq!(c.metadata_max_retention_bytes, 100 * 1024 * 1024);
    assert_eq!(c.metadata_max_retention_ms, 7 * 24 * 60 * 60 * 1000);
    assert_eq!(
        c.metadata_log_max_record_bytes_between_snapshots,
        20 * 1024 * 1024
    );
    assert_eq!(c.metadata_log_max_snapshot_interval_ms, 60 * 60 * 1000);
    assert_eq!(c.metadata_max_idle_interval_ms, 500);
    assert_eq!(c.controller_quorum_election_timeout_ms, 1000);
    assert_eq!(c.controller_quorum_fetch_timeout_ms, 2000);
    assert_eq!(c.controller_quorum_election_backoff_max_ms, 1000);
    assert_eq!(c.controller_quorum_append_linger_ms, 25);
    assert_eq!(c.controller_quorum_request_timeout_ms, 2000);
    assert_eq!(c.controller_quorum_retry_backoff_ms, 20);
    assert_eq!(c.broker_heartbeat_interval_ms, 2000);
    assert_eq!(c.broker_session_timeout_ms, 9000);
    assert_eq!(c.initial_broker_registration_timeout_ms, 60000);
    assert_eq!(c.controller_quorum_bootstrap_servers, vec![]);
    assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/kafka-logs")]);
    assert_eq!(c.metadata_log_dir, None);
    assert_eq!(c.metadata_log_dir(), Path::new("/tmp/kafka-logs"));
    let map: Vec<(&str, SecurityProtocol)> = c
        .listener_security_protocol_map
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    use SecurityProtocol::*;
    assert_eq!(
        map,
        [
            ("CONTROLLER", Plaintext),
            ("PLAINTEXT", Plaintext),
            ("SASL_PLAINTEXT", SaslPlaintext),
            ("SASL_SSL", SaslSsl),
            ("SSL", Ssl)
        ]
    );
}

#[test]
fn minimal_controller_file_gets_kafka_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, &format!("# a controller\n{}", to_file(CONTROLLER)));
    let loaded = Config::load(ConfigSources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let c = loaded.config;
    assert_eq!(c.node_id, NodeId(1));
    assert_eq!(
        c.process_roles,
        ProcessRoles {
            broker: false,
            controller: true
        }
    );
    let voter = QuorumVoter {
        id: NodeId(1),
        host: "localhost".into(),
        port: 9093,
    };
    assert_eq!(c.controller_quorum_voters, vec![voter]);
    let controller = Listener {
        name: "CONTROLLER".into(),
        host: String::new(),
        port: 9093,
        security_protocol: SecurityProtocol::Plaintext,
    };
    assert_eq!(c.listeners, vec![controller.clone()]);
    assert_eq!(c.advertised_listeners, c.listeners);
    assert_eq!(c.controller_listeners(), vec![&controller]);
    assert_eq!(c.advertised_controller_listeners(), vec![&controller]);
    assert_eq!(c.advertised_broker_listeners(), Vec::<&Listener>::new());
    assert_kafka_defaults(&c);
}

#[test]
fn minimal_broker_file_gets_kafka_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, &to_file(BROKER));
    let loaded = Config::load(ConfigSources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(loaded.warnings, Vec::<String>::new());
    let c = loaded.config;
    assert_eq!(c.node_id, NodeId(2));
    assert_eq!(c.process_roles.to_string(), "broker");
    assert_eq!(c.listeners.len(), 1);
    assert_eq!(c.listeners[0].to_string(), "PLAINTEXT://:9092");
    assert_eq!(c.advertised_broker_listeners(), vec![&c.listeners[0]]);
    assert_eq!(c.controller_listener_names, vec!["CONTROLLER".to_string()]);
    assert_eq!(c.controller_listeners(), Vec::<&Listener>::new());
    assert_kafka_defaults(&c);
}

#[test]
fn combined_node_keeps_controller_listener_out_of_broker_advertisements() {
    let c = parse(
        CONTROLLER,
        &[
            ("process.roles", Some("broker,controller")),
            (
                "listeners",
                Some("PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093"),
            ),
            ("advertised.listeners", Some("PLAINTEXT://broker1:9092")),
        ],
    )
    .unwrap()
    .config;
    assert!(c.process_roles.is_combined());
    assert_eq!(c.process_roles.to_string(), "broker,controller");
    let broker: Vec<String> = c
        .advertised_broker_listeners()
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(broker, ["PLAINTEXT://broker1:9092"]);
    // Kafka 3.9: a controller listener missing from advertised.listeners falls back to listeners.
    let controller: Vec<String> = c
        .advertised_controller_listeners()
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(controller, ["CONTROLLER://0.0.0.0:9093"]);
}

/// One wrong value per key; `every_key_has_a_wrong_value_case` keeps this complete.
const BAD_VALUES: &[(&str, &str)] = &[
    ("node.id", "abc"),
    ("process.roles", "zookeeper"),
    ("controller.quorum.voters", "1@localhost"),
    ("controller.quorum.bootstrap.servers", "localhost"),
    ("listeners", "CONTROLLER:9093"),
    ("advertised.listeners", "CONTROLLER://host:99999"),
    ("controller.listener.names", "CONTROL LER"),
    ("listener.security.protocol.map", "CONTROLLER:TLS"),
    ("log.dirs", ","),
    ("log.dir", ""),
    ("metadata.log.dir", ""),
    ("metadata.log.segment.bytes", "1k"),
    ("metadata.log.segment.min.bytes", "512"),
    ("metadata.log.segment.ms", "0"),
    ("metadata.max.retention.bytes", "-2"),
    ("metadata.max.retention.ms", "1.5"),
    ("metadata.log.max.record.bytes.between.snapshots", "0"),
    ("metadata.log.max.snapshot.interval.ms", "-1"),
    ("metadata.max.idle.interval.ms", "2147483648"),
    ("metrics.prometheus.listener", "localhost:9404"),
    ("controller.quorum.election.timeout.ms", "0"),
    ("controller.quorum.fetch.timeout.ms", "-5"),
    ("controller.quorum.election.backoff.max.ms", "x"),
    ("controller.quorum.append.linger.ms", "-1"),
    ("controller.quorum.request.timeout.ms", "0"),
    ("controller.quorum.retry.backoff.ms", "99999999999999999999"),
    ("broker.heartbeat.interval.ms", "0"),
    ("broker.session.timeout.ms", "0"),
    ("initial.broker.registration.timeout.ms", "0"),
    ("auto.leader.rebalance.enable", "yes"),
    ("leader.imbalance.check.interval.seconds", "0"),
    ("zookeeper.front.listener", "localhost:2181"),
    ("zookeeper.front.tickTime", "0"),
    ("zookeeper.front.minSessionTimeout", "-2"),
    ("zookeeper.front.maxSessionTimeout", "x"),
    ("zookeeper.front.maxClientCnxns", "-1"),
    ("zookeeper.front.jute.maxbuffer", "100"),
    ("zookeeper.front.4lw.commands.whitelist", "ruok,bogus"),
    ("zookeeper.front.superDigest", "nocolon"),
    ("zookeeper.front.extendedTypesEnabled", "yes"),
    ("zookeeper.front.znode.container.checkIntervalMs", "-1"),
    ("zookeeper.front.znode.container.maxPerMinute", "0"),
];

/// Keys that take any string (Kafka accepts any rack name).
const ANY_VALUE_KEYS: &[&str] = &["broker.rack"];

#[test]
fn every_key_has_a_wrong_value_case() {
    let mut tested: Vec<&str> = BAD_VALUES
        .iter()
        .map(|(k, _)| *k)
        .chain(ANY_VALUE_KEYS.iter().copied())
        .collect();
    let mut known: Vec<&str> = Config::known_keys().iter().map(|k| k.name).collect();
    tested.sort_unstable();
    known.sort_unstable();
    assert_eq!(tested, known);
}

#[test]
fn every_wrong_value_is_an_error_naming_key_and_value() {
    for (key, bad) in BAD_VALUES {
        let message = error(CONTROLLER, &[(key, Some(bad))]);
        assert!(message.contains(key), "{key}={bad}: {message}");
        assert!(
            message.contains(&format!("'{bad}'")),
            "{key}={bad}: {message}"
        );
    }
}

#[test]
fn error_messages_say_what_is_expected() {
    assert_eq!(
        error(CONTROLLER, &[("node.id", Some("abc"))]),
        "Invalid value 'abc' for configuration node.id: expected an integer >= 0"
    );
    assert_eq!(
        error(CONTROLLER, &[("node.id", Some("2147483648"))]),
        "Invalid value '2147483648' for configuration node.id: expected an integer <= 2147483647"
    );
    assert!(
        error(CONTROLLER, &[("metadata.max.retention.ms", Some("-2"))])
            .ends_with("expected -1 (unlimited) or an integer >= 0")
    );
    assert!(error(
        CONTROLLER,
        &[("listener.security.protocol.map", Some("CONTROLLER:TLS"))]
    )
    .contains("expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"));
    assert!(
        error(CONTROLLER, &[("process.roles", Some("broker,broker"))])
            .contains("role 'broker' appears more than once")
    );
    assert!(error(CONTROLLER, &[("process.roles", Some(""))])
        .contains("expected 'broker', 'controller' or 'broker,controller'"));
    assert!(error(CONTROLLER, &[("process.roles", Some("Controller"))])
        .contains("unknown role 'Controller'"));
}

#[test]
fn values_are_trimmed_and_lists_skip_empty_items() {
    let c = parse(
        CONTROLLER,
        &[
            ("node.id", Some(" 1 ")),
            ("process.roles", Some("controller, broker,")),
            (
                "listeners",
                Some(" controller://:9093 , PLAINTEXT://:9092 "),
            ),
            ("log.dirs", Some("/a, /b,")),
        ],
    )
    .unwrap()
    .config;
    assert_eq!(c.node_id, NodeId(1));
    assert_eq!(c.process_roles.to_string(), "broker,controller");
    assert_eq!(c.listeners[0].name, "CONTROLLER", "names are upper-cased");
    assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
}

#[test]
fn missing_required_keys_use_kafka_wording() {
    for key in ["node.id", "process.roles", "controller.listener.names"] {
        assert_eq!(
            error(CONTROLLER, &[(key, None)]),
            format!("Missing required configuration \"{key}\" which has no default value.")
        );
    }
}

#[test]
fn file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.properties");
    let err = Config::load(ConfigSources {
        file: Some(&missing),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let err = Config::load(ConfigSources {
        file: Some(dir.path()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");

    let bad = write_file(&dir, "node.id=\\u12G4\n");
    let err = Config::load(ConfigSources {
        file: Some(&bad),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::ParseFile { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&bad.display().to_string()),
        "{err}"
    );
}

#[test]
fn file_syntax_follows_java_properties() {
    let dir = tempfile::tempdir().unwrap();
    let text = "! comment\nnode.id : 1\nprocess.roles controller\ncontroller.quorum.voters=1@\\\n  localhost:9093\nlisteners=CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER\nlog.dirs=/data/caf\\u00e9\n";
    let path = write_file(&dir, text);
    let c = Config::load(ConfigSources {
        file: Some(&path),
        ..Default::default()
    })
    .unwrap()
    .config;
    assert_eq!(c.node_id, NodeId(1));
    assert_eq!(c.controller_quorum_voters[0].host, "localhost");
    assert_eq!(c.log_dirs, vec![PathBuf::from("/data/caf\u{e9}")]);
}

#[test]
fn unknown_keys_are_warnings_naming_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(&dir, &format!("{}foo.bar=1\n", to_file(CONTROLLER)));
    let overrides = ["zap=2".to_string()];
    let env = vec![
        ("METAQUORUM_FOO_BAZ".to_string(), "x".to_string()),
        ("METAQUORUM_LOG".to_string(), "debug".to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ];
    let loaded = Config::load(ConfigSources {
        file: Some(&path),
        env,
        overrides: &overrides,
    })
    .unwrap();
    assert_eq!(
        loaded.warnings,
        [
            format!(
                "Unknown configuration 'foo.bar' (from file {}) was ignored",
                path.display()
            ),
            "Unknown configuration 'foo.baz' (from environment METAQUORUM_FOO_BAZ) was ignored"
                .to_string(),
            "Unknown configuration 'zap' (from --override) was ignored".to_string(),
        ]
    );
    let loaded = parse(CONTROLLER, &[("num.network.threads", Some("3"))]).unwrap();
    assert_eq!(
        loaded.warnings,
        ["Unknown configuration 'num.network.threads' (from properties) was ignored"]
    );
}

#[test]
fn environment_overrides_file_and_override_overrides_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(
        &dir,
        &format!("{}metadata.max.idle.interval.ms=100\n", to_file(CONTROLLER)),
    );
    let env = vec![
        (
            "METAQUORUM_METADATA_MAX_IDLE_INTERVAL_MS".to_string(),
            "200".to_string(),
        ),
        (
            "METAQUORUM_CONTROLLER_QUORUM_APPEND_LINGER_MS".to_string(),
            "7".to_string(),
        ),
    ];
    let load = |overrides: &[String]| {
        Config::load(ConfigSources {
            file: Some(&path),
            env: env.clone(),
            overrides,
        })
        .unwrap()
        .config
    };
    let c = load(&[]);
    assert_eq!(c.metadata_max_idle_interval_ms, 200);
    assert_eq!(c.controller_quorum_append_linger_ms, 7);
    let c = load(&["metadata.max.idle.interval.ms=300".to_string()]);
    assert_eq!(c.metadata_max_idle_interval_ms, 300);
    assert_eq!(c.controller_quorum_append_linger_ms, 7);
    let c = load(&[
        "node.id=5".to_string(),
        "controller.quorum.voters=5@h:1".to_string(),
    ]);
    assert_eq!(c.node_id, NodeId(5));
}

#[test]
fn overrides_are_key_equals_value() {
    assert_eq!(
        parse_override("a.b=c=d").unwrap(),
        ("a.b".into(), "c=d".into())
    );
    assert_eq!(parse_override(" a.b =").unwrap(), ("a.b".into(), "".into()));
    for bad in ["foo", "", "=x", "  =x"] {
        let err = parse_override(bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Malformed argument \"--override {bad}\": expected key=value")
        );
    }
    let overrides = ["foo".to_string()];
    let err = Config::load(ConfigSources {
        overrides: &overrides,
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::MalformedOverride { .. }));
}

#[test]
fn listeners_parse_and_every_name_must_be_mapped() {
    let c = parse(
        CONTROLLER,
        &[
            ("process.roles", Some("broker,controller")),
            ("listeners", Some("CONTROLLER://[::1]:9093,SSL://host:0")),
        ],
    )
    .unwrap()
    .config;
    assert_eq!(c.listeners[0].host, "::1");
    assert_eq!(c.listeners[0].to_string(), "CONTROLLER://[::1]:9093");
    assert_eq!(c.listeners[1].security_protocol, SecurityProtocol::Ssl);
    assert!(error(
        CONTROLLER,
        &[("listeners", Some("CONTROLLER://:9093,controller://:9094"))]
    )
    .contains("listener name 'CONTROLLER' appears more than once"));
    assert!(
        error(CONTROLLER, &[("listeners", Some("CONTROLLER://:65536"))]).contains("port '65536'")
    );
    assert!(error(CONTROLLER, &[("listeners", Some("://:9093"))]).contains("listener name ''"));
    assert_eq!(
        error(CONTROLLER, &[("listeners", Some("CONTROLLER://:9093,INTERNAL://:9094"))]),
        "Listener 'INTERNAL' in listeners has no security protocol in listener.security.protocol.map"
    );
    assert!(
        error(BROKER, &[("advertised.listeners", Some("EXTERNAL://h:1"))])
            .starts_with("Listener 'EXTERNAL' in advertised.listeners")
    );
    assert!(error(
        CONTROLLER,
        &[(
            "listener.security.protocol.map",
            Some("CONTROLLER:SSL,CONTROLLER:PLAINTEXT")
        )]
    )
    .contains("appears more than once"));
}

#[test]
fn controller_listeners_default_to_plaintext_only_as_in_kafka() {
    let custom = [
        ("listeners", Some("QUORUM://:9093")),
        ("controller.listener.names", Some("QUORUM")),
    ];
    let c = parse(CONTROLLER, &custom).unwrap().config;
    assert_eq!(
        c.listeners[0].security_protocol,
        SecurityProtocol::Plaintext
    );
    assert_eq!(
        c.listener_security_protocol_map.get("QUORUM"),
        Some(&SecurityProtocol::Plaintext)
    );

    let mut explicit = custom.to_vec();
    explicit.push((
        "listener.security.protocol.map",
        Some("PLAINTEXT:PLAINTEXT"),
    ));
    assert_eq!(
        error(CONTROLLER, &explicit),
        "Listener 'QUORUM' in controller.listener.names has no security protocol in \
         listener.security.protocol.map"
    );

    let mut secure = custom.to_vec();
    secure.push(("process.roles", Some("broker,controller")));
    secure.push(("listeners", Some("QUORUM://:9093,SSL://:9094")));
    assert!(error(CONTROLLER, &secure).starts_with("Listener 'QUORUM'"));
}

#[test]
fn log_dirs_fall_back_to_log_dir_and_metadata_dir_to_the_first() {
    let c = parse(CONTROLLER, &[("log.dir", Some("/a,/b"))])
        .unwrap()
        .config;
    assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
    assert_eq!(c.metadata_log_dir(), Path::new("/a"));
    let c = parse(
        CONTROLLER,
        &[("log.dir", Some("/a")), ("log.dirs", Some("/c,/d"))],
    )
    .unwrap()
    .config;
    assert_eq!(c.log_dirs, vec![PathBuf::from("/c"), PathBuf::from("/d")]);
    let c = parse(
        CONTROLLER,
        &[("log.dirs", Some("/c")), ("metadata.log.dir", Some("/m"))],
    )
    .unwrap()
    .config;
    assert_eq!(c.metadata_log_dir(), Path::new("/m"));
    assert!(error(CONTROLLER, &[("log.dirs", Some("/c,/c/"))]).contains("appears more than once"));
    assert!(error(CONTROLLER, &[("log.dirs", Some(""))]).contains("at least one log directory"));
}

#[test]
fn segment_bytes_must_reach_the_lowerable_minimum() {
    let message = error(CONTROLLER, &[("metadata.log.segment.bytes", Some("4096"))]);
    assert_eq!(
        message,
        "Invalid value '4096' for configuration metadata.log.segment.bytes: expected an \
         integer >= 8388608 (metadata.log.segment.min.bytes)"
    );
    let c = parse(
        CONTROLLER,
        &[
            ("metadata.log.segment.bytes", Some("4096")),
            ("metadata.log.segment.min.bytes", Some("1024")),
        ],
    )
    .unwrap()
    .config;
    assert_eq!(c.metadata_log_segment_bytes, 4096);
    assert!(error(
        CONTROLLER,
        &[("metadata.log.segment.min.bytes", Some("1023"))]
    )
    .contains("expected an integer >= 1024"));
    assert!(error(
        CONTROLLER,
        &[("metadata.log.segment.bytes", Some("2147483648"))]
    )
    .contains("expected an integer <= 2147483647"));
}

#[test]
fn retention_accepts_minus_one_as_unlimited() {
    let c = parse(
        CONTROLLER,
        &[
            ("metadata.max.retention.bytes", Some("-1")),
            ("metadata.max.retention.ms", Some("-1")),
        ],
    )
    .unwrap()
    .config;
    assert_eq!(
        (c.metadata_max_retention_bytes, c.metadata_max_retention_ms),
        (-1, -1)
    );
}

#[test]
fn heartbeat_must_be_shorter_than_the_session() {
    let message = error(
        CONTROLLER,
        &[("broker.heartbeat.interval.ms", Some("9000"))],
    );
    assert!(message.starts_with("broker.heartbeat.interval.ms (9000 ms) must be less than broker.session.timeout.ms (9000 ms)"), "{message}");
    let loaded = parse(
        CONTROLLER,
        &[("broker.heartbeat.interval.ms", Some("5000"))],
    )
    .unwrap();
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("should be at most half of broker.session.timeout.ms"));
}

#[test]
fn every_node_needs_voters_or_bootstrap_servers() {
    for base in [CONTROLLER, BROKER] {
        assert_eq!(
            error(base, &[("controller.quorum.voters", None)]),
            "If using process.roles, either controller.quorum.bootstrap.servers must contain \
             the set of bootstrap controllers or controller.quorum.voters must contain a \
             parseable set of controllers."
        );
    }
    let c = parse(
        CONTROLLER,
        &[
            ("controller.quorum.voters", None),
            (
                "controller.quorum.bootstrap.servers",
                Some("a:9093,[::1]:9093"),
            ),
        ],
    )
    .unwrap()
    .config;
    let servers: Vec<String> = c
        .controller_quorum_bootstrap_servers
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(servers, ["a:9093", "[::1]:9093"]);
}

#[test]
fn controllers_must_be_voters_and_brokers_must_not() {
    assert_eq!(
        error(
            CONTROLLER,
            &[("controller.quorum.voters", Some("2@a:9093,3@b:9093"))]
        ),
        "If process.roles contains the 'controller' role, the node id 1 must be included in \
         the set of voters controller.quorum.voters={2, 3}"
    );
    assert_eq!(
        error(
            BROKER,
            &[("controller.quorum.voters", Some("1@a:9093,2@b:9093"))]
        ),
        "If process.roles contains just the 'broker' role, the node id 2 must not be included \
         in the set of voters controller.quorum.voters={1, 2}"
    );
    let combined = [
        ("process.roles", Some("broker,controller")),
        ("listeners", Some("PLAINTEXT://:9092,CONTROLLER://:9093")),
    ];
    assert!(parse(CONTROLLER, &combined).is_ok());
}

#[test]
fn listener_rules_per_role() {
    assert!(error(CONTROLLER, &[("listeners", Some("PLAINTEXT://:9092"))])
        .contains("controller.listener.names must only contain values appearing in the 'listeners' configuration"));
    assert!(error(
        CONTROLLER,
        &[("listeners", Some("CONTROLLER://:9093,PLAINTEXT://:9092"))]
    )
    .contains("The listeners config must only contain KRaft controller listeners"));
    assert!(error(BROKER, &[("listeners", Some("PLAINTEXT://:9092,CONTROLLER://:9093"))])
        .contains("must not contain a value appearing in the 'listeners' configuration when running KRaft with just the broker role"));
    assert!(error(
        BROKER,
        &[(
            "advertised.listeners",
            Some("PLAINTEXT://h:9092,CONTROLLER://h:9093")
        )]
    )
    .contains("The advertised.listeners config must not contain KRaft controller listeners"));
    assert!(
        error(BROKER, &[("advertised.listeners", Some("SSL://h:9093"))])
            .contains("'SSL' is not in listeners=PLAINTEXT://:9092")
    );
    let combined_only_controller = [("process.roles", Some("broker,controller"))];
    assert!(error(CONTROLLER, &combined_only_controller)
        .starts_with("There must be at least one broker advertised listener."));
    let loaded = parse(
        BROKER,
        &[("controller.listener.names", Some("CONTROLLER,SSL"))],
    )
    .unwrap();
    assert!(
        loaded.warnings[0].contains("only the first will be used"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn advertised_addresses_must_be_routable() {
    assert!(
        error(BROKER, &[("listeners", Some("PLAINTEXT://0.0.0.0:9092"))])
            .contains("cannot use the nonroutable meta-address 0.0.0.0")
    );
    assert!(error(
        BROKER,
        &[("advertised.listeners", Some("PLAINTEXT://[::]:9092"))]
    )
    .contains("meta-address ::"));
    let routable = [
        ("listeners", Some("PLAINTEXT://0.0.0.0:9092")),
        ("advertised.listeners", Some("PLAINTEXT://b:9092")),
    ];
    assert!(parse(BROKER, &routable).is_ok());
    assert!(parse(
        CONTROLLER,
        &[("listeners", Some("CONTROLLER://0.0.0.0:9093"))]
    )
    .is_ok());
}

const DOCS: &str = include_str!("../../../docs/configuration.md");

/// The table in docs/configuration.md, generated from `Config::known_keys`.
fn markdown_table() -> String {
    let mut out = String::from("| Key | Default | Meaning |\n| --- | --- | --- |\n");
    for key in Config::known_keys() {
        let default = match key.default {
            None => "*(none)*".to_string(),
            Some("") => "*(empty)*".to_string(),
            Some(d) => format!("`{d}`"),
        };
        out.push_str(&format!(
            "| `{}` | {default} | {} |\n",
            key.name,
            key.doc.replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn docs_table_matches_the_key_table() {
    let table = markdown_table();
    assert!(
        DOCS.contains(&table),
        "docs/configuration.md must contain this table:\n{table}"
    );
}

#[test]
fn docs_examples_are_valid() {
    let examples: Vec<&str> = DOCS
        .split("```properties\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect();
    assert_eq!(examples.len(), 2);
    for example in examples {
        let props = java_properties::read(example.as_bytes()).unwrap();
        let loaded = Config::from_properties(props.into_iter().collect()).unwrap();
        assert_eq!(loaded.warnings, Vec::<String>::new(), "{example}");
    }
}

#[test]
fn key_names_are_unique() {
    let mut names: Vec<&str> = KNOWN_KEYS.iter().map(|k| k.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), KNOWN_KEYS.len());
}

#[test]
fn zookeeper_front_keys_take_zookeepers_defaults_and_bounds() {
    let c = parse(CONTROLLER, &[]).unwrap().config;
    assert_eq!(c.zookeeper_front, None, "off unless a listener is set");
    let c = parse(
        CONTROLLER,
        &[
            ("zookeeper.front.listener", Some("127.0.0.1:2181")),
            ("zookeeper.front.tickTime", Some("2000")),
            ("zookeeper.front.4lw.commands.whitelist", Some("ruok, srvr")),
        ],
    )
    .unwrap()
    .config;
    let zk = c.zookeeper_front.unwrap();
    assert_eq!(zk.listener, "127.0.0.1:2181".parse().unwrap());
    // ZooKeeper's derived bounds: 2 and 20 ticks.
    assert_eq!(zk.limits.min_session_timeout_ms, 4_000);
    assert_eq!(zk.limits.max_session_timeout_ms, 40_000);
    assert_eq!(zk.max_client_cnxns, 60);
    assert_eq!(zk.jute_maxbuffer, 0xfffff);
    assert_eq!(zk.four_letter_words, vec!["ruok", "srvr"]);
    assert_eq!(zk.super_digest, None);
    let e = error(
        CONTROLLER,
        &[
            ("zookeeper.front.minSessionTimeout", Some("9000")),
            ("zookeeper.front.maxSessionTimeout", Some("8000")),
        ],
    );
    assert!(e.contains("zookeeper.front.maxSessionTimeout"), "{e}");
}
