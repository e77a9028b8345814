//! The integers the metadata log is made of — node ids, Raft epochs and offsets — each a type
//! of its own, so that one is never passed where another is meant (an offset for an epoch, a
//! Raft epoch for a partition's leader epoch, a node id for a count).
//!
//! They hold Kafka's wire and file representations (`int32` node ids and epochs, `int64`
//! offsets); the inner value is public for the encoders and decoders at the edges. `Debug` and
//! `Display` print the bare number, as Kafka's logs and our traces do.

use std::ops::{Add, AddAssign, Sub};

/// Declares an integer newtype with the traits every id here has: ordering, hashing, bare-number
/// `Debug` and `Display`, `FromStr`, and conversions to and from its integer. The controller
/// declares the metadata's ids (broker epochs, partition epochs) with it too.
#[macro_export]
macro_rules! integer_id {
    ($(#[$doc:meta])* $name:ident($int:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        pub struct $name(pub $int);

        impl $name {
            /// The wire and file representation.
            pub const fn get(self) -> $int {
                self.0
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.0, f)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self {
                $name(v)
            }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self {
                v.0
            }
        }
    };
}

integer_id! {
    /// A node's id (`node.id`): a controller, a broker, or both in combined mode. Broker ids in
    /// the metadata are node ids.
    NodeId(i32)
}

integer_id! {
    /// A Raft epoch of the metadata log (KIP-595's leader epoch, the Raft term). It is also the
    /// `partitionLeaderEpoch` of every batch in the log, and the epoch of a snapshot. Not a
    /// partition's leader epoch in the metadata (that is the controller's `LeaderEpoch`).
    Epoch(i32)
}

integer_id! {
    /// An offset in the metadata log: the position of a record, or (as an end offset) the
    /// position after the last one.
    Offset(i64)
}

impl NodeId {
    /// Kafka's `-1`: no node (no leader, no vote) on the wire and in files.
    pub const NONE: NodeId = NodeId(-1);
}

impl Epoch {
    /// The epoch before any election.
    pub const ZERO: Epoch = Epoch(0);

    /// The largest epoch; an election beyond it is impossible.
    pub const MAX: Epoch = Epoch(i32::MAX);

    /// The epoch after this one, unless this is the last.
    pub fn checked_next(self) -> Option<Epoch> {
        self.0.checked_add(1).map(Epoch)
    }
}

impl Offset {
    /// The first offset of a log.
    pub const ZERO: Offset = Offset(0);

    /// The offset after this one.
    pub const fn next(self) -> Offset {
        Offset(self.0 + 1)
    }

    /// This offset plus `n` records, stopping at the largest offset instead of overflowing.
    pub const fn saturating_add(self, n: i64) -> Offset {
        Offset(self.0.saturating_add(n))
    }
}

impl From<kafka_protocol::messages::BrokerId> for NodeId {
    fn from(id: kafka_protocol::messages::BrokerId) -> Self {
        NodeId(id.0)
    }
}

impl From<NodeId> for kafka_protocol::messages::BrokerId {
    fn from(id: NodeId) -> Self {
        kafka_protocol::messages::BrokerId(id.0)
    }
}

/// An offset plus a number of records.
impl Add<i64> for Offset {
    type Output = Offset;
    fn add(self, n: i64) -> Offset {
        Offset(self.0 + n)
    }
}

impl AddAssign<i64> for Offset {
    fn add_assign(&mut self, n: i64) {
        self.0 += n;
    }
}

/// An offset minus a number of records.
impl Sub<i64> for Offset {
    type Output = Offset;
    fn sub(self, n: i64) -> Offset {
        Offset(self.0 - n)
    }
}

/// The number of records between two offsets.
impl Sub<Offset> for Offset {
    type Output = i64;
    fn sub(self, other: Offset) -> i64 {
        self.0 - other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_bare_numbers() {
        assert_eq!(
            format!("{:?} {} {:?}", NodeId(3), Epoch(7), Offset(-1)),
            "3 7 -1"
        );
    }

    #[test]
    fn offset_arithmetic() {
        let mut o = Offset(10);
        o += 5;
        assert_eq!(o, Offset(15));
        assert_eq!(o - Offset(4), 11);
        assert_eq!(o - 15, Offset::ZERO);
        assert_eq!(Offset(9).next(), Offset(10));
        assert_eq!(Epoch(1).checked_next(), Some(Epoch(2)));
        assert_eq!(Epoch::MAX.checked_next(), None);
    }
}
