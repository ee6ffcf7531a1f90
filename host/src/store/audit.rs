//! The audit log: who did what to which thing, in time order.

use serde::{Deserialize, Serialize};

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode, keys};

/// One audited admin action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// When, ms since the epoch.
    pub at: i64,
    /// Who: a token's name, `cli`, or `system` for automatic actions (quarantine, retention).
    pub actor: String,
    /// What, snake_case: `profile_erased`, `profile_exported`, `events_purged`, ...
    pub action: String,
    /// On what: a profile id, a plugin hash, a campaign id.
    pub target: String,
    /// Details that help a reader, as JSON.
    pub detail: serde_json::Value,
}

impl Storage {
    /// The newest `limit` audit records, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        self.tree(TreeId::Audit)
            .iter()
            .rev()
            .take(limit)
            .map(|entry| decode(&entry?.1, "audit record"))
            .collect()
    }

    /// Records an action durably on its own.
    pub fn audit(&self, record: &AuditRecord) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        self.plan_audit(&mut writes, record)?;
        writes.commit()?;
        self.backend.durable()
    }

    /// Adds an audit record to a write set, so it commits with the action it records.
    pub(crate) fn plan_audit(
        &self,
        writes: &mut WriteSet<'_>,
        record: &AuditRecord,
    ) -> Result<(), StorageError> {
        let mut key = keys::time(record.at).to_vec();
        key.extend_from_slice(&self.backend.next_id()?.to_be_bytes());
        writes.put(TreeId::Audit, key, encode(record)?);
        Ok(())
    }
}
