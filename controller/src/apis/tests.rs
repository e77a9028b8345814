//! The registry against itself and against `kafka-protocol`.

use bytes::BytesMut;
use kafka_protocol::messages::ApiKey;

use super::*;

fn metadata_apis() -> impl Iterator<Item = &'static dyn AnyMetadataApi> {
    registry().iter().filter_map(|s| match s.route {
        Route::Metadata(m) => Some(m),
        _ => None,
    })
}

// Some response fields refuse to encode at versions without them; every error response
// must encode at every version either listener advertises, in both of its forms.
#[test]
fn every_error_response_encodes_at_every_served_version() {
    for table in [CONTROLLER_API_TABLE, BROKER_API_TABLE] {
        for (spec, (min, max)) in table.served() {
            let Route::Metadata(api) = spec.route else {
                continue;
            };
            let request = api.default_request();
            assert_eq!(metadata_api_of(&request).map(|a| a.key()), Some(spec.key));
            let response = error_response(&request, ErrorCode::NotController, "moved")
                .unwrap_or_else(|| panic!("{:?} has an error response", spec.key));
            assert_eq!(
                metadata_api_of_response(&response).map(|a| a.key()),
                Some(spec.key)
            );
            let failed = outcome_unknown(response.clone());
            for version in min..=max {
                for r in [&response, &failed] {
                    let mut out = BytesMut::new();
                    r.encode(&mut out, version)
                        .unwrap_or_else(|e| panic!("{:?} v{version}: {e}", spec.key));
                }
            }
        }
    }
}

#[test]
fn every_api_is_listed_once_in_key_order_and_known_to_kafka_protocol() {
    let keys: Vec<i16> = registry().iter().map(|s| s.key as i16).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);
    for s in registry() {
        for (min, max) in [s.controller, s.broker].into_iter().flatten() {
            assert!(min <= max, "{s:?}");
            assert!(min >= s.key.valid_versions().min, "{s:?}");
        }
        if let Route::Metadata(m) = s.route {
            assert_eq!(m.key(), s.key);
        }
    }
}

// What a broker serves follows from each API's OnBroker, and nothing a broker serves is a
// Raft RPC.
#[test]
fn the_broker_table_serves_exactly_the_local_and_forwarded_apis() {
    let served: Vec<ApiKey> = BROKER_API_TABLE.served().map(|(s, _)| s.key).collect();
    let mut expected: Vec<ApiKey> = metadata_apis()
        .filter(|m| m.on_broker() != OnBroker::NotServed)
        .map(|m| m.key())
        .collect();
    expected.push(ApiKey::ApiVersions);
    expected.sort_by_key(|k| *k as i16);
    assert_eq!(served, expected);
    assert_eq!(BROKER_API_TABLE.versions(ApiKey::Metadata), Some((0, 12)));
    assert_eq!(BROKER_API_TABLE.versions(ApiKey::Fetch), None);
    assert!(CONTROLLER_API_TABLE.versions(ApiKey::Fetch).is_some());
}

// The NOT_CONTROLLER form of an answer is recognised as such by the error codes a forwarding
// broker reads, with the message that says the outcome is unknown where the API has one.
#[test]
fn the_outcome_unknown_form_fails_every_part() {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    use kafka_protocol::messages::{CreateTopicsRequest, RequestKind, TopicName};
    let request = RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
        CreatableTopic::default().with_name(TopicName("a".into())),
        CreatableTopic::default().with_name(TopicName("b".into())),
    ]));
    let ok = error_response(&request, ErrorCode::None, "").unwrap();
    assert!(error_codes(&ok).iter().all(|(c, _)| *c == 0));
    let failed = outcome_unknown(ok);
    let codes = error_codes(&failed);
    assert_eq!(codes.len(), 2);
    for (code, message) in codes {
        assert_eq!(code, ErrorCode::NotController.code());
        assert_eq!(message, Some(OUTCOME_UNKNOWN_MESSAGE));
    }
}
