//! Rack-aware replica placement for new topics and partitions, with the goals and the error
//! messages of Kafka's `StripedReplicaPlacer` (KIP-631) but an algorithm of its own that also
//! balances leaders exactly.
//!
//! Constraints (placement fails if they cannot hold): no broker twice in one replica list; the
//! leader (first replica) is an unfenced broker. Goals, most important first:
//! 1. spread each partition's replicas over as many racks as possible;
//! 2. spread leaders evenly: within one call, leader counts of unfenced brokers differ by at
//!    most one;
//! 3. prefer unfenced brokers; a fenced broker is only used when its rack has no unused
//!    unfenced broker left for this partition (rack spread wins over fencing, as in Kafka).
//!
//! Brokers in controlled shutdown are not "usable" and must not be passed in, as in Kafka.
//! Randomness (the order of brokers within racks and the first rack) is drawn from the RNG the
//! caller passes, so a seeded RNG gives a reproducible placement.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::Rng;

use super::errors::ErrorCode;

/// A broker that may hold new replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableBroker {
    /// The broker id.
    pub id: i32,
    /// The broker's `broker.rack`, if it has one. Brokers without a rack form one rack.
    pub rack: Option<String>,
    /// Whether the broker is fenced. Fenced brokers never lead a new partition.
    pub fenced: bool,
}

/// What to place: `partition_count` partitions of `replication_factor` replicas each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacementSpec {
    /// Index of the first partition placed. Kept for parity with Kafka's `PlacementSpec`; the
    /// placement does not depend on it (Kafka's striped placer ignores it too).
    pub start_partition: i32,
    /// How many partitions to place. The caller bounds it (Kafka bounds the records of one
    /// request at 10,000).
    pub partition_count: u32,
    /// Replicas per partition.
    pub replication_factor: i16,
}

/// Why replicas could not be placed. `Display` is Kafka's `InvalidReplicationFactorException`
/// message; Kafka's CreateTopics prefixes it, see [`PlacementError::client_message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// The replication factor is zero or negative.
    #[error("Invalid replication factor {0}: the replication factor must be positive.")]
    NonPositiveReplicationFactor(i16),
    /// No usable broker is unfenced, so no partition can have a leader.
    #[error("All brokers are currently fenced.")]
    AllBrokersFenced,
    /// Fewer usable brokers (fenced or not) than the replication factor.
    #[error(
        "The target replication factor of {replication_factor} cannot be reached because only {registered} broker(s) are registered."
    )]
    TooFewBrokers {
        /// The requested replication factor.
        replication_factor: i16,
        /// How many usable brokers there are, fenced ones included.
        registered: usize,
    },
    /// The same broker id appears twice in the usable broker list (a caller bug).
    #[error("Broker {0} appears more than once in the usable broker list.")]
    DuplicateBroker(i32),
}

impl PlacementError {
    /// The Kafka error code the controller answers with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            PlacementError::DuplicateBroker(_) => ErrorCode::UnknownServerError,
            _ => ErrorCode::InvalidReplicationFactor,
        }
    }

    /// The message Kafka's CreateTopics sends: "Unable to replicate the partition N time(s): "
    /// followed by this error.
    pub fn client_message(&self, replication_factor: i16) -> String {
        format!("Unable to replicate the partition {replication_factor} time(s): {self}")
    }
}

/// One rack's brokers, each list in a random order fixed for the call.
#[derive(Debug, Default)]
struct Rack {
    unfenced: Vec<i32>,
    fenced: Vec<i32>,
}

