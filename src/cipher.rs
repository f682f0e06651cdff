//! Tenants' secrets at rest: AES-256-GCM under the server's encryption key
//! (`ORDERHOOK_ENCRYPTION_KEY`, 32 bytes in base64). Each sealed secret is
//! bound to its tenant (the tenant is the associated data), so a ciphertext
//! copied onto another tenant's row does not open. Without a configured key
//! one is generated into `<data_dir>/encryption.key` (0600) on first start.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};

/// Marks the format of a sealed value, so a later scheme can sit beside it.
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const KEY_FILE: &str = "encryption.key";

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("the encryption key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("a stored secret could not be decrypted: wrong key, or the value was altered")]
    Undecryptable,
    #[error("reading or writing the key file: {0}")]
    KeyFile(#[from] std::io::Error),
}

pub struct SecretCipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCipher(..)")
    }
}

impl SecretCipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            aead: Aes256Gcm::new(key.into()),
        }
    }

    pub fn from_base64(encoded: &str) -> Result<Self, CipherError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| CipherError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CipherError::BadKey)?;
        Ok(Self::from_key(&key))
    }

    /// The configured key, or the one kept in `data_dir` (created on first use).
    pub fn load(configured: Option<&SecretString>, data_dir: &Path) -> Result<Self, CipherError> {
        if let Some(key) = configured {
            return Self::from_base64(key.expose_secret());
        }
        let path = data_dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(encoded) => Self::from_base64(&encoded),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                std::fs::create_dir_all(data_dir)?;
                write_private(&path, STANDARD.encode(key).as_bytes())?;
                tracing::warn!(path = %path.display(), "generated an encryption key for stored secrets; keep it with the data");
                Ok(Self::from_key(&key))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Encrypts `secret` for the row identified by `context`.
    pub fn seal(&self, secret: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encrypts any message of this size");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Decrypts a value made by `seal` with the same key and context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, CipherError> {
        let encoded = sealed
            .strip_prefix(PREFIX)
            .ok_or(CipherError::Undecryptable)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| CipherError::Undecryptable)?;
        if bytes.len() < NONCE_LEN {
            return Err(CipherError::Undecryptable);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CipherError::Undecryptable)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CipherError::Undecryptable)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// The associated data that binds a tenant's secret to its row.
pub fn tenant_context(client_id: &str, provider: &str) -> String {
    format!("webhooks/{provider}/{client_id}")
}

/// A value sealed at first start and opened at every start after, so a wrong
/// key stops start-up instead of failing every request later.
const KEY_CHECK: &str = "orderhook key check";
/// The `orderhook_meta` key the check is kept under.
pub const KEY_CHECK_NAME: &str = "key_check";

impl SecretCipher {
    /// Checks this key against the stored key check. Returns the value to
    /// store when there is none yet (a new database).
    pub fn check_key(&self, stored: Option<&str>) -> Result<Option<String>, CipherError> {
        match stored {
            Some(sealed) => {
                let opened = self.open(sealed, KEY_CHECK_NAME)?;
                if opened.expose_secret() == KEY_CHECK {
                    Ok(None)
                } else {
                    Err(CipherError::Undecryptable)
                }
            }
            None => Ok(Some(self.seal(KEY_CHECK, KEY_CHECK_NAME))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_context() {
        let cipher = SecretCipher::from_key(&[7; 32]);
        let sealed = cipher.seal("s3cret", "webhooks/careem/c1");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            cipher.seal("s3cret", "webhooks/careem/c1"),
            "fresh nonce each time"
        );
        assert_eq!(
            cipher
                .open(&sealed, "webhooks/careem/c1")
                .unwrap()
                .expose_secret(),
            "s3cret"
        );
        assert!(
            cipher.open(&sealed, "webhooks/careem/c2").is_err(),
            "bound to its tenant"
        );
        assert!(
            SecretCipher::from_key(&[8; 32])
                .open(&sealed, "webhooks/careem/c1")
                .is_err()
        );
        assert!(
            cipher.open("s3cret", "webhooks/careem/c1").is_err(),
            "plain text is refused"
        );
    }

    #[test]
    fn keys_are_32_bytes_of_base64() {
        assert!(SecretCipher::from_base64(&STANDARD.encode([1u8; 32])).is_ok());
        assert!(SecretCipher::from_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(SecretCipher::from_base64("not base64!").is_err());
    }

    #[test]
    fn a_generated_key_file_is_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("orderhook-key-{}", uuid::Uuid::now_v7()));
        let first = SecretCipher::load(None, &dir).unwrap();
        let sealed = first.seal("x", "ctx");
        let again = SecretCipher::load(None, &dir).unwrap();
        assert_eq!(again.open(&sealed, "ctx").unwrap().expose_secret(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_key_check_accepts_its_own_key_only() {
        let cipher = SecretCipher::from_key(&[1; 32]);
        let stored = cipher.check_key(None).unwrap().unwrap();
        assert!(cipher.check_key(Some(&stored)).unwrap().is_none());
        assert!(
            SecretCipher::from_key(&[2; 32])
                .check_key(Some(&stored))
                .is_err()
        );
    }
}
