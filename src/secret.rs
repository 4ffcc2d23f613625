//! Encryption of secret values at rest: in state files and in saved plans.
//!
//! A secret's content is sealed with XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`): a random 24-byte nonce per value, stored as base64 of
//! `nonce || ciphertext+tag`. Authentication means a changed byte, or the wrong
//! key, is an error, never a wrong value.
//!
//! The key is 32 bytes from `INFRA_STATE_KEY` (64 hex digits, or base64), or
//! derived from `INFRA_STATE_PASSPHRASE` with Argon2id and a random salt. A file
//! holding secrets carries a [`Header`]: which variable its key comes from, the
//! salt and cost of the derivation, and a check value (a known text sealed with
//! the key) so that a wrong key is told apart from a damaged file.
//!
//! The same key also authenticates whole documents (state files, journal
//! lines, saved plans): a MAC, HMAC-SHA256 under a key derived from the state
//! key with HKDF-SHA256 (info `infra document mac v1`), so the cipher's key
//! and the MAC's key are never the same bytes. [`mac_input`] says what a
//! document's MAC covers; [`Mac`] is how a document carries it.
//!
//! Nothing here reads or writes files; [`KeySource::from_env`] is the only
//! read of the environment.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::Mac as _;
use serde::{Deserialize, Serialize};

use crate::model::Value;

/// The variable holding a 32-byte key.
pub const KEY_VAR: &str = "INFRA_STATE_KEY";
/// The variable holding a passphrase the key is derived from.
pub const PASSPHRASE_VAR: &str = "INFRA_STATE_PASSPHRASE";

const CIPHER: &str = "xchacha20poly1305";
const KDF: &str = "argon2id";
/// What the header's check value seals.
const CHECK: &[u8] = b"infra state key check";
const NONCE_LEN: usize = 24;
const SALT_LEN: usize = 16;
/// The HKDF `info` the MAC key is derived with: never the cipher's key.
const MAC_INFO: &[u8] = b"infra document mac v1";
/// The member of a document that holds its MAC, and that the MAC leaves out.
pub const MAC_FIELD: &str = "mac";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Why secrets cannot be sealed or opened. No message holds a secret or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secrets are stored only encrypted, and neither {KEY_VAR} nor {PASSPHRASE_VAR} is set: \
         set {KEY_VAR} to 32 random bytes (64 hex digits or base64, e.g. from `openssl rand -hex 32`), \
         or {PASSPHRASE_VAR} to a passphrase"
    )]
    NoKey,
    #[error("{KEY_VAR} is not a key: {0}")]
    BadKey(String),
    #[error("{PASSPHRASE_VAR} is empty")]
    EmptyPassphrase,
    #[error("its secrets are encrypted with a key from {0}, which is not set")]
    Missing(&'static str),
    #[error("{0} is not the key its secrets were encrypted with")]
    WrongKey(&'static str),
    #[error("the encrypted secret at {0} cannot be decrypted: the file was altered or damaged")]
    Damaged(String),
    #[error("unsupported secret encryption: {0}")]
    Unsupported(String),
}

/// Key material from the environment, before it is bound to a salt. Its `Debug`
/// shows which variables are set, never their values.
#[derive(Clone, Default)]
pub struct KeySource {
    key: Option<[u8; 32]>,
    passphrase: Option<String>,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySource")
            .field("key", &self.key.map(|_| "[set]"))
            .field("passphrase", &self.passphrase.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl KeySource {
    /// `INFRA_STATE_KEY` and `INFRA_STATE_PASSPHRASE`, as far as they are set.
    pub fn from_env() -> Result<KeySource, SecretError> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        KeySource::from_values(var(KEY_VAR).as_deref(), var(PASSPHRASE_VAR).as_deref())
    }

    /// A source from the two variables' values (`None`: not set).
    pub fn from_values(key: Option<&str>, passphrase: Option<&str>) -> Result<KeySource, SecretError> {
        let key = key.map(parse_key).transpose()?;
        if passphrase.is_some_and(str::is_empty) {
            return Err(SecretError::EmptyPassphrase);
        }
        Ok(KeySource { key, passphrase: passphrase.map(str::to_string) })
    }

    /// A source with a 32-byte key.
    pub fn key(key: [u8; 32]) -> KeySource {
        KeySource { key: Some(key), passphrase: None }
    }

    /// A source with a passphrase.
    pub fn passphrase(passphrase: &str) -> KeySource {
        KeySource { key: None, passphrase: Some(passphrase.to_string()) }
    }

    /// Whether a new file's secrets could be sealed.
    pub fn is_set(&self) -> bool {
        self.key.is_some() || self.passphrase.is_some()
    }
}

/// 64 hex digits, or base64 of 32 bytes.
fn parse_key(text: &str) -> Result<[u8; 32], SecretError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex digits")).collect()
    } else {
        B64.decode(text).map_err(|_| {
            SecretError::BadKey("expected 64 hex digits or base64 (e.g. from `openssl rand -hex 32`)".into())
        })?
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| SecretError::BadKey(format!("it is {} bytes long; a key is 32 bytes", bytes.len())))
}

