//! Computed-trait bindings: which computed-trait plugin runs, with which config, under which name.

use serde::{Deserialize, Serialize};

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode};
use crate::plugin::ContentHash;
use crate::profile::ProfileId;

/// The traits to write on one profile: `Some` sets a trait, `None` removes it.
pub type TraitUpdate = (ProfileId, Vec<(String, Option<serde_json::Value>)>);

/// A computed-trait plugin bound to the whole profile base: it runs as events arrive and on
/// demand, and writes its traits on every profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraitBinding {
    /// The binding's name, chosen by the person who made it (`lead-score`).
    pub name: String,
    /// The pinned plugin.
    pub plugin: ContentHash,
    /// The config, accepted by the plugin's `validate-config`.
    pub config: serde_json::Value,
    /// When it was bound, ms since the epoch.
    pub bound_at: i64,
}

impl Storage {
    /// Creates or replaces a trait binding, durably.
    pub fn put_trait_binding(&self, binding: &TraitBinding) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::TraitBindings, binding.name.as_bytes().to_vec(), encode(binding)?);
        writes.commit()?;
        self.backend.durable()
    }

    /// The trait binding with this name.
    pub fn trait_binding(&self, name: &str) -> Result<Option<TraitBinding>, StorageError> {
        self.tree(TreeId::TraitBindings)
            .get(name.as_bytes())?
            .map(|raw| decode(&raw, "trait binding"))
            .transpose()
    }

    /// Every trait binding, by name.
    pub fn trait_bindings(&self) -> Result<Vec<TraitBinding>, StorageError> {
        self.tree(TreeId::TraitBindings).iter().map(|entry| decode(&entry?.1, "trait binding")).collect()
    }

    /// Removes a trait binding, durably. Returns whether there was one. The traits it wrote stay
    /// on the profiles until something else writes them.
    pub fn remove_trait_binding(&self, name: &str) -> Result<bool, StorageError> {
        let existed = self.tree(TreeId::TraitBindings).remove(name.as_bytes())?.is_some();
        self.backend.durable()?;
        Ok(existed)
    }
}
