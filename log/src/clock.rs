//! The wall clock as Kafka records it in batch timestamps and snapshot headers: milliseconds
//! since the Unix epoch.

/// Milliseconds since the Unix epoch; 0 if the clock reads before 1970.
pub fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