/// How a file's secrets were sealed: enough, with the right variable set, to
/// find the key again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always `xchacha20poly1305`.
    pub cipher: String,
    /// The variable the key comes from: `INFRA_STATE_KEY` or `INFRA_STATE_PASSPHRASE`.
    pub key: String,
    /// The derivation from a passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<Kdf>,
    /// A known text sealed with the key: opening it proves the key right.
    pub check: String,
}

/// Argon2id parameters and salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kdf {
    pub algorithm: String,
    /// Base64.
    pub salt: String,
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

/// A cipher bound to a key, with the header that names that key, and the
/// MAC key derived from it.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    mac_key: [u8; 32],
    header: Header,
}

/// A document's MAC, as the document carries it: the header that finds the
/// key (as [`Sealer::open`] reads it) and the tag, base64.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mac {
    pub key: Header,
    pub tag: String,
}

/// What a document's MAC covers: its JSON with the top-level `mac` member left
/// out, every object's keys sorted, written compactly. Layout (spaces, key
/// order) does not count; every value, key and array element does. `None`
/// when `text` is not JSON.
pub fn mac_input(text: &str) -> Option<Vec<u8>> {
    let mut doc: serde_json::Value = serde_json::from_str(text).ok()?;
    if let Some(object) = doc.as_object_mut() {
        object.remove(MAC_FIELD);
    }
    serde_json::to_vec(&sorted(doc)).ok()
}

