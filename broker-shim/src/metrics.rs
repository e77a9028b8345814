//! The broker's metadata metrics, under the names Kafka's JMX exporter gives
//! `kafka.server:type=broker-metadata-metrics` (`kafka_server_brokermetadatametrics_*`), plus
//! the broker state (`kafka_server_kafkaserver_brokerstate`, Kafka's `BrokerState` gauge) and
//! the apply-lag summary the propagation benchmark reads.

/// Values of the broker metadata gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerMetadataGauges {
    /// Offset of the last record applied (-1 before any).
    pub last_applied_offset: i64,
    /// Append time of the batch holding it (wall ms; -1 if unknown).
    pub last_applied_timestamp_ms: i64,
    /// Now minus that append time.
    pub last_applied_lag_ms: i64,
    /// Snapshots that failed to load.
    pub load_errors: u64,
    /// Batches that failed to apply.
    pub apply_errors: u64,
}

/// Sets the `kafka_server_brokermetadatametrics_*` gauges.
pub fn publish_broker_metadata(g: &BrokerMetadataGauges) {
    metrics::gauge!("kafka_server_brokermetadatametrics_last_applied_record_offset")
        .set(g.last_applied_offset as f64);
    metrics::gauge!("kafka_server_brokermetadatametrics_last_applied_record_timestamp")
        .set(g.last_applied_timestamp_ms as f64);
    metrics::gauge!("kafka_server_brokermetadatametrics_last_applied_record_lag_ms")
        .set(g.last_applied_lag_ms as f64);
    metrics::gauge!("kafka_server_brokermetadatametrics_metadata_load_error_count")
        .set(g.load_errors as f64);
    metrics::gauge!("kafka_server_brokermetadatametrics_metadata_apply_error_count")
        .set(g.apply_errors as f64);
}

/// Records the time from a batch's append on the leader to its apply on this broker.
pub fn record_apply_lag(ms: f64) {
    metrics::histogram!(metaquorum_controller::metrics::APPLY_LAG_METRIC).record(ms);
}

/// Sets Kafka's broker state gauge (the numeric [`crate::BrokerState`]).
pub fn publish_broker_state(state: i8) {
    metrics::gauge!("kafka_server_kafkaserver_brokerstate").set(f64::from(state));
}