/// Places `spec.partition_count` partitions on `brokers`; the result's `i`-th list is the
/// replica list of partition `spec.start_partition + i`, leader first.
///
/// Checks, in Kafka's order: replication factor positive, at least one unfenced broker,
/// replication factor at most the number of usable brokers (fenced ones count, as in Kafka:
/// they may hold followers).
pub fn place_replicas<R: Rng + ?Sized>(
    brokers: &[UsableBroker],
    spec: &PlacementSpec,
    rng: &mut R,
) -> Result<Vec<Vec<i32>>, PlacementError> {
    let replication_factor = spec.replication_factor;
    if replication_factor <= 0 {
        return Err(PlacementError::NonPositiveReplicationFactor(
            replication_factor,
        ));
    }
    let mut racks: BTreeMap<Option<&str>, Rack> = BTreeMap::new();
    let mut seen: HashSet<i32> = HashSet::with_capacity(brokers.len());
    for broker in brokers {
        if !seen.insert(broker.id) {
            return Err(PlacementError::DuplicateBroker(broker.id));
        }
        let rack = racks.entry(broker.rack.as_deref()).or_default();
        if broker.fenced {
            rack.fenced.push(broker.id);
        } else {
            rack.unfenced.push(broker.id);
        }
    }
    let unfenced_count = brokers.iter().filter(|b| !b.fenced).count();
    if unfenced_count == 0 {
        return Err(PlacementError::AllBrokersFenced);
    }
    // replication_factor > 0 here, so the cast is lossless.
    let rf = replication_factor as usize;
    if rf > brokers.len() {
        return Err(PlacementError::TooFewBrokers {
            replication_factor,
            registered: brokers.len(),
        });
    }

    // Sort first so the result depends only on the broker set and the RNG, not input order.
    let mut racks: Vec<Rack> = racks.into_values().collect();
    for rack in &mut racks {
        rack.unfenced.sort_unstable();
        rack.fenced.sort_unstable();
        rack.unfenced.shuffle(rng);
        rack.fenced.shuffle(rng);
    }
    let first_rack = rng.random_range(0..racks.len());
    racks.rotate_left(first_rack);

    let mut placer = Placer::new(racks);
    let mut placements = Vec::new();
    for _ in 0..spec.partition_count {
        placements.push(placer.place_one(rf));
    }
    Ok(placements)
}

/// Placement state carried from one partition to the next within a call.
struct Placer {
    racks: Vec<Rack>,
    /// Rack index of each broker.
    rack_of: HashMap<i32, usize>,
    /// Unfenced brokers interleaved across racks: the tie-break order for leaders, so equal
    /// leader counts rotate through racks.
    leader_order: Vec<i32>,
    /// Where the next leader search starts in `leader_order`.
    leader_cursor: usize,
    leader_count: HashMap<i32, u32>,
    replica_count: HashMap<i32, u32>,
}

impl Placer {
    fn new(racks: Vec<Rack>) -> Placer {
        let mut rack_of = HashMap::new();
        for (index, rack) in racks.iter().enumerate() {
            for id in rack.unfenced.iter().chain(&rack.fenced) {
                rack_of.insert(*id, index);
            }
        }
        let deepest = racks.iter().map(|r| r.unfenced.len()).max().unwrap_or(0);
        let mut leader_order = Vec::new();
        for depth in 0..deepest {
            for rack in &racks {
                if let Some(id) = rack.unfenced.get(depth) {
                    leader_order.push(*id);
                }
            }
        }
        Placer {
            racks,
            rack_of,
            leader_order,
            leader_cursor: 0,
            leader_count: HashMap::new(),
            replica_count: HashMap::new(),
        }
    }