/// The value with every object's keys in order.
fn sorted(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Object(o) => {
            let mut members: Vec<(String, J)> = o.into_iter().collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            J::Object(members.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        J::Array(a) => J::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The MAC key of a cipher key: HKDF-SHA256 with its own `info`.
fn mac_key(key: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
    let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, key).expand(MAC_INFO, &mut out);
    out
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("header", &self.header).finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for a new file: the key from `INFRA_STATE_KEY` when set, else
    /// derived from the passphrase with a new random salt.
    pub fn create(source: &KeySource) -> Result<Sealer, SecretError> {
        let (key, var, kdf) = match (&source.key, &source.passphrase) {
            (Some(key), _) => (*key, KEY_VAR, None),
            (None, Some(passphrase)) => {
                let mut salt = [0u8; SALT_LEN];
                getrandom::fill(&mut salt).map_err(|e| SecretError::Unsupported(format!("no randomness: {e}")))?;
                let p = argon2::Params::DEFAULT;
                let kdf = Kdf {
                    algorithm: KDF.into(),
                    salt: B64.encode(salt),
                    m_cost: p.m_cost(),
                    t_cost: p.t_cost(),
                    p_cost: p.p_cost(),
                };
                (derive(passphrase, &kdf)?, PASSPHRASE_VAR, Some(kdf))
            }
            (None, None) => return Err(SecretError::NoKey),
        };
        let cipher = XChaCha20Poly1305::new(&key.into());
        let header = Header { cipher: CIPHER.into(), key: var.into(), kdf, check: String::new() };
        let mut sealer = Sealer { cipher, mac_key: mac_key(&key), header };
        sealer.header.check = sealer.seal(CHECK);
        Ok(sealer)
    }

    /// The sealer a file with `header` was written with, when `source` holds
    /// its key.
    pub fn open(source: &KeySource, header: &Header) -> Result<Sealer, SecretError> {
        if header.cipher != CIPHER {
            return Err(SecretError::Unsupported(format!("cipher `{}`", header.cipher)));
        }
        let (key, var) = match (header.key.as_str(), &header.kdf) {
            (KEY_VAR, None) => (source.key.ok_or(SecretError::Missing(KEY_VAR))?, KEY_VAR),
            (PASSPHRASE_VAR, Some(kdf)) => {
                let passphrase = source.passphrase.as_ref().ok_or(SecretError::Missing(PASSPHRASE_VAR))?;
                (derive(passphrase, kdf)?, PASSPHRASE_VAR)
            }
            (other, _) => return Err(SecretError::Unsupported(format!("key from `{other}`"))),
        };
        let sealer =
            Sealer { cipher: XChaCha20Poly1305::new(&key.into()), mac_key: mac_key(&key), header: header.clone() };
        match sealer.unseal(&header.check) {
            Some(check) if check == CHECK => Ok(sealer),
            _ => Err(SecretError::WrongKey(var)),
        }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The HMAC of `body` ([`mac_input`] of a document) for documents of
    /// `kind` (`state`, `journal`, `plan`: a MAC of one never passes for
    /// another), chained to `prev` (the MAC of the document it extends, or
    /// empty).
    fn hmac(&self, kind: &str, prev: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&self.mac_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        for part in [kind.as_bytes(), b"\0", prev.as_bytes(), b"\0", body] {
            mac.update(part);
        }
        mac
    }

    /// The MAC of a document, as it carries it (see [`Sealer::hmac`]).
    pub fn mac(&self, kind: &str, prev: &str, body: &[u8]) -> Mac {
        let tag = B64.encode(self.hmac(kind, prev, body).finalize().into_bytes());
        Mac { key: self.header.clone(), tag }
    }

    /// Whether `tag` is the MAC of `body` (compared in constant time).
    pub fn verify(&self, kind: &str, prev: &str, body: &[u8], tag: &str) -> bool {
        let Ok(tag) = B64.decode(tag) else { return false };
        self.hmac(kind, prev, body).verify_slice(&tag).is_ok()
    }

    /// Base64 of a new random nonce and the ciphertext (with its tag).
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system provides randomness");
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), plaintext)
            .expect("XChaCha20-Poly1305 encrypts any message of a reasonable size");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        B64.encode(out)
    }

    /// The plaintext of [`Sealer::seal`]'s output; `None` when it is not
    /// authentic (another key, or altered).
    pub fn unseal(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = B64.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).ok()?;
        self.cipher.decrypt(&nonce, ciphertext).ok()
    }

    /// A secret's content, sealed (as its exact serde form, so any value
    /// comes back the same).
    pub fn seal_value(&self, v: &Value) -> String {
        self.seal(serde_json::to_string(v).expect("values serialise").as_bytes())
    }

    /// The content sealed by [`Sealer::seal_value`]; `at` names the place in
    /// errors.
    pub fn unseal_value(&self, sealed: &str, at: &str) -> Result<Value, SecretError> {
        self.unseal(sealed)
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(|| SecretError::Damaged(at.to_string()))
    }
}

