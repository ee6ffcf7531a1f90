//! Secrets for channel adapters (API keys, tokens). Set and deleted by name, each scoped to the
//! hosts it may be sent to; their values leave the store only toward delivery, which substitutes
//! them into requests to those hosts. Plugins, logs and API responses never see them.
//!
//! At rest every value is sealed with ChaCha20-Poly1305 under a key kept outside the data
//! directory (see [`super::StorageConfig::secret_key_file`]), bound to the secret's name, so a
//! copied data directory reveals no secret and a sealed value moved under another name does not
//! open.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

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

/// A secret as delivery reads it: the value and the hosts it may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecret {
    /// The value.
    pub value: SecretValue,
    /// Host names the value may be sent to: exact names, or `*.example.com` for any subdomain.
    pub hosts: Vec<String>,
}

impl StoredSecret {
    /// Whether the secret may be sent to `host`.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.hosts.iter().any(|allowed| match allowed.strip_prefix("*.") {
            Some(domain) => host.strip_suffix(domain).is_some_and(|sub| sub.ends_with('.') && sub.len() > 1),
            None => *allowed == host,
        })
    }
}

/// A secret as listed: its name and the hosts it may be sent to, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SecretScope {
    /// The secret's name.
    pub name: String,
    /// The hosts it may be sent to.
    pub hosts: Vec<String>,
}

/// What is sealed: the value and its scope.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Sealed {
    value: String,
    hosts: Vec<String>,
}

/// Marks a sealed record (a record without it predates encryption and scoping).
const SEALED_V1: &[u8] = b"baton-sealed-v1:";

/// Checks a secret's host scope: one or more host names, exact or `*.domain`.
pub fn check_secret_hosts(hosts: &[String]) -> Result<Vec<String>, String> {
    if hosts.is_empty() {
        return Err("name at least one host the secret may be sent to, for example `api.sendgrid.com`".into());
    }
    hosts
        .iter()
        .map(|host| {
            let host = host.trim().to_ascii_lowercase();
            let name = host.strip_prefix("*.").unwrap_or(&host);
            let valid = !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
                || name.parse::<std::net::IpAddr>().is_ok();
            if valid {
                Ok(host)
            } else {
                Err(format!("`{host}` is not a host name; write `api.example.com` or `*.example.com`"))
            }
        })
        .collect()
}

/// The key file beside a data directory: `<dir>.secret-key`.
pub(crate) fn default_key_file(dir: &Path) -> PathBuf {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let name =
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "baton-data".into());
    dir.with_file_name(format!("{name}.secret-key"))
}

/// The key that seals secrets: read from its file (created on first use), or held in memory for
/// a temporary store.
pub(crate) struct Keyring {
    file: Option<PathBuf>,
    key: OnceLock<Result<[u8; 32], String>>,
}

impl Keyring {
    pub(crate) fn at(file: PathBuf) -> Self {
        Keyring { file: Some(file), key: OnceLock::new() }
    }

    pub(crate) fn ephemeral() -> Self {
        Keyring { file: None, key: OnceLock::new() }
    }

