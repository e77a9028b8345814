//! The KRaft RPCs (KIP-595, KIP-630): served by controllers only and handed to the node's Raft
//! core; their codecs, with the versions
//! each serves, are in [`crate::net::raft_wire`], one file per RPC.

use kafka_protocol::messages::ApiKey;

use super::{ApiSpec, Route};
use crate::net::raft_wire::{begin_quorum_epoch, end_quorum_epoch, fetch, fetch_snapshot, vote};

fn raft_spec(key: ApiKey, versions: (i16, i16)) -> ApiSpec {
    ApiSpec {
        key,
        controller: Some(versions),
        broker: None,
        route: Route::Raft,
    }
}

/// Fetch of the metadata partition by followers and observers.
pub fn fetch_spec() -> ApiSpec {
    raft_spec(ApiKey::Fetch, fetch::VERSIONS_SERVED)
}

/// Vote, BeginQuorumEpoch, EndQuorumEpoch and FetchSnapshot.
pub fn quorum_specs() -> [ApiSpec; 4] {
    [
        raft_spec(ApiKey::Vote, vote::VERSIONS_SERVED),
        raft_spec(
            ApiKey::BeginQuorumEpoch,
            begin_quorum_epoch::VERSIONS_SERVED,
        ),
        raft_spec(ApiKey::EndQuorumEpoch, end_quorum_epoch::VERSIONS_SERVED),
        raft_spec(ApiKey::FetchSnapshot, fetch_snapshot::VERSIONS_SERVED),
    ]
}
