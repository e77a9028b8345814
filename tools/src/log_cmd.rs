//! `metaquorum log dump`: every batch of metadata log segments and snapshots, then every record,
//! the way `kafka-dump-log --cluster-metadata-decoder` prints them: data records as metadata
//! record JSON (`{"type":"TOPIC_RECORD","version":0,"data":{...}}`), control records decoded.
//! The listing itself lives in `metaquorum_log::dump`; this module supplies the metadata
//! decoder, which lives in the controller crate.

use std::path::Path;
use std::process::ExitCode;

use bytes::Bytes;
use metaquorum_controller::metadata::record::MetadataRecord;
use metaquorum_log::dump::{dump_file, files_to_dump, DumpOptions, DumpSummary};

/// The `dump-log` payload of a metadata record value, as stored: the JSON at the record's own
/// version, or why the value is not a metadata record.
pub fn metadata_payload(value: &Bytes) -> Result<String, String> {
    let (frame, record) =
        MetadataRecord::decode_with_frame(value.clone()).map_err(|e| e.to_string())?;
    Ok(record.to_json_string_at(frame.version))
}

/// Dumps `path` (a file or a directory) to stdout. Exit code 1 if any batch is damaged or any
/// record cannot be decoded; the reasons go to stderr after the listing.
pub fn dump(
    path: &Path,
    batch_bytes_max: usize,
    skip_record_metadata: bool,
) -> Result<ExitCode, String> {
    let files = files_to_dump(path).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!(
            "{} holds no .log or .checkpoint files",
            path.display()
        ));
    }
    let options = DumpOptions {
        records: true,
        payload: Some(&metadata_payload),
        skip_record_metadata,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut summary = DumpSummary::default();
    for f in &files {
        dump_file(f, batch_bytes_max, &options, &mut out, &mut summary)
            .map_err(|e| e.to_string())?;
    }
    if summary.is_clean() {
        return Ok(ExitCode::SUCCESS);
    }
    eprint!("{}", problems(&summary));
    Ok(ExitCode::FAILURE)
}

/// The stderr report of a dump that found problems.
fn problems(summary: &DumpSummary) -> String {
    let mut text = format!(
        "Found {} batch(es) with a bad CRC, {} unreadable position(s) and {} undecodable record(s):\n",
        summary.bad_crc,
        summary.unreadable.len(),
        summary.undecodable.len()
    );
    for (file, pos, why) in &summary.unreadable {
        text.push_str(&format!("  {} at byte {pos}: {why}\n", file.display()));
    }
    for (file, offset, why) in &summary.undecodable {
        text.push_str(&format!("  {} at offset {offset}: {why}\n", file.display()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use metaquorum_controller::metadata::record::MetadataRecord;

    #[test]
    fn payload_is_the_records_json_and_garbage_is_an_error() {
        let record = MetadataRecord::decode(metadata_record_bytes()).unwrap();
        assert_eq!(
            metadata_payload(&record.encode()).unwrap(),
            record.to_json_string()
        );
        let err = metadata_payload(&Bytes::from_static(&[1, 99, 0])).unwrap_err();
        assert!(err.contains("99"), "{err}");
    }

    /// A NoOpRecord (apiKey 20, version 0): frame version 1, apiKey 20, version 0, no tagged
    /// fields.
    fn metadata_record_bytes() -> Bytes {
        Bytes::from_static(&[1, 20, 0, 0])
    }

    #[test]
    fn problems_name_every_file_position_and_offset() {
        let summary = DumpSummary {
            bad_crc: 1,
            unreadable: vec![("a.log".into(), 12, "torn".into())],
            undecodable: vec![("b.log".into(), 7, "unknown apiKey".into())],
            ..DumpSummary::default()
        };
        assert_eq!(
            problems(&summary),
            "Found 1 batch(es) with a bad CRC, 1 unreadable position(s) and 1 undecodable record(s):\n  a.log at byte 12: torn\n  b.log at offset 7: unknown apiKey\n"
        );
    }
}
