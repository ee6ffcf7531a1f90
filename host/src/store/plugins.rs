//! The plugin registry: component bytes, registry records, compiled artifacts.

use super::{Storage, StorageError, TreeId, decode, encode};
use crate::plugin::{ContentHash, PluginRecord};

impl Storage {
    /// Records an installed plugin and its component bytes atomically and durably: after this
    /// returns, the plugin survives a crash; a crash before leaves no trace of it.
    pub fn put_plugin(&self, record: &PluginRecord, component: &[u8]) -> Result<(), StorageError> {
        let key = record.hash.as_bytes();
        let value = encode(record)?;
        self.backend.apply(&[
            (TreeId::Plugins, &key[..], Some(value.as_slice())),
            (TreeId::Components, &key[..], Some(component)),
        ])?;
        self.backend.flush()
    }

    /// Sets or lifts a plugin's quarantine, with its audit record, durably.
    pub fn set_quarantine(
        &self,
        hash: &ContentHash,
        quarantine: Option<crate::plugin::Quarantine>,
        actor: &str,
        now: i64,
    ) -> Result<bool, StorageError> {
        let Some(mut record) = self.plugin(hash)? else { return Ok(false) };
        let action = if quarantine.is_some() { "plugin_quarantined" } else { "plugin_enabled" };
        let detail = serde_json::json!({ "plugin": record.label(), "reason": quarantine.as_ref().map(|q| q.reason.clone()) });
        record.quarantine = quarantine;
        let mut writes = super::writes::WriteSet::new(self);
        writes.put(TreeId::Plugins, hash.as_bytes().to_vec(), encode(&record)?);
        let audit = super::AuditRecord {
            at: now,
            actor: actor.into(),
            action: action.into(),
            target: hash.to_string(),
            detail,
        };
        self.plan_audit(&mut writes, &audit)?;
        writes.commit()?;
        self.backend.durable()?;
        self.announce(&plugin_change(hash));
        Ok(true)
    }

    /// Removes a plugin, its component and its compiled artifacts, durably. Callers check that no
    /// binding pins it first. Returns whether it was installed.
    pub fn remove_plugin(&self, hash: &ContentHash) -> Result<bool, StorageError> {
        let existed = self.tree(TreeId::Plugins).contains_key(hash.as_bytes())?;
        let mut writes = super::writes::WriteSet::new(self);
        writes.remove(TreeId::Plugins, hash.as_bytes().to_vec());
        writes.remove(TreeId::Components, hash.as_bytes().to_vec());
        for entry in self.tree(TreeId::Artifacts).scan_prefix(hash.as_bytes()) {
            writes.remove(TreeId::Artifacts, entry?.0.to_vec());
        }
        writes.commit()?;
        self.backend.durable()?;
        self.announce(&plugin_change(hash));
        Ok(existed)
    }

    /// The registry record of a plugin, if installed.
    pub fn plugin(&self, hash: &ContentHash) -> Result<Option<PluginRecord>, StorageError> {
        self.tree(TreeId::Plugins)
            .get(hash.as_bytes())?
            .map(|raw| decode(&raw, &format!("plugin {hash}")))
            .transpose()
    }

    /// Every installed plugin, ordered by content hash.
    pub fn plugins(&self) -> Result<Vec<PluginRecord>, StorageError> {
        self.tree(TreeId::Plugins)
            .iter()
            .map(|entry| {
                let (_, raw) = entry?;
                decode(&raw, "plugin record")
            })
            .collect()
    }

    /// The component bytes of an installed plugin.
    pub fn component(&self, hash: &ContentHash) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.tree(TreeId::Components).get(hash.as_bytes())?.map(|raw| raw.to_vec()))
    }

    /// The compiled artifact of a plugin for the engine identified by `engine_key`.
    ///
    /// Only an embedded store keeps artifacts. Compiled code is loaded without verification, so
    /// it is only ever read from where this machine's own files are; a shared database is
    /// written by other machines and by whoever else holds its credentials, so a server store
    /// keeps components only and each worker compiles (and caches, see
    /// `runtime.compile_cache_dir`) for itself.
    pub fn artifact(&self, hash: &ContentHash, engine_key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        if self.local_db().is_none() {
            return Ok(None);
        }
        Ok(self.tree(TreeId::Artifacts).get(artifact_key(hash, engine_key))?.map(|raw| raw.to_vec()))
    }

    /// Keeps a compiled artifact so that a restart does not recompile. Not flushed on its own:
    /// losing it in a crash costs one recompilation, never correctness.
    pub fn put_artifact(
        &self,
        hash: &ContentHash,
        engine_key: &str,
        artifact: &[u8],
    ) -> Result<(), StorageError> {
        if self.local_db().is_none() {
            return Ok(());
        }
        self.tree(TreeId::Artifacts).insert(artifact_key(hash, engine_key), artifact)?;
        Ok(())
    }
}

/// The announcement of a change to a plugin's record (installed, quarantined, removed).
pub(crate) fn plugin_change(hash: &ContentHash) -> String {
    format!("{PLUGIN_CHANGE}{hash}")
}

/// How [`plugin_change`] announcements start.
pub(crate) const PLUGIN_CHANGE: &str = "plugin ";

/// The announcement of a change to the saved segments (what they read).
pub(crate) const SEGMENTS_CHANGE: &str = "segments";

fn artifact_key(hash: &ContentHash, engine_key: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + engine_key.len());
    key.extend_from_slice(hash.as_bytes());
    key.extend_from_slice(engine_key.as_bytes());
    key
}
