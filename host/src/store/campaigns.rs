//! Campaign definitions and their bindings.

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode, keys};
use crate::campaign::{Binding, Campaign, Slot};
use crate::plugin::ContentHash;

impl Storage {
    /// Creates or replaces a campaign, durably. Validation belongs to the engine.
    pub fn put_campaign(&self, campaign: &Campaign) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::Campaigns, campaign.id.as_bytes().to_vec(), encode(campaign)?);
        writes.commit()?;
        self.backend.durable()
    }

    /// The campaign with this id.
    pub fn campaign(&self, id: &str) -> Result<Option<Campaign>, StorageError> {
        self.tree(TreeId::Campaigns).get(id.as_bytes())?.map(|raw| decode(&raw, "campaign")).transpose()
    }

    /// Every campaign, by id.
    pub fn campaigns(&self) -> Result<Vec<Campaign>, StorageError> {
        self.tree(TreeId::Campaigns).iter().map(|entry| decode(&entry?.1, "campaign")).collect()
    }

    /// Binds (or rebinds) a plugin to a campaign slot, durably.
    pub fn put_binding(&self, binding: &Binding) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::Bindings, binding_key(&binding.campaign, &binding.slot), encode(binding)?);
        writes.commit()?;
        self.backend.durable()
    }

    /// Removes a binding, durably. Returns whether there was one.
    pub fn remove_binding(&self, campaign: &str, slot: &Slot) -> Result<bool, StorageError> {
        let existed = self.tree(TreeId::Bindings).remove(binding_key(campaign, slot))?.is_some();
        self.backend.durable()?;
        Ok(existed)
    }

    /// The binding of one slot.
    pub fn binding(&self, campaign: &str, slot: &Slot) -> Result<Option<Binding>, StorageError> {
        self.tree(TreeId::Bindings)
            .get(binding_key(campaign, slot))?
            .map(|raw| decode(&raw, "binding"))
            .transpose()
    }

    /// Every binding of a campaign, by slot key.
    pub fn bindings(&self, campaign: &str) -> Result<Vec<Binding>, StorageError> {
        self.tree(TreeId::Bindings)
            .scan_prefix(keys::campaign_prefix(campaign))
            .map(|entry| decode(&entry?.1, "binding"))
            .collect()
    }

    /// Every binding that pins this plugin (a bound plugin cannot be removed).
    pub fn bindings_of_plugin(&self, plugin: &ContentHash) -> Result<Vec<Binding>, StorageError> {
        let mut found = Vec::new();
        for entry in self.tree(TreeId::Bindings).iter() {
            let binding: Binding = decode(&entry?.1, "binding")?;
            if binding.plugin == *plugin {
                found.push(binding);
            }
        }
        Ok(found)
    }
}

fn binding_key(campaign: &str, slot: &Slot) -> Vec<u8> {
    let mut key = keys::campaign_prefix(campaign);
    key.extend_from_slice(slot.key().as_bytes());
    key
}
