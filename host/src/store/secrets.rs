//! Secrets for channel adapters (API keys, tokens). Set and deleted by name; their values leave
//! the store only toward delivery, which substitutes them into outgoing requests. Plugins, logs
//! and API responses never see them.

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId};

/// A secret's value. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretValue(value.into())
    }

    /// The value, for substitution into a request at the moment it is sent.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

impl std::fmt::Display for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Storage {
    /// Sets a secret, durably.
    pub fn put_secret(&self, name: &str, value: &SecretValue) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::Secrets, name.as_bytes().to_vec(), value.expose().as_bytes().to_vec());
        writes.commit()?;
        self.commit.wait_durable()
    }

    /// Deletes a secret, durably. Returns whether it existed.
    pub fn delete_secret(&self, name: &str) -> Result<bool, StorageError> {
        let existed = self.tree(TreeId::Secrets).remove(name.as_bytes())?.is_some();
        self.commit.wait_durable()?;
        Ok(existed)
    }

    /// The names of the secrets that are set (never their values).
    pub fn secret_names(&self) -> Result<Vec<String>, StorageError> {
        self.tree(TreeId::Secrets)
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    /// A secret's value, for delivery only.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<SecretValue>, StorageError> {
        Ok(self
            .tree(TreeId::Secrets)
            .get(name.as_bytes())?
            .map(|raw| SecretValue(String::from_utf8_lossy(&raw).into_owned())))
    }
}
