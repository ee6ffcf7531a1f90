//! Content blocks (snippets and message templates) and their numbered versions.
//!
//! Two trees: `content` (records, by name) and `content_versions` (name + 0 + version, u32 BE →
//! spec). A save writes the record and its new version in one durable write.

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode};
use crate::content::{Content, ContentSpec};

fn version_key(name: &str, version: u32) -> Vec<u8> {
    let mut key = name.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

impl Storage {
    /// Stores a content block's record and, when given, one version of it, in one durable write.
    pub fn put_content(
        &self,
        content: &Content,
        version: Option<(u32, &ContentSpec)>,
    ) -> Result<(), StorageError> {
        {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            writes.put(TreeId::Content, content.name.as_bytes().to_vec(), encode(content)?);
            if let Some((number, spec)) = version {
                writes.put(TreeId::ContentVersions, version_key(&content.name, number), encode(spec)?);
            }
            writes.commit()?;
        }
        self.backend.durable()
    }

    /// A content block's record.
    pub fn content(&self, name: &str) -> Result<Option<Content>, StorageError> {
        self.tree(TreeId::Content).get(name.as_bytes())?.map(|raw| decode(&raw, "content")).transpose()
    }

    /// Every content block, by name.
    pub fn contents(&self) -> Result<Vec<Content>, StorageError> {
        self.tree(TreeId::Content).iter().map(|entry| decode(&entry?.1, "content")).collect()
    }

    /// One version of a content block.
    pub fn content_version(&self, name: &str, version: u32) -> Result<Option<ContentSpec>, StorageError> {
        self.tree(TreeId::ContentVersions)
            .get(version_key(name, version))?
            .map(|raw| decode(&raw, "content version"))
            .transpose()
    }
}
