//! [`MetadataLoader`]: turns committed metadata-log batches (record values only; the caller
//! filters control batches out) and snapshots into a sequence of published images. It enforces
//! KIP-868 transaction framing as Kafka's `MetadataBatchLoader` does: records between
//! `BeginTransaction` and `EndTransaction` become visible together, an `AbortTransaction`
//! discards them, and a second Begin or an End/Abort without a Begin is an error.
//!
//! Error policy: a batch that fails (undecodable record, record that does not replay,
//! transaction framing error, offset going backwards) leaves the loader exactly as it was
//! before the batch and returns a [`LoaderError`] naming the offset. The caller decides what
//! to do; a controller should stop, as Kafka's fault handler does.

use bytes::Bytes;

use crate::raft::{Epoch, Offset};

use super::delta::{MetadataChanges, MetadataDelta, ReplayError};
use super::image::{MetadataImage, MetadataProvenance};
use super::record::{MetadataRecord, RecordError};

/// One committed batch of the metadata log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBatch {
    /// Offset of the first record.
    pub base_offset: Offset,
    /// Leader epoch of the batch.
    pub epoch: Epoch,
    /// The batch's append time, milliseconds since the epoch.
    pub append_timestamp_ms: i64,
    /// Record values (framed metadata records), in offset order.
    pub records: Vec<Bytes>,
}

impl CommittedBatch {
    /// The metadata form of a committed (non-control) log batch; a batch not yet stamped
    /// takes `wall_ms` as its append time. Every record must carry a value: a record without
    /// one is an error naming the batch, never skipped.
    pub fn from_log_batch(batch: &crate::raft::Batch, wall_ms: i64) -> Result<Self, LoaderError> {
        let records: Vec<Bytes> = batch
            .records
            .iter()
            .filter_map(|r| r.value.clone())
            .collect();
        if records.len() != batch.records.len() {
            return Err(LoaderError::RecordWithoutValue {
                base_offset: batch.base_offset,
            });
        }
        Ok(CommittedBatch {
            base_offset: batch.base_offset,
            epoch: batch.epoch,
            append_timestamp_ms: batch.timestamp_or(wall_ms),
            records,
        })
    }
}

/// Why a batch or snapshot could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoaderError {
    /// A record value did not decode.
    #[error("error loading metadata log record from offset {offset}: {source}")]
    Decode {
        /// The record's offset (or index in a snapshot).
        offset: Offset,
        /// The decoding error.
        source: RecordError,
    },
    /// A record did not replay on the current state.
    #[error("error replaying metadata log record from offset {offset}: {source}")]
    Replay {
        /// The record's offset (or index in a snapshot).
        offset: Offset,
        /// The replay error.
        source: ReplayError,
    },
    /// Transaction markers out of order.
    #[error("error loading metadata log record from offset {offset}: {problem}")]
    Transaction {
        /// The marker's offset.
        offset: Offset,
        /// Kafka's wording of the problem.
        problem: &'static str,
    },
    /// A committed batch holds a record without a value (a metadata record is its value).
    #[error("batch at offset {base_offset} holds records without a value")]
    RecordWithoutValue {
        /// The batch's base offset.
        base_offset: Offset,
    },
    /// A batch starts at or below an offset already loaded.
    #[error("batch at offset {base_offset} does not follow the last loaded offset {last_offset}")]
    OffsetNotIncreasing {
        /// The batch's base offset.
        base_offset: Offset,
        /// The last offset already loaded.
        last_offset: Offset,
    },
}

/// An image the loader published, and what changed since the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The new image.
    pub image: MetadataImage,
    /// What changed relative to the previously published image.
    pub changes: MetadataChanges,
}

/// Loads committed batches into images. See the module documentation.
#[derive(Debug, Clone)]
pub struct MetadataLoader {
    /// The last published image.
    image: MetadataImage,
    /// Records loaded since `image`. Invariant: empty unless a transaction is open or a batch
    /// is being loaded.
    delta: MetadataDelta,
    /// Number of records (of any kind) in `delta` not yet published.
    pending_records: usize,
    /// The delta as it was just before the open transaction's Begin; `Some` while a
    /// transaction is open.
    before_transaction: Option<MetadataDelta>,
    /// Offset of the last record loaded, published or not (-1 before any).
    last_loaded_offset: Offset,
}

