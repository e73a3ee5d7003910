//! Secrets at rest: what the platform keeps in its database that would let someone act as it
//! (the keys access tokens are signed with, and later provider credentials) is sealed with a
//! key-encryption key the database never holds. [`KeyEncryptionKey`] is the seam a KMS-backed
//! provider plugs into; [`LocalKey`] is the built-in one, from the configuration:
//! `master_key` (base64 of 32 random bytes), `master_key_file` (a file holding that), or, with the
//! embedded SQLite default only, `<data_dir>/master.key`, generated at first start with mode 0600.
//! With PostgreSQL one of the first two is required, since every replica must open the same
//! secrets.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use spot_config::{Config, ConfigError};

/// The prefix of a sealed secret (then base64 of nonce and ciphertext with its tag).
const SEALED_PREFIX: &str = "sealed:v1:";
/// The file the embedded default keeps its generated key in, inside the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the secret is not sealed")]
    NotSealed,
    #[error("the secret cannot be opened with this master key (a different key, or damaged data)")]
    CannotOpen,
}

/// Seals and opens secrets; a KMS-backed provider implements the same two calls.
pub trait KeyEncryptionKey: Send + Sync {
    fn seal(&self, plaintext: &[u8]) -> String;
    fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError>;
}

pub type SharedKey = Arc<dyn KeyEncryptionKey>;

/// True when `text` is a sealed secret (older rows may hold the plain value, to be sealed).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// AES-256-GCM under a key the configuration gives, a random nonce per secret.
pub struct LocalKey {
    key: LessSafeKey,
    random: SystemRandom,
}

impl LocalKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes).unwrap_or_else(|_| unreachable!("32 bytes"));
        Self {
            key: LessSafeKey::new(unbound),
            random: SystemRandom::new(),
        }
    }
}

impl KeyEncryptionKey for LocalKey {
    fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .unwrap_or_else(|_| unreachable!("the system's random source answers"));
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .unwrap_or_else(|_| unreachable!("a secret fits AES-GCM's limits"));
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(out))
    }

    fn open(&self, sealed: &str) -> Result<Vec<u8>, SealError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::NotSealed)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SealError::CannotOpen)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::CannotOpen);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::CannotOpen)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut buffer)
            .map_err(|_| SealError::CannotOpen)?;
        Ok(plain.to_vec())
    }
}

fn parse_key(setting: &str, text: &str) -> Result<[u8; 32], ConfigError> {
    STANDARD
        .decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            ConfigError::new(
                setting,
                "must be 32 random bytes in base64, e.g. `openssl rand -base64 32`",
            )
        })
}

/// The master key the configuration names (see the module header).
pub fn master_key(config: &Config) -> Result<SharedKey, ConfigError> {
    if let Some(key) = &config.master_key {
        return Ok(Arc::new(LocalKey::from_bytes(&parse_key(
            "master_key",
            key,
        )?)));
    }
    if let Some(file) = &config.master_key_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            ConfigError::new(
                "master_key_file",
                format!("`{}` cannot be read: {e}", file.display()),
            )
        })?;
        return Ok(Arc::new(LocalKey::from_bytes(&parse_key(
            "master_key_file",
            &text,
        )?)));
    }
    if config.is_postgres() {
        return Err(ConfigError::new(
            "master_key",
            "required with PostgreSQL (every replica must open the same secrets): set SPOT_MASTER_KEY or SPOT_MASTER_KEY_FILE (`openssl rand -base64 32`)",
        ));
    }
    let path = config.data_dir.join(MASTER_KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => generate(&path)?,
        Err(error) => {
            return Err(ConfigError::new(
                "master_key_file",
                format!("`{}` cannot be read: {error}", path.display()),
            ));
        }
    };
    Ok(Arc::new(LocalKey::from_bytes(&parse_key(
        "master_key_file",
        &text,
    )?)))
}

/// Writes a new random key, readable by its owner only.
fn generate(path: &Path) -> Result<String, ConfigError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ConfigError::new("master_key", "no random source"))?;
    let text = format!("{}\n", STANDARD.encode(bytes));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let fail = |e: std::io::Error| {
        ConfigError::new(
            "master_key_file",
            format!("`{}` cannot be written: {e}", path.display()),
        )
    };
    let mut file = options.open(path).map_err(fail)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(fail)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_never_shows_in_the_clear() {
        let key = LocalKey::from_bytes(&[7; 32]);
        let sealed = key.seal(b"the signing key");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("the signing key"));
        assert_ne!(
            sealed,
            key.seal(b"the signing key"),
            "a fresh nonce each time"
        );
        assert_eq!(key.open(&sealed).unwrap(), b"the signing key");
        let other = LocalKey::from_bytes(&[8; 32]);
        assert_eq!(other.open(&sealed), Err(SealError::CannotOpen));
        assert_eq!(key.open("plain"), Err(SealError::NotSealed));
    }
}