    fn key(&self) -> Result<LessSafeKey, StorageError> {
        let bytes = self.key.get_or_init(|| match &self.file {
            Some(file) => load_or_create(file),
            None => random::<32>(),
        });
        let bytes = bytes.as_ref().map_err(|e| StorageError::Database(e.clone()))?;
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, bytes)
            .map_err(|_| StorageError::Database("secret key: wrong length".into()))?;
        Ok(LessSafeKey::new(unbound))
    }

    /// The key file, `None` for a temporary store's key held in memory.
    pub(crate) fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A value that tells keys apart without revealing them: a MAC of a fixed text. Workers
    /// sharing a database compare theirs with the one recorded there.
    pub(crate) fn check(&self) -> Result<[u8; 32], StorageError> {
        self.mac("key check", b"the key that seals this database's secrets")
    }

    /// An HMAC-SHA256 of `data` under a key derived from the sealing key for `label` alone, so
    /// that a link signed for one use is worthless for another, and a copy of the data
    /// directory without the key file cannot forge one.
    fn mac(&self, label: &str, data: &[u8]) -> Result<[u8; 32], StorageError> {
        let bytes = self.key.get_or_init(|| match &self.file {
            Some(file) => load_or_create(file),
            None => random::<32>(),
        });
        let bytes = bytes.as_ref().map_err(|e| StorageError::Database(e.clone()))?;
        let root = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes);
        let derived = ring::hmac::sign(&root, format!("baton link signing v1: {label}").as_bytes());
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref());
        let mut out = [0u8; 32];
        out.copy_from_slice(ring::hmac::sign(&key, data).as_ref());
        Ok(out)
    }

    fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>, StorageError> {
        let nonce_bytes = random::<{ NONCE_LEN }>().map_err(StorageError::Database)?;
        let mut sealed = plain.to_vec();
        self.key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(name.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| StorageError::Database("could not encrypt the secret".into()))?;
        let mut record = SEALED_V1.to_vec();
        record.extend_from_slice(&nonce_bytes);
        record.extend_from_slice(&sealed);
        Ok(record)
    }

    fn open(&self, name: &str, record: &[u8]) -> Result<Vec<u8>, StorageError> {
        let corrupt =
            |reason: &str| StorageError::Corrupt { what: format!("secret `{name}`"), reason: reason.into() };
        let rest = record.strip_prefix(SEALED_V1).ok_or_else(|| corrupt("not sealed"))?;
        if rest.len() < NONCE_LEN {
            return Err(corrupt("truncated"));
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt("bad nonce"))?;
        let mut buffer = sealed.to_vec();
        let plain =
            self.key()?.open_in_place(nonce, Aad::from(name.as_bytes()), &mut buffer).map_err(|_| {
                corrupt(
                    "it does not open with this secret key; is `secret_key_file` the key it was set with?",
                )
            })?;
        Ok(plain.to_vec())
    }
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes)
}

/// Reads the key file (64 hex digits), creating it with owner-only permissions if it is missing.
fn load_or_create(file: &Path) -> Result<[u8; 32], String> {
    let read = |file: &Path| -> Result<[u8; 32], String> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the secret key file {}: {e}", file.display()))?;
        let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32).ok_or_else(|| {
            format!("the secret key file {} must hold 64 hex digits (32 random bytes)", file.display())
        })?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(key)
    };
    if file.exists() {
        return read(file);
    }
    let key = random::<32>()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(mut out) => {
            use std::io::Write;
            out.write_all(hex::encode(key).as_bytes())
                .and_then(|()| out.sync_all())
                .map_err(|e| format!("cannot write the secret key file {}: {e}", file.display()))?;
            tracing::info!(file = %file.display(), "Created the key that encrypts secrets at rest; back it up apart from the data.");
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(file),
        Err(e) => Err(format!("cannot create the secret key file {}: {e}", file.display())),
    }
}

