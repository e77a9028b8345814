//! ApiVersions (KIP-511): answered by every listener itself, from the registry.

use kafka_protocol::messages::ApiKey;

use super::{ApiSpec, Route};

/// ApiVersions: v0..3 on controllers, v0..4 on brokers' client listeners.
pub fn spec() -> ApiSpec {
    ApiSpec {
        key: ApiKey::ApiVersions,
        controller: Some((0, 3)),
        broker: Some((0, 4)),
        route: Route::ApiVersions,
    }
}
