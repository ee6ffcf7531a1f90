//! Vendor feedback endpoints: where a vendor posts its webhooks, which adapter reads them, and how
//! their signature is checked.

use serde::{Deserialize, Serialize};

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode};
use crate::contract::Verification;
use crate::plugin::ContentHash;

/// One vendor account's webhook endpoint, `POST /v1/feedback/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackEndpoint {
    /// The endpoint's name, the last segment of its URL.
    pub name: String,
    /// The channel adapter that reads the vendor's reports.
    pub plugin: ContentHash,
    /// The adapter's config for this endpoint (the account's public key, the signing secret's name).
    pub config: serde_json::Value,
    /// Secrets the signature check may use (an HMAC key), granted by the admin.
    pub secrets: Vec<String>,
    /// How requests are authenticated: the adapter's answer to `verification(config)`, asked once
    /// when the endpoint is made, so no plugin runs before a request's signature is checked.
    pub verification: Verification,
    /// When it was made, ms since the epoch.
    pub created_at: i64,
}

impl Storage {
    /// Creates or replaces a feedback endpoint, durably.
    pub fn put_feedback_endpoint(&self, endpoint: &FeedbackEndpoint) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::FeedbackEndpoints, endpoint.name.as_bytes().to_vec(), encode(endpoint)?);
        writes.commit()?;
        self.backend.durable()
    }

    /// The feedback endpoint with this name.
    pub fn feedback_endpoint(&self, name: &str) -> Result<Option<FeedbackEndpoint>, StorageError> {
        self.tree(TreeId::FeedbackEndpoints)
            .get(name.as_bytes())?
            .map(|raw| decode(&raw, "feedback endpoint"))
            .transpose()
    }

    /// Every feedback endpoint, by name.
    pub fn feedback_endpoints(&self) -> Result<Vec<FeedbackEndpoint>, StorageError> {
        self.tree(TreeId::FeedbackEndpoints)
            .iter()
            .map(|entry| decode(&entry?.1, "feedback endpoint"))
            .collect()
    }

    /// Removes a feedback endpoint, durably. Returns whether there was one.
    pub fn remove_feedback_endpoint(&self, name: &str) -> Result<bool, StorageError> {
        let existed = self.tree(TreeId::FeedbackEndpoints).remove(name.as_bytes())?.is_some();
        self.backend.durable()?;
        Ok(existed)
    }
}
