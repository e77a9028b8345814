//! [`ConfigsImage`]: dynamic configs per resource (`ConfigRecord`s).

use imbl::OrdMap;

use super::record::ConfigRecord;

/// `ConfigResource.Type` code of a topic.
pub const CONFIG_RESOURCE_TOPIC: i8 = 2;
/// `ConfigResource.Type` code of a broker (empty name: the cluster-wide default).
pub const CONFIG_RESOURCE_BROKER: i8 = 4;

/// A config resource: Kafka's `ConfigResource.Type` code and the resource name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// `ConfigResource.Type` code (TOPIC 2, BROKER 4, BROKER_LOGGER 8, ...).
    pub resource_type: i8,
    /// Resource name.
    pub resource_name: String,
}

/// Dynamic config key → value per resource. A resource with no keys is not stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigsImage {
    /// Resource → key → value.
    pub resources: OrdMap<ConfigResource, OrdMap<String, String>>,
}

impl ConfigsImage {
    /// The configs of one resource, if any are set.
    pub fn get(&self, resource_type: i8, resource_name: &str) -> Option<&OrdMap<String, String>> {
        self.resources.get(&ConfigResource {
            resource_type,
            resource_name: resource_name.to_string(),
        })
    }

    /// Applies a `ConfigRecord`: a value sets the key, a null value deletes it.
    pub(crate) fn replay(&mut self, r: &ConfigRecord) -> ConfigResource {
        let resource = ConfigResource {
            resource_type: r.resource_type,
            resource_name: r.resource_name.clone(),
        };
        match (&r.value, self.resources.get_mut(&resource)) {
            (Some(v), Some(keys)) => {
                keys.insert(r.name.clone(), v.clone());
            }
            (Some(v), None) => {
                self.resources
                    .insert(resource.clone(), OrdMap::unit(r.name.clone(), v.clone()));
            }
            (None, Some(keys)) => {
                keys.remove(&r.name);
                if keys.is_empty() {
                    self.resources.remove(&resource);
                }
            }
            (None, None) => {}
        }
        resource
    }

    /// Removes every config of a resource (a deleted topic's configs), saying whether any
    /// were set.
    pub(crate) fn remove_resource(&mut self, resource: &ConfigResource) -> bool {
        self.resources.remove(resource).is_some()
    }

    /// The records that recreate this image.
    pub fn to_records(&self) -> Vec<ConfigRecord> {
        self.resources
            .iter()
            .flat_map(|(res, keys)| {
                keys.iter().map(move |(k, v)| ConfigRecord {
                    resource_type: res.resource_type,
                    resource_name: res.resource_name.clone(),
                    name: k.clone(),
                    value: Some(v.clone()),
                })
            })
            .collect()
    }
}