impl Default for MetadataLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl MetadataLoader {
    /// A loader starting from the empty image.
    pub fn new() -> Self {
        Self::from_image(MetadataImage::empty())
    }

    /// A loader continuing from `image` (the next record is at `image.provenance.offset + 1`).
    pub fn from_image(image: MetadataImage) -> Self {
        MetadataLoader {
            delta: MetadataDelta::new(&image),
            last_loaded_offset: image.provenance.offset,
            image,
            pending_records: 0,
            before_transaction: None,
        }
    }

    /// The last published image.
    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// Offset of the last record of the published image (-1 if none).
    pub fn last_applied_offset(&self) -> Offset {
        self.image.provenance.offset
    }

    /// Offset of the last record loaded, including those of a transaction not yet ended.
    pub fn last_loaded_offset(&self) -> Offset {
        self.last_loaded_offset
    }

    /// Whether a metadata transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.before_transaction.is_some()
    }

    /// Decodes and loads one committed batch. Returns the images published by it: usually
    /// one; none while a transaction stays open; two when a transaction begins after other
    /// records in the batch (those are published first, as Kafka does).
    pub fn handle_batch(
        &mut self,
        batch: &CommittedBatch,
    ) -> Result<Vec<LoadedImage>, LoaderError> {
        let records = batch
            .records
            .iter()
            .enumerate()
            .map(|(i, value)| {
                MetadataRecord::decode(value.clone()).map_err(|source| LoaderError::Decode {
                    offset: batch.base_offset.saturating_add(i as i64),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.handle_records(
            batch.base_offset,
            batch.epoch,
            batch.append_timestamp_ms,
            &records,
        )
    }

    /// Loads one committed batch of already decoded records; see [`Self::handle_batch`].
    pub fn handle_records(
        &mut self,
        base_offset: Offset,
        epoch: Epoch,
        append_timestamp_ms: i64,
        records: &[MetadataRecord],
    ) -> Result<Vec<LoadedImage>, LoaderError> {
        if base_offset <= self.last_loaded_offset {
            return Err(LoaderError::OffsetNotIncreasing {
                base_offset,
                last_offset: self.last_loaded_offset,
            });
        }
        // Work on a copy (cheap: persistent maps) so a failing batch changes nothing.
        let mut next = self.clone();
        let published = next.load(base_offset, epoch, append_timestamp_ms, records)?;
        *self = next;
        Ok(published)
    }

    fn load(
        &mut self,
        base_offset: Offset,
        epoch: Epoch,
        timestamp_ms: i64,
        records: &[MetadataRecord],
    ) -> Result<Vec<LoadedImage>, LoaderError> {
        let mut published = Vec::new();
        let provenance = |offset| MetadataProvenance {
            offset,
            epoch,
            last_contained_timestamp_ms: timestamp_ms,
        };
        for (i, record) in records.iter().enumerate() {
            let offset = base_offset.saturating_add(i as i64);
            match record {
                MetadataRecord::BeginTransaction(_) => {
                    if self.before_transaction.is_some() {
                        return Err(LoaderError::Transaction {
                            offset,
                            problem: "Encountered BeginTransactionRecord while already in a transaction",
                        });
                    }
                    // Publish what came before, so the transaction starts from a clean image.
                    if self.pending_records > 0 {
                        published.push(self.publish(provenance(self.last_loaded_offset)));
                    }
                    self.before_transaction = Some(self.delta.clone());
                }
                MetadataRecord::EndTransaction(_) => {
                    if self.before_transaction.take().is_none() {
                        return Err(LoaderError::Transaction {
                            offset,
                            problem: "Encountered EndTransactionRecord without having seen a BeginTransactionRecord",
                        });
                    }
                }
                MetadataRecord::AbortTransaction(_) => match self.before_transaction.take() {
                    Some(before) => self.delta = before,
                    None => {
                        return Err(LoaderError::Transaction {
                            offset,
                            problem: "Encountered AbortTransactionRecord without having seen a BeginTransactionRecord",
                        })
                    }
                },
                MetadataRecord::ZkSnapshot(_) => {
                    return Err(LoaderError::Replay {
                        offset,
                        source: ReplayError::ZkSnapshot(
                            "found in the log; only snapshots hold the tree".into(),
                        ),
                    })
                }
                other => self
                    .delta
                    .replay_at(offset, other)
                    .map_err(|source| LoaderError::Replay { offset, source })?,
            }
            self.pending_records += 1;
            self.last_loaded_offset = offset;
        }
        if self.before_transaction.is_none() && self.pending_records > 0 {
            published.push(self.publish(provenance(self.last_loaded_offset)));
        }
        Ok(published)
    }

    fn publish(&mut self, provenance: MetadataProvenance) -> LoadedImage {
        self.image = self.delta.apply(provenance);
        let changes = self.delta.changes().clone();
        self.delta = MetadataDelta::new(&self.image);
        self.pending_records = 0;
        LoadedImage {
            image: self.image.clone(),
            changes,
        }
    }

    /// Replaces the state with a snapshot: the framed records of a `.checkpoint` (control
    /// records filtered out) replayed into the empty image, published with `provenance` (the
    /// offset of the last record the snapshot covers, i.e. snapshot end offset − 1). Any open
    /// transaction is dropped, as a snapshot never contains part of one. On error the loader
    /// is unchanged; the error's offset is the record's index in the snapshot.
    pub fn load_snapshot(
        &mut self,
        provenance: MetadataProvenance,
        records: &[Bytes],
    ) -> Result<MetadataImage, LoaderError> {
        let image = image_from_snapshot(provenance, records)?;
        *self = MetadataLoader::from_image(image.clone());
        Ok(image)
    }
}

/// Builds an image from snapshot records (framed record values), without a loader.
pub fn image_from_snapshot(
    provenance: MetadataProvenance,
    records: &[Bytes],
) -> Result<MetadataImage, LoaderError> {
    let mut delta = MetadataDelta::new(&MetadataImage::empty());
    for (i, value) in records.iter().enumerate() {
        let offset = i as i64;
        let record =
            MetadataRecord::decode(value.clone()).map_err(|source| LoaderError::Decode {
                offset: Offset(offset),
                source,
            })?;
        delta
            .replay(&record)
            .map_err(|source| LoaderError::Replay {
                offset: Offset(offset),
                source,
            })?;
    }
    Ok(delta.apply(provenance))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::metadata::record::{
        AbortTransactionRecord, BeginTransactionRecord, EndTransactionRecord, NoOpRecord,
        PartitionRecord, TopicRecord,
    };

    fn topic(name: &str, id: u128) -> MetadataRecord {
        MetadataRecord::Topic(TopicRecord {
            name: name.into(),
            topic_id: Uuid::from_u128(id),
        })
    }
    fn begin() -> MetadataRecord {
        MetadataRecord::BeginTransaction(BeginTransactionRecord { name: None })
    }
    fn end() -> MetadataRecord {
        MetadataRecord::EndTransaction(EndTransactionRecord {})
    }
    fn abort() -> MetadataRecord {
        MetadataRecord::AbortTransaction(AbortTransactionRecord {
            reason: Some("Controller failover".into()),
        })
    }
    fn batch(base_offset: Offset, records: &[MetadataRecord]) -> CommittedBatch {
        CommittedBatch {
            base_offset,
            epoch: Epoch(3),
            append_timestamp_ms: 1_000 + base_offset.get(),
            records: records.iter().map(MetadataRecord::encode).collect(),
        }
    }

    #[test]
    fn plain_batches_publish_one_image_each() {
        let mut l = MetadataLoader::new();
        let out = l
            .handle_batch(&batch(Offset(0), &[topic("a", 1), topic("b", 2)]))
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].image.provenance,
            MetadataProvenance {
                offset: Offset(1),
                epoch: Epoch(3),
                last_contained_timestamp_ms: 1_000
            }
        );
        assert_eq!(out[0].changes.created_topics.len(), 2);
        let out = l
            .handle_batch(&batch(Offset(2), &[MetadataRecord::NoOp(NoOpRecord {})]))
            .unwrap();
        assert_eq!(out[0].image.provenance.offset, Offset(2));
        assert!(out[0].changes.is_empty());
        assert_eq!(l.last_applied_offset(), Offset(2));
        assert_eq!(l.image().topic_count(), 2);
    }

    // KIP-868: a transaction spanning batches becomes visible only at its end.
    #[test]
    fn transaction_across_batches_is_atomic() {
        let mut l = MetadataLoader::new();
        let out = l
            .handle_batch(&batch(Offset(0), &[topic("a", 1), begin(), topic("b", 2)]))
            .unwrap();
        // The record before Begin is published on its own, at offset 0.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].image.provenance.offset, Offset(0));
        assert_eq!(out[0].image.topic_count(), 1);
        assert!(l.in_transaction());
        assert_eq!(l.last_loaded_offset(), Offset(2));
        assert_eq!(l.last_applied_offset(), Offset(0));

        let out = l.handle_batch(&batch(Offset(3), &[topic("c", 3)])).unwrap();
        assert!(out.is_empty());
        assert_eq!(l.image().topic_count(), 1);

        let out = l.handle_batch(&batch(Offset(4), &[end()])).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].image.topic_count(), 3);
        assert_eq!(out[0].image.provenance.offset, Offset(4));
        assert_eq!(out[0].changes.created_topics.len(), 2);
        assert!(!l.in_transaction());
    }

    #[test]
    fn aborted_transaction_is_discarded_but_offsets_advance() {
        let mut l = MetadataLoader::new();
        l.handle_batch(&batch(Offset(0), &[topic("a", 1)])).unwrap();
        l.handle_batch(&batch(Offset(1), &[begin(), topic("b", 2)]))
            .unwrap();
        let out = l
            .handle_batch(&batch(Offset(3), &[abort(), topic("c", 3)]))
            .unwrap();
        assert_eq!(out.len(), 1);
        let img = &out[0].image;
        assert!(img.topic_by_name("b").is_none());
        assert!(img.topic_by_name("c").is_some());
        assert_eq!(img.provenance.offset, Offset(4));
        // "b" can now be created for real.
        l.handle_batch(&batch(Offset(5), &[topic("b", 2)])).unwrap();
        assert_eq!(l.image().topic_count(), 3);
    }

    #[test]
    fn framing_errors_fail_the_batch_and_change_nothing() {
        let mut l = MetadataLoader::new();
        l.handle_batch(&batch(Offset(0), &[begin()])).unwrap();
        let before = (l.image().clone(), l.last_loaded_offset());
        assert_eq!(
            l.handle_batch(&batch(Offset(1), &[topic("x", 9), begin()])),
            Err(LoaderError::Transaction {
                offset: Offset(2),
                problem: "Encountered BeginTransactionRecord while already in a transaction"
            })
        );
        assert_eq!((l.image().clone(), l.last_loaded_offset()), before);
        assert!(l.in_transaction());

        let mut l = MetadataLoader::new();
        assert!(matches!(
            l.handle_batch(&batch(Offset(0), &[end()])),
            Err(LoaderError::Transaction {
                offset: Offset(0),
                ..
            })
        ));
        assert!(matches!(
            l.handle_batch(&batch(Offset(0), &[topic("a", 1), abort()])),
            Err(LoaderError::Transaction {
                offset: Offset(1),
                ..
            })
        ));
        assert_eq!(l.image().topic_count(), 0);
        assert_eq!(l.last_loaded_offset(), Offset(-1));
    }

    #[test]
    fn decode_replay_and_offset_errors_name_the_offset() {
        let mut l = MetadataLoader::new();
        let mut b = batch(Offset(10), &[topic("a", 1)]);
        b.records.push(Bytes::from_static(&[1, 99, 0]));
        assert!(matches!(
            l.handle_batch(&b),
            Err(LoaderError::Decode {
                offset: Offset(11),
                source: RecordError::UnknownApiKey(99)
            })
        ));
        let orphan = MetadataRecord::Partition(PartitionRecord {
            partition_id: 0,
            topic_id: Uuid::from_u128(5),
            replicas: vec![1],
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
        });
        assert!(matches!(
            l.handle_batch(&batch(Offset(10), &[topic("a", 1), orphan])),
            Err(LoaderError::Replay {
                offset: Offset(11),
                ..
            })
        ));
        assert_eq!(l.image().topic_count(), 0);
        l.handle_batch(&batch(Offset(10), &[topic("a", 1)]))
            .unwrap();
        assert_eq!(
            l.handle_batch(&batch(Offset(10), &[topic("b", 2)])),
            Err(LoaderError::OffsetNotIncreasing {
                base_offset: Offset(10),
                last_offset: Offset(10)
            })
        );
    }

    /// One piece of a generated log: plain records, or a transaction that ends or aborts.
    #[derive(Debug, Clone)]
    enum Segment {
        Plain(usize),
        Transaction { len: usize, commit: bool },
    }

    fn arb_segments() -> impl proptest::strategy::Strategy<Value = Vec<Segment>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            prop_oneof![
                (1usize..4).prop_map(Segment::Plain),
                (0usize..4, any::<bool>())
                    .prop_map(|(len, commit)| Segment::Transaction { len, commit }),
            ],
            0..12,
        )
    }

    proptest::proptest! {
        // KIP-868 against an oracle: however the log is cut into batches, every published
        // image holds all or none of each transaction, never an aborted one, and the last
        // image equals replaying only the committed records.
        #[test]
        fn transactions_are_atomic_however_batched(
            segments in arb_segments(),
            cuts in proptest::collection::vec(proptest::prelude::any::<bool>(), 64),
        ) {
            // Topic n is named "t<n>"; remember which transaction made it.
            let mut log = Vec::new();
            let mut transactions: Vec<(Vec<String>, bool)> = Vec::new();
            let mut next = 0u128;
            let mut oracle = MetadataDelta::new(&MetadataImage::empty());
            for seg in &segments {
                let (len, txn, commit) = match seg {
                    Segment::Plain(len) => (*len, false, true),
                    Segment::Transaction { len, commit } => (*len, true, *commit),
                };
                if txn {
                    log.push(begin());
                }
                let mut names = Vec::new();
                for _ in 0..len {
                    let name = format!("t{next}");
                    let rec = topic(&name, next + 1);
                    if commit {
                        oracle.replay(&rec).unwrap();
                    }
                    log.push(rec);
                    names.push(name);
                    next += 1;
                }
                if txn {
                    log.push(if commit { end() } else { abort() });
                }
                if txn {
                    transactions.push((names, commit));
                }
            }
            let mut loader = MetadataLoader::new();
            let mut start = 0;
            for i in 0..log.len() {
                if i + 1 == log.len() || cuts[i % cuts.len()] {
                    let out = loader
                        .handle_records(Offset(start as i64), Epoch(1), 0, &log[start..=i])
                        .unwrap();
                    for published in out {
                        let img = &published.image;
                        for (names, commit) in &transactions {
                            let present =
                                names.iter().filter(|n| img.topic_by_name(n).is_some()).count();
                            proptest::prop_assert!(present == 0 || (*commit && present == names.len()));
                        }
                    }
                    start = i + 1;
                }
            }
            proptest::prop_assert!(!loader.in_transaction());
            let last = Offset(log.len() as i64 - 1);
            proptest::prop_assert_eq!(loader.last_applied_offset(), last);
            proptest::prop_assert_eq!(
                loader.image().clone(),
                oracle.apply(loader.image().provenance)
            );
        }
    }

    #[test]
    fn snapshot_load_replaces_state() {
        let mut l = MetadataLoader::new();
        l.handle_batch(&batch(Offset(0), &[topic("a", 1), topic("b", 2), begin()]))
            .unwrap();
        let image = l.image().clone();
        let snapshot: Vec<Bytes> = image
            .to_records()
            .iter()
            .map(MetadataRecord::encode)
            .collect();
        let p = MetadataProvenance {
            offset: Offset(99),
            epoch: Epoch(4),
            last_contained_timestamp_ms: 7,
        };
        let mut fresh = MetadataLoader::new();
        let loaded = fresh.load_snapshot(p, &snapshot).unwrap();
        assert_eq!(
            loaded,
            MetadataImage {
                provenance: p,
                ..image
            }
        );
        assert_eq!(fresh.last_applied_offset(), Offset(99));
        assert!(!fresh.in_transaction());
        assert!(matches!(
            fresh.handle_batch(&batch(Offset(99), &[])),
            Err(LoaderError::OffsetNotIncreasing { .. })
        ));
        fresh
            .handle_batch(&batch(Offset(100), &[topic("c", 3)]))
            .unwrap();
        assert_eq!(fresh.image().topic_count(), 3);
        assert!(fresh
            .load_snapshot(p, &[Bytes::from_static(&[1, 2, 0, 9])])
            .is_err());
        assert_eq!(fresh.image().topic_count(), 3);
    }
}
