//! The KRaft RPCs (KIP-595, KIP-630): served by controllers only and handed to the node's Raft
//! core; their codec is [`crate::net::raft_wire`].

use kafka_protocol::messages::ApiKey;

use super::{ApiSpec, Route};
use crate::net::raft_wire::FETCH_VERSION_MIN;

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
    raft_spec(ApiKey::Fetch, (FETCH_VERSION_MIN, 17))
}

/// Vote, BeginQuorumEpoch, EndQuorumEpoch and FetchSnapshot.
pub fn quorum_specs() -> [ApiSpec; 4] {
    [
        raft_spec(ApiKey::Vote, (0, 2)),
        raft_spec(ApiKey::BeginQuorumEpoch, (0, 1)),
        raft_spec(ApiKey::EndQuorumEpoch, (0, 1)),
        raft_spec(ApiKey::FetchSnapshot, (0, 1)),
    ]
}