    /// One partition's replicas. Preconditions (checked by the caller): at least one unfenced
    /// broker and at least `rf` brokers in all.
    fn place_one(&mut self, rf: usize) -> Vec<i32> {
        let mut replicas = Vec::with_capacity(rf);
        let leader = self.pick_leader();
        replicas.push(leader);
        let leader_rack = self.rack_of.get(&leader).copied().unwrap_or(0);
        let rack_count = self.racks.len();
        // Round-robin over racks starting after the leader's; the leader's rack comes last in
        // each pass. Every pass adds at least one replica while brokers remain, so rf passes
        // always suffice.
        'passes: for _ in 0..rf {
            for step in 1..=rack_count {
                if replicas.len() == rf {
                    break 'passes;
                }
                let rack = (leader_rack + step) % rack_count;
                if let Some(id) = self.pick_in_rack(rack, &replicas) {
                    replicas.push(id);
                }
            }
        }
        debug_assert_eq!(replicas.len(), rf);
        for id in &replicas {
            *self.replica_count.entry(*id).or_default() += 1;
        }
        replicas
    }

    /// The unfenced broker with the fewest leaderships so far; ties go to the first one at or
    /// after the cursor in `leader_order`.
    fn pick_leader(&mut self) -> i32 {
        let count_of = |counts: &HashMap<i32, u32>, id: &i32| counts.get(id).copied().unwrap_or(0);
        let fewest = self
            .leader_order
            .iter()
            .map(|id| count_of(&self.leader_count, id))
            .min()
            .unwrap_or(0);
        let n = self.leader_order.len();
        let mut chosen = self.leader_order.first().copied().unwrap_or(-1);
        for offset in 0..n {
            let position = (self.leader_cursor + offset) % n;
            let id = self.leader_order[position];
            if count_of(&self.leader_count, &id) == fewest {
                chosen = id;
                self.leader_cursor = (position + 1) % n;
                break;
            }
        }
        *self.leader_count.entry(chosen).or_default() += 1;
        chosen
    }

    /// The least-loaded unused broker of a rack, unfenced ones first; `None` if the rack has
    /// no unused broker.
    fn pick_in_rack(&self, rack: usize, used: &[i32]) -> Option<i32> {
        let rack = self.racks.get(rack)?;
        let least_loaded = |ids: &[i32]| {
            ids.iter()
                .filter(|id| !used.contains(id))
                .min_by_key(|id| self.replica_count.get(id).copied().unwrap_or(0))
                .copied()
        };
        least_loaded(&rack.unfenced).or_else(|| least_loaded(&rack.fenced))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn broker(id: i32, rack: Option<&str>, fenced: bool) -> UsableBroker {
        UsableBroker {
            id,
            rack: rack.map(str::to_owned),
            fenced,
        }
    }

    fn spec(partition_count: u32, replication_factor: i16) -> PlacementSpec {
        PlacementSpec {
            start_partition: 0,
            partition_count,
            replication_factor,
        }
    }

    fn place(
        brokers: &[UsableBroker],
        spec: PlacementSpec,
        seed: u64,
    ) -> Result<Vec<Vec<i32>>, PlacementError> {
        place_replicas(brokers, &spec, &mut StdRng::seed_from_u64(seed))
    }

    #[test]
    fn kafka_error_messages() {
        let brokers = [broker(0, None, false), broker(1, None, true)];
        let err = place(&brokers, spec(1, 0), 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid replication factor 0: the replication factor must be positive."
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidReplicationFactor);

        let err = place(&brokers, spec(1, 3), 1).unwrap_err();
        assert_eq!(
            err.client_message(3),
            "Unable to replicate the partition 3 time(s): The target replication factor of 3 \
             cannot be reached because only 2 broker(s) are registered."
        );
        assert_eq!(err.error_code(), ErrorCode::InvalidReplicationFactor);

        // Fencing is checked before the broker count, as in Kafka.
        let all_fenced = [broker(0, None, true)];
        let err = place(&all_fenced, spec(1, 2), 1).unwrap_err();
        assert_eq!(err, PlacementError::AllBrokersFenced);
        assert_eq!(err.to_string(), "All brokers are currently fenced.");
        assert_eq!(
            place(&[], spec(1, 1), 1).unwrap_err(),
            PlacementError::AllBrokersFenced
        );
    }

    #[test]
    fn fenced_brokers_count_towards_the_limit_and_never_lead() {
        // Kafka counts fenced brokers as registered: RF 2 on one unfenced + one fenced works.
        let brokers = [broker(0, None, false), broker(1, None, true)];
        let placement = place(&brokers, spec(10, 2), 7).unwrap();
        for replicas in placement {
            assert_eq!(replicas, vec![0, 1]);
        }
    }

    #[test]
    fn duplicate_broker_is_rejected() {
        let brokers = [broker(0, None, false), broker(0, None, false)];
        assert_eq!(
            place(&brokers, spec(1, 1), 1).unwrap_err(),
            PlacementError::DuplicateBroker(0)
        );
    }

    #[test]
    fn same_seed_same_placement_regardless_of_input_order() {
        let mut brokers: Vec<_> = (0..6)
            .map(|id| broker(id, Some(["a", "b", "c"][id as usize % 3]), false))
            .collect();
        let first = place(&brokers, spec(20, 3), 42).unwrap();
        brokers.reverse();
        assert_eq!(place(&brokers, spec(20, 3), 42).unwrap(), first);
    }

    #[test]
    fn zero_partitions_is_empty() {
        let brokers = [broker(0, None, false)];
        assert_eq!(
            place(&brokers, spec(0, 1), 1).unwrap(),
            Vec::<Vec<i32>>::new()
        );
    }

    /// A cluster: brokers with racks drawn from a small set and a fenced flag.
    fn cluster() -> impl Strategy<Value = Vec<UsableBroker>> {
        prop::collection::vec((0usize..4, prop::bool::weighted(0.25)), 1..12).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (rack, fenced))| UsableBroker {
                    id: i as i32 * 3 + 1,
                    rack: (rack > 0).then(|| format!("rack-{rack}")),
                    fenced,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn placement_properties(
            brokers in cluster(),
            rf in 1i16..6,
            partitions in 1u32..60,
            seed in any::<u64>(),
        ) {
            let result = place(&brokers, spec(partitions, rf), seed);
            let unfenced: HashSet<i32> = brokers.iter().filter(|b| !b.fenced).map(|b| b.id).collect();
            if unfenced.is_empty() {
                prop_assert_eq!(result.unwrap_err(), PlacementError::AllBrokersFenced);
                return Ok(());
            }
            if rf as usize > brokers.len() {
                let is_too_few = matches!(result, Err(PlacementError::TooFewBrokers { .. }));
                prop_assert!(is_too_few);
                return Ok(());
            }
            let placement = result.unwrap();
            prop_assert_eq!(placement.len(), partitions as usize);
            let rack_of: HashMap<i32, Option<String>> =
                brokers.iter().map(|b| (b.id, b.rack.clone())).collect();
            let rack_count = rack_of.values().collect::<HashSet<_>>().len();
            let mut leaders: HashMap<i32, u32> = HashMap::new();
            for replicas in &placement {
                // Size = RF, distinct, only known brokers.
                prop_assert_eq!(replicas.len(), rf as usize);
                prop_assert_eq!(replicas.iter().collect::<HashSet<_>>().len(), replicas.len());
                prop_assert!(replicas.iter().all(|id| rack_of.contains_key(id)));
                // The leader is unfenced.
                prop_assert!(unfenced.contains(&replicas[0]));
                *leaders.entry(replicas[0]).or_default() += 1;
                // Spans min(RF, #racks) racks.
                let racks: HashSet<_> = replicas.iter().map(|id| &rack_of[id]).collect();
                prop_assert_eq!(racks.len(), (rf as usize).min(rack_count));
                // A fenced broker only when its rack has no unused unfenced broker left.
                for id in replicas {
                    if !unfenced.contains(id) {
                        let rack = &rack_of[id];
                        let spare = brokers.iter().any(|b| {
                            !b.fenced && &b.rack == rack && !replicas.contains(&b.id)
                        });
                        prop_assert!(!spare, "fenced {} chosen over an unfenced rack-mate", id);
                    }
                }
            }
            // Leaders are balanced within one across all unfenced brokers.
            let counts: Vec<u32> = unfenced.iter().map(|id| leaders.get(id).copied().unwrap_or(0)).collect();
            let max = counts.iter().max().copied().unwrap_or(0);
            let min = counts.iter().min().copied().unwrap_or(0);
            prop_assert!(max - min <= 1, "leader counts {:?}", leaders);
        }

        #[test]
        fn fenced_never_chosen_when_racks_have_enough_unfenced(
            per_rack in 1usize..4,
            rack_count in 1usize..4,
            fenced_per_rack in 0usize..3,
            rf in 1i16..6,
            seed in any::<u64>(),
        ) {
            let needed_per_rack = (rf as usize).div_ceil(rack_count);
            prop_assume!(per_rack >= needed_per_rack);
            let mut brokers = Vec::new();
            let mut next_id = 0;
            for rack in 0..rack_count {
                for i in 0..per_rack + fenced_per_rack {
                    brokers.push(broker(next_id, Some(["a", "b", "c"][rack]), i >= per_rack));
                    next_id += 1;
                }
            }
            let placement = place(&brokers, spec(30, rf), seed).unwrap();
            let fenced: HashSet<i32> = brokers.iter().filter(|b| b.fenced).map(|b| b.id).collect();
            for replicas in placement {
                prop_assert!(replicas.iter().all(|id| !fenced.contains(id)), "{:?}", replicas);
            }
        }
    }
}