fn derive(passphrase: &str, kdf: &Kdf) -> Result<[u8; 32], SecretError> {
    if kdf.algorithm != KDF {
        return Err(SecretError::Unsupported(format!("key derivation `{}`", kdf.algorithm)));
    }
    let bad = |what: String| SecretError::Unsupported(format!("key derivation parameters: {what}"));
    let salt = B64.decode(&kdf.salt).map_err(|e| bad(format!("salt: {e}")))?;
    let params = argon2::Params::new(kdf.m_cost, kdf.t_cost, kdf.p_cost, Some(32)).map_err(|e| bad(e.to_string()))?;
    let mut key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
        .map_err(|e| bad(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::create(&KeySource::key([7; 32])).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_to_the_same_value_and_never_shows_it() {
        let s = sealer();
        let v = Value::from("correct horse battery staple");
        let sealed = s.seal_value(&v);
        assert!(!sealed.contains("horse"));
        assert_ne!(s.seal_value(&v), sealed, "each seal has its own nonce");
        assert_eq!(s.unseal_value(&sealed, "x").unwrap(), v);
    }

    #[test]
    fn a_changed_byte_is_detected_not_decrypted() {
        let s = sealer();
        let sealed = s.seal_value(&Value::from("pw"));
        let mut bytes = B64.decode(&sealed).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let err = s.unseal_value(&B64.encode(&bytes), "resources.a.props.p").unwrap_err();
            assert_eq!(
                err.to_string(),
                "the encrypted secret at resources.a.props.p cannot be decrypted: the file was altered or damaged"
            );
            bytes[i] ^= 1;
        }
        assert!(s.unseal_value("not base64!", "x").is_err());
        assert!(s.unseal_value("", "x").is_err());
    }

    #[test]
    fn the_header_finds_the_same_key_and_refuses_another() {
        let s = sealer();
        let sealed = s.seal_value(&Value::from("pw"));
        let again = Sealer::open(&KeySource::key([7; 32]), s.header()).unwrap();
        assert_eq!(again.unseal_value(&sealed, "x").unwrap(), Value::from("pw"));
        let err = Sealer::open(&KeySource::key([8; 32]), s.header()).unwrap_err();
        assert_eq!(err, SecretError::WrongKey(KEY_VAR));
        let err = Sealer::open(&KeySource::passphrase("p"), s.header()).unwrap_err();
        assert_eq!(err, SecretError::Missing(KEY_VAR));
    }

    #[test]
    fn a_passphrase_key_is_derived_again_from_the_salt_in_the_header() {
        let s = Sealer::create(&KeySource::passphrase("a long passphrase")).unwrap();
        let kdf = s.header().kdf.clone().unwrap();
        assert_eq!((kdf.algorithm.as_str(), B64.decode(&kdf.salt).unwrap().len()), ("argon2id", SALT_LEN));
        let sealed = s.seal(b"x");
        let again = Sealer::open(&KeySource::passphrase("a long passphrase"), s.header()).unwrap();
        assert_eq!(again.unseal(&sealed).unwrap(), b"x");
        let err = Sealer::open(&KeySource::passphrase("another"), s.header()).unwrap_err();
        assert_eq!(err.to_string(), "INFRA_STATE_PASSPHRASE is not the key its secrets were encrypted with");
    }

    #[test]
    fn keys_are_64_hex_digits_or_base64_of_32_bytes() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(parse_key(&hex).unwrap()[31], 0xff);
        assert_eq!(parse_key(&B64.encode([1u8; 32])).unwrap(), [1; 32]);
        let err = parse_key("abc").unwrap_err().to_string();
        assert!(err.starts_with("INFRA_STATE_KEY is not a key"), "{err}");
        let err = parse_key(&B64.encode([1u8; 16])).unwrap_err().to_string();
        assert!(err.contains("16 bytes long; a key is 32 bytes"), "{err}");
        assert!(!format!("{:?}", KeySource::key([9; 32])).contains('9'));
    }

    #[test]
    fn without_a_key_nothing_is_sealed() {
        let err = Sealer::create(&KeySource::default()).unwrap_err().to_string();
        assert!(err.contains("INFRA_STATE_KEY") && err.contains("INFRA_STATE_PASSPHRASE"), "{err}");
    }
}