impl Storage {
    /// Sets a secret and the hosts it may be sent to, sealed, durably.
    pub fn put_secret(&self, name: &str, value: &SecretValue, hosts: &[String]) -> Result<(), StorageError> {
        // Callers check the scope first to answer with a clear error; this is the last guard.
        let hosts = check_secret_hosts(hosts)
            .map_err(|reason| StorageError::Database(format!("secret `{name}`: {reason}")))?;
        let plain = serde_json::to_vec(&Sealed { value: value.expose().to_owned(), hosts })
            .map_err(|e| StorageError::Database(e.to_string()))?;
        let record = self.keyring.seal(name, &plain)?;
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::Secrets, name.as_bytes().to_vec(), record);
        writes.commit()?;
        self.backend.durable()
    }

    /// Signs `data` for `label` (an unsubscribe link) with the key beside the data directory.
    pub(crate) fn link_mac(&self, label: &str, data: &[u8]) -> Result<[u8; 32], StorageError> {
        self.keyring.mac(label, data)
    }

    /// Deletes a secret, durably. Returns whether it existed.
    pub fn delete_secret(&self, name: &str) -> Result<bool, StorageError> {
        let existed = self.tree(TreeId::Secrets).remove(name.as_bytes())?.is_some();
        self.backend.durable()?;
        Ok(existed)
    }

    /// The secrets that are set, by name, with the hosts each may be sent to (never their
    /// values). A secret from before scoping lists no hosts: it is sent nowhere until set again.
    pub fn secret_scopes(&self) -> Result<Vec<SecretScope>, StorageError> {
        self.tree(TreeId::Secrets)
            .iter()
            .keys()
            .map(|key| {
                let name = String::from_utf8_lossy(&key?).into_owned();
                let hosts = self.secret(&name)?.map(|s| s.hosts).unwrap_or_default();
                Ok(SecretScope { name, hosts })
            })
            .collect()
    }

    /// A secret's value and scope, for delivery only. A record from before secrets were sealed
    /// and scoped reads with no hosts, so it is sent nowhere until it is set again.
    pub(crate) fn secret(&self, name: &str) -> Result<Option<StoredSecret>, StorageError> {
        let Some(raw) = self.tree(TreeId::Secrets).get(name.as_bytes())? else { return Ok(None) };
        if !raw.starts_with(SEALED_V1) {
            return Ok(Some(StoredSecret {
                value: SecretValue(String::from_utf8_lossy(&raw).into_owned()),
                hosts: Vec::new(),
            }));
        }
        let plain = self.keyring.open(name, &raw)?;
        let sealed: Sealed = serde_json::from_slice(&plain)
            .map_err(|e| StorageError::Corrupt { what: format!("secret `{name}`"), reason: e.to_string() })?;
        Ok(Some(StoredSecret { value: SecretValue(sealed.value), hosts: sealed.hosts }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoped(hosts: &[&str]) -> StoredSecret {
        StoredSecret { value: SecretValue::new("v"), hosts: hosts.iter().map(|h| (*h).to_owned()).collect() }
    }

    #[test]
    fn a_secret_goes_only_to_its_hosts() {
        let secret = scoped(&["api.sendgrid.com", "*.twilio.com"]);
        assert!(secret.allows("api.sendgrid.com"));
        assert!(secret.allows("API.SendGrid.com"));
        assert!(secret.allows("api.twilio.com"));
        assert!(!secret.allows("twilio.com"));
        assert!(!secret.allows("eviltwilio.com"));
        assert!(!secret.allows("api.sendgrid.com.evil.net"));
        assert!(!secret.allows("evil.net"));
        assert!(!scoped(&[]).allows("api.sendgrid.com"));
    }

    #[test]
    fn host_scopes_are_checked() {
        assert!(check_secret_hosts(&[]).is_err());
        assert!(check_secret_hosts(&["https://api.x.com".into()]).is_err());
        assert!(check_secret_hosts(&["a b".into()]).is_err());
        assert_eq!(check_secret_hosts(&["API.x.com".into()]).unwrap(), vec!["api.x.com".to_owned()]);
        assert!(check_secret_hosts(&["127.0.0.1".into(), "*.x.com".into()]).is_ok());
    }

    #[test]
    fn sealed_secrets_open_only_under_their_name_and_key() {
        let storage = Storage::temporary().unwrap();
        storage.put_secret("A", &SecretValue::new("sk-123"), &["api.x.com".into()]).unwrap();
        let found = storage.secret("A").unwrap().unwrap();
        assert_eq!((found.value.expose(), found.hosts), ("sk-123", vec!["api.x.com".to_owned()]));
        let raw = storage.tree(TreeId::Secrets).get(b"A").unwrap().unwrap();
        assert!(!raw.windows(6).any(|w| w == b"sk-123"), "no plain text at rest");
        storage.tree(TreeId::Secrets).insert(b"B", raw).unwrap();
        assert!(storage.secret("B").is_err(), "a sealed value moved under another name does not open");
    }
}
