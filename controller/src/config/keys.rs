//! The key table: every configuration key's Kafka name, default and meaning. The parser reads keys
//! only through these entries, and `docs/configuration.md` is checked against them.

/// One configuration key: its Kafka name, its default and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// The key as written in a properties file, e.g. `node.id`.
    pub name: &'static str,
    /// The default in properties syntax; `None` when the key has no default value (`doc` says
    /// whether it is required or what takes its place).
    pub default: Option<&'static str>,
    /// What the key means, in one or two sentences of Markdown.
    pub doc: &'static str,
}

pub(super) const NODE_ID: KeySpec = KeySpec {
    name: "node.id",
    default: None,
    doc: "Id of this node, unique in the cluster: an integer >= 0. Required.",
};
pub(super) const PROCESS_ROLES: KeySpec = KeySpec {
    name: "process.roles",
    default: None,
    doc: "Roles this process plays: `broker`, `controller` or `broker,controller` (combined \
          mode). Required.",
};
pub(super) const QUORUM_VOTERS: KeySpec = KeySpec {
    name: "controller.quorum.voters",
    default: Some(""),
    doc: "Static voter set (kraft.version 0): comma-separated `{id}@{host}:{port}` entries, an \
          IPv6 host in brackets (`1@[::1]:9093`). Ids must be unique. A controller's `node.id` \
          must be in it; a broker-only node's must not.",
};
pub(super) const QUORUM_BOOTSTRAP_SERVERS: KeySpec = KeySpec {
    name: "controller.quorum.bootstrap.servers",
    default: Some(""),
    doc: "Controllers to contact to discover a dynamic quorum (kraft.version 1): \
          comma-separated `{host}:{port}` entries. Every node needs this or \
          `controller.quorum.voters`.",
};
pub(super) const LISTENERS: KeySpec = KeySpec {
    name: "listeners",
    default: Some("PLAINTEXT://:9092"),
    doc: "Sockets to listen on: comma-separated `NAME://host:port` entries. An empty host means \
          all interfaces, port 0 a free port. Names are case-insensitive (kept upper-case) and \
          unique.",
};
pub(super) const ADVERTISED_LISTENERS: KeySpec = KeySpec {
    name: "advertised.listeners",
    default: None,
    doc: "Addresses that other nodes and clients are given, same syntax as `listeners`. Default: \
          the value of `listeners`. Hosts `0.0.0.0` and `::` are not allowed (nor, for a broker, \
          in the `listeners` this defaults to). A broker-only node may not advertise a controller \
          listener.",
};
pub(super) const CONTROLLER_LISTENER_NAMES: KeySpec = KeySpec {
    name: "controller.listener.names",
    default: None,
    doc: "Comma-separated names of the controller listeners. Required for every role: a \
          controller listens on each of them; a broker reaches the controllers through the \
          first and must not listen on any of them.",
};
pub(super) const LISTENER_SECURITY_PROTOCOL_MAP: KeySpec = KeySpec {
    name: "listener.security.protocol.map",
    default: Some("CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
    doc: "Comma-separated `LISTENER_NAME:PROTOCOL` pairs; a protocol is `PLAINTEXT`, `SSL`, \
          `SASL_PLAINTEXT` or `SASL_SSL`. Every listener name used in `listeners`, \
          `advertised.listeners` and `controller.listener.names` must be mapped. If this key is \
          not set and no listener is named `SSL` or `SASL_*`, unmapped controller listener names \
          map to `PLAINTEXT`, as in Kafka.",
};
pub(super) const LOG_DIRS: KeySpec = KeySpec {
    name: "log.dirs",
    default: None,
    doc: "Comma-separated data directories. Default: the value of `log.dir`.",
};
pub(super) const LOG_DIR: KeySpec = KeySpec {
    name: "log.dir",
    default: Some("/tmp/kafka-logs"),
    doc: "Data directory (or comma-separated directories), used when `log.dirs` is not set.",
};
pub(super) const METADATA_LOG_DIR: KeySpec = KeySpec {
    name: "metadata.log.dir",
    default: None,
    doc: "Directory of the metadata log (`__cluster_metadata-0`, `quorum-state`, snapshots) and \
          its `meta.properties`. Default: the first of `log.dirs`.",
};
pub(super) const METADATA_LOG_SEGMENT_BYTES: KeySpec = KeySpec {
    name: "metadata.log.segment.bytes",
    default: Some("1073741824"),
    doc: "Maximum size of one metadata log segment, from `metadata.log.segment.min.bytes` to \
          2147483647.",
};
pub(super) const METADATA_LOG_SEGMENT_MIN_BYTES: KeySpec = KeySpec {
    name: "metadata.log.segment.min.bytes",
    default: Some("8388608"),
    doc: "Internal: the lowest allowed `metadata.log.segment.bytes`, itself at least 1024. \
          Lower it only in tests.",
};
pub(super) const METADATA_LOG_SEGMENT_MS: KeySpec = KeySpec {
    name: "metadata.log.segment.ms",
    default: Some("604800000"),
    doc: "Roll a new metadata log segment after this long even if it is not full; >= 1.",
};
pub(super) const METADATA_MAX_RETENTION_BYTES: KeySpec = KeySpec {
    name: "metadata.max.retention.bytes",
    default: Some("104857600"),
    doc: "Delete segments and snapshots older than the latest snapshot while the log and \
          snapshots together are bigger than this; -1 for no size limit.",
};
pub(super) const METADATA_MAX_RETENTION_MS: KeySpec = KeySpec {
    name: "metadata.max.retention.ms",
    default: Some("604800000"),
    doc: "Delete segments and snapshots older than the latest snapshot once they are older than \
          this; -1 for no time limit.",
};
pub(super) const METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS: KeySpec = KeySpec {
    name: "metadata.log.max.record.bytes.between.snapshots",
    default: Some("20971520"),
    doc: "Take a snapshot once this many bytes of committed records are not in the latest \
          snapshot; >= 1.",
};
pub(super) const METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS: KeySpec = KeySpec {
    name: "metadata.log.max.snapshot.interval.ms",
    default: Some("3600000"),
    doc: "Take a snapshot when committed records have waited this long outside the latest \
          snapshot; 0 disables this trigger.",
};
pub(super) const METADATA_MAX_IDLE_INTERVAL_MS: KeySpec = KeySpec {
    name: "metadata.max.idle.interval.ms",
    default: Some("500"),
    doc: "The active controller appends a `NoOpRecord` at this interval so that the high \
          watermark keeps moving (KIP-835); 0 disables.",
};
pub(super) const METRICS_PROMETHEUS_LISTENER: KeySpec = KeySpec {
    name: "metrics.prometheus.listener",
    default: Some(""),
    doc: "`ip:port` where the node serves Prometheus metrics at `/metrics`, under the names \
          Kafka's JMX-exporter dashboards use; empty disables. \
          metaquorum's own key (Kafka exports through JMX).",
};
pub(super) const QUORUM_ELECTION_TIMEOUT_MS: KeySpec = KeySpec {
    name: "controller.quorum.election.timeout.ms",
    default: Some("1000"),
    doc: "Election timeout T: a candidate that has not won after a random time in [T, 2T) starts \
          a new election; >= 1.",
};
pub(super) const QUORUM_FETCH_TIMEOUT_MS: KeySpec = KeySpec {
    name: "controller.quorum.fetch.timeout.ms",
    default: Some("2000"),
    doc: "A voter with no successful fetch from the leader for this long becomes a candidate; a \
          leader without fetches from a majority for 1.5 times this resigns; >= 1.",
};
pub(super) const QUORUM_ELECTION_BACKOFF_MAX_MS: KeySpec = KeySpec {
    name: "controller.quorum.election.backoff.max.ms",
    default: Some("1000"),
    doc: "Cap on the exponential backoff (base 100 ms) before retrying a failed election; >= 0.",
};
pub(super) const QUORUM_APPEND_LINGER_MS: KeySpec = KeySpec {
    name: "controller.quorum.append.linger.ms",
    default: Some("25"),
    doc: "How long the leader lets writes accumulate before flushing them to the log; >= 0.",
};
pub(super) const QUORUM_REQUEST_TIMEOUT_MS: KeySpec = KeySpec {
    name: "controller.quorum.request.timeout.ms",
    default: Some("2000"),
    doc: "Timeout of a quorum RPC; >= 1.",
};
pub(super) const QUORUM_RETRY_BACKOFF_MS: KeySpec = KeySpec {
    name: "controller.quorum.retry.backoff.ms",
    default: Some("20"),
    doc: "Wait before retrying a failed quorum RPC; >= 0.",
};
pub(super) const BROKER_HEARTBEAT_INTERVAL_MS: KeySpec = KeySpec {
    name: "broker.heartbeat.interval.ms",
    default: Some("2000"),
    doc: "How often a broker heartbeats to the active controller; >= 1 and less than \
          `broker.session.timeout.ms`.",
};
pub(super) const BROKER_SESSION_TIMEOUT_MS: KeySpec = KeySpec {
    name: "broker.session.timeout.ms",
    default: Some("9000"),
    doc: "The active controller fences a broker that has not heartbeated for this long; >= 1.",
};
pub(super) const INITIAL_BROKER_REGISTRATION_TIMEOUT_MS: KeySpec = KeySpec {
    name: "initial.broker.registration.timeout.ms",
    default: Some("60000"),
    doc: "A broker gives up if its first registration with the controller has not succeeded \
          after this long; >= 1.",
};

pub(super) const BROKER_RACK: KeySpec = KeySpec {
    name: "broker.rack",
    default: Some(""),
    doc: "Rack of a broker, given to the controller at registration for rack-aware replica \
          placement. Empty: no rack.",
};

pub(super) const AUTO_LEADER_REBALANCE_ENABLE: KeySpec = KeySpec {
    name: "auto.leader.rebalance.enable",
    default: Some("true"),
    doc: "The active controller moves leadership back to each partition's preferred (first) \
          replica when it is in the ISR and serving, checked every \
          `leader.imbalance.check.interval.seconds`.",
};
pub(super) const LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS: KeySpec = KeySpec {
    name: "leader.imbalance.check.interval.seconds",
    default: Some("300"),
    doc: "How often the active controller checks for partitions not led by their preferred \
          replica; >= 1.",
};

pub(super) const ZK_FRONT_LISTENER: KeySpec = KeySpec {
    name: "zookeeper.front.listener",
    default: Some(""),
    doc: "`ip:port` where the node serves ZooKeeper clients (ZooKeeper's \
          `clientPortAddress:clientPort`); empty disables the ZooKeeper front. Served by \
          controllers (combined nodes included); a write on a controller that is not the active \
          one closes the client's connection, and the client reconnects elsewhere with its \
          session. metaquorum's own key.",
};
pub(super) const ZK_FRONT_TICK_TIME: KeySpec = KeySpec {
    name: "zookeeper.front.tickTime",
    default: Some("3000"),
    doc: "ZooKeeper's `tickTime` in ms: the unit of the session timeout bounds, and how often a \
          node sends the sessions it heard from to the active controller; >= 1.",
};
pub(super) const ZK_FRONT_MIN_SESSION_TIMEOUT: KeySpec = KeySpec {
    name: "zookeeper.front.minSessionTimeout",
    default: Some("-1"),
    doc: "ZooKeeper's `minSessionTimeout` in ms; -1 means 2 × tickTime.",
};
pub(super) const ZK_FRONT_MAX_SESSION_TIMEOUT: KeySpec = KeySpec {
    name: "zookeeper.front.maxSessionTimeout",
    default: Some("-1"),
    doc: "ZooKeeper's `maxSessionTimeout` in ms; -1 means 20 × tickTime. Must not be below the \
          minimum.",
};
pub(super) const ZK_FRONT_MAX_CLIENT_CNXNS: KeySpec = KeySpec {
    name: "zookeeper.front.maxClientCnxns",
    default: Some("60"),
    doc: "ZooKeeper's `maxClientCnxns`: connections from one client IP address at most; 0 for \
          no limit.",
};
pub(super) const ZK_FRONT_JUTE_MAXBUFFER: KeySpec = KeySpec {
    name: "zookeeper.front.jute.maxbuffer",
    default: Some("1048575"),
    doc: "ZooKeeper's `jute.maxbuffer`: the largest request, in bytes; a larger one closes the \
          connection; >= 1024.",
};
pub(super) const ZK_FRONT_4LW_WHITELIST: KeySpec = KeySpec {
    name: "zookeeper.front.4lw.commands.whitelist",
    default: Some("srvr"),
    doc: "ZooKeeper's `4lw.commands.whitelist`: comma-separated four-letter words answered on \
          the client port, `*` for all. Served: `ruok`, `isro`, `srvr`, `stat`, `envi`, `cons`, \
          `conf`, `wchs`, `mntr`.",
};
pub(super) const ZK_FRONT_SUPER_DIGEST: KeySpec = KeySpec {
    name: "zookeeper.front.superDigest",
    default: Some(""),
    doc:
        "ZooKeeper's `zookeeper.DigestAuthenticationProvider.superDigest`: the `user:base64(sha1)` \
          digest whose `addauth digest` makes a client super; empty for none.",
};
pub(super) const ZK_FRONT_EXTENDED_TYPES: KeySpec = KeySpec {
    name: "zookeeper.front.extendedTypesEnabled",
    default: Some("false"),
    doc: "ZooKeeper's `zookeeper.extendedTypesEnabled`: allow TTL nodes.",
};

pub(super) const ZK_FRONT_CONTAINER_CHECK_INTERVAL_MS: KeySpec = KeySpec {
    name: "zookeeper.front.znode.container.checkIntervalMs",
    default: Some("60000"),
    doc: "ZooKeeper's `znode.container.checkIntervalMs`: how often the active controller deletes \
          empty containers that have had children and TTL nodes without children unchanged for \
          longer than their TTL; 0 never.",
};
pub(super) const ZK_FRONT_CONTAINER_MAX_PER_MINUTE: KeySpec = KeySpec {
    name: "zookeeper.front.znode.container.maxPerMinute",
    default: Some("10000"),
    doc: "ZooKeeper's `znode.container.maxPerMinute`: such deletions per minute at most; >= 1.",
};

/// Every key this module knows, in documentation order. The parser reads keys through these
/// entries only; any other key is reported as unknown.
pub(super) const KNOWN_KEYS: &[KeySpec] = &[
    NODE_ID,
    PROCESS_ROLES,
    QUORUM_VOTERS,
    QUORUM_BOOTSTRAP_SERVERS,
    LISTENERS,
    ADVERTISED_LISTENERS,
    CONTROLLER_LISTENER_NAMES,
    LISTENER_SECURITY_PROTOCOL_MAP,
    LOG_DIRS,
    LOG_DIR,
    METADATA_LOG_DIR,
    METADATA_LOG_SEGMENT_BYTES,
    METADATA_LOG_SEGMENT_MIN_BYTES,
    METADATA_LOG_SEGMENT_MS,
    METADATA_MAX_RETENTION_BYTES,
    METADATA_MAX_RETENTION_MS,
    METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS,
    METADATA_LOG_MAX_SNAPSHOT_INTERVAL_MS,
    METADATA_MAX_IDLE_INTERVAL_MS,
    METRICS_PROMETHEUS_LISTENER,
    QUORUM_ELECTION_TIMEOUT_MS,
    QUORUM_FETCH_TIMEOUT_MS,
    QUORUM_ELECTION_BACKOFF_MAX_MS,
    QUORUM_APPEND_LINGER_MS,
    QUORUM_REQUEST_TIMEOUT_MS,
    QUORUM_RETRY_BACKOFF_MS,
    BROKER_HEARTBEAT_INTERVAL_MS,
    BROKER_SESSION_TIMEOUT_MS,
    INITIAL_BROKER_REGISTRATION_TIMEOUT_MS,
    BROKER_RACK,
    AUTO_LEADER_REBALANCE_ENABLE,
    LEADER_IMBALANCE_CHECK_INTERVAL_SECONDS,
    ZK_FRONT_LISTENER,
    ZK_FRONT_TICK_TIME,
    ZK_FRONT_MIN_SESSION_TIMEOUT,
    ZK_FRONT_MAX_SESSION_TIMEOUT,
    ZK_FRONT_MAX_CLIENT_CNXNS,
    ZK_FRONT_JUTE_MAXBUFFER,
    ZK_FRONT_4LW_WHITELIST,
    ZK_FRONT_SUPER_DIGEST,
    ZK_FRONT_EXTENDED_TYPES,
    ZK_FRONT_CONTAINER_CHECK_INTERVAL_MS,
    ZK_FRONT_CONTAINER_MAX_PER_MINUTE,
];

/// Lowest allowed `metadata.log.segment.min.bytes`. Kafka's floor is the 12-byte log overhead;
/// 1 KiB still holds a batch header plus records while letting tests roll segments quickly.
pub const METADATA_LOG_SEGMENT_MIN_BYTES_FLOOR: u64 = 1024;
