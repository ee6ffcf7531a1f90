//! API tokens: random, shown once, stored as their sha256 only, each with a role.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode};

/// What a token may do: each role's routes are listed in the API's route table, and in the
/// role table of RELIABILITY.md. Admin may do everything; the others only their part.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: secrets, tokens, the audit log, erasure and export, and all the rest.
    Admin,
    /// Campaigns, bindings, runs, replays and consent updates; reads campaign results,
    /// including the personal data in them.
    Orchestrator,
    /// Reads everything but secrets and tokens, personal data included (profiles, audience
    /// members, deliveries); changes nothing.
    Analyst,
    /// Installs, removes and re-enables plugins; reads plugins and campaigns, never personal
    /// data, campaigns' settings or secrets.
    Developer,
    /// Reads campaigns, plugins, KPIs and metrics; no personal data.
    Viewer,
    /// The write key of a source (it ships inside web and mobile apps): ingest only.
    Connector,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 6] =
        [Role::Admin, Role::Orchestrator, Role::Analyst, Role::Developer, Role::Viewer, Role::Connector];

    /// The role's name as the API and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Orchestrator => "orchestrator",
            Role::Analyst => "analyst",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
            Role::Connector => "connector",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.name() == text).ok_or_else(|| {
            format!(
                "role `{text}`: use {}",
                Role::ALL.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
            )
        })
    }
}

/// A token as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRecord {
    /// A short id to name the token in listings and revocation (the hash's first 12 hex digits).
    pub id: String,
    /// A name for people, for example `ci-ingest`.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created, ms since the epoch.
    pub created_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

impl Storage {
    /// Creates a token. Returns the token (to show once) and its record.
    pub fn create_token(
        &self,
        name: &str,
        role: Role,
        now: i64,
    ) -> Result<(String, TokenRecord), StorageError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| StorageError::Database(format!("no randomness: {e}")))?;
        let token = format!("bt_{}", hex::encode(random));
        let digest = digest(&token);
        let record = TokenRecord {
            id: hex::encode(&digest[..6]),
            name: name.to_owned(),
            role,
            created_at: now,
            revoked_at: None,
        };
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::Tokens, digest.to_vec(), encode(&record)?);
        writes.commit()?;
        self.backend.durable()?;
        Ok((token, record))
    }

    /// The live (not revoked) record of a presented token.
    pub fn verify_token(&self, token: &str) -> Result<Option<TokenRecord>, StorageError> {
        let Some(raw) = self.tree(TreeId::Tokens).get(digest(token))? else { return Ok(None) };
        let record: TokenRecord = decode(&raw, "token")?;
        Ok(record.revoked_at.is_none().then_some(record))
    }

    /// Every token record, live and revoked.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StorageError> {
        let mut records: Vec<TokenRecord> =
            self.tree(TreeId::Tokens).iter().map(|e| decode(&e?.1, "token")).collect::<Result<_, _>>()?;
        records.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(records)
    }

    /// Revokes the token with this id, durably. Returns whether a live token was revoked.
    pub fn revoke_token(&self, id: &str, now: i64) -> Result<bool, StorageError> {
        for entry in self.tree(TreeId::Tokens).iter() {
            let (key, raw) = entry?;
            let mut record: TokenRecord = decode(&raw, "token")?;
            if record.id == id && record.revoked_at.is_none() {
                record.revoked_at = Some(now);
                let mut writes = WriteSet::new(self);
                writes.put(TreeId::Tokens, key.to_vec(), encode(&record)?);
                writes.commit()?;
                self.backend.durable()?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
