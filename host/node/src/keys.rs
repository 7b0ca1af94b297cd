//! Keys: where the sequencer key (signs every sealed block hash) and the L1 batcher key come
//! from, and `ordo keys new | import | list`.
//!
//! ```text
//! KeySource ──▶ keystore (Web3 Secret Storage, scrypt; password from a file or an env var)
//!           ──▶ or a raw hex key file (refused unless mode 0600)
//!           ──▶ or an env var (dev only, warned about)
//!           ──▶ or nothing: the caller decides (the sequencer key is then generated once
//!               into <datadir>/sequencer.key, mode 0600)
//! ```
//!
//! Secrets only pass through [`Zeroizing`] buffers and end in a [`PrivateKeySigner`], whose
//! k256 key is zeroized on drop. No key is ever logged or returned by an RPC: logs carry
//! addresses only.

use std::path::{Path, PathBuf};

use alloy_primitives::{B256, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use eyre::{WrapErr, bail, eyre};
use zeroize::Zeroizing;

pub use crate::secret_file::read_secret_file;
use crate::secret_file::{open_to_others, write_private};

/// Environment variables that carry secrets (keystore passwords, dev keys). The node takes
/// them out of its environment at start ([`take_secret_env`]), so they are not left in
/// `/proc/<pid>/environ` or inherited by anything it starts.
pub const SECRET_ENV: [&str; 5] = [
    "ORDO_SEQUENCER_KEYSTORE_PASSWORD",
    "ORDO_L1_KEYSTORE_PASSWORD",
    "ORDO_KEYSTORE_PASSWORD",
    "ORDO_SEQUENCER_KEY",
    "ORDO_L1_KEY",
];

static SECRETS: std::sync::OnceLock<std::collections::HashMap<&'static str, Zeroizing<String>>> =
    std::sync::OnceLock::new();

/// Moves the [`SECRET_ENV`] variables from the environment into the process's memory.
/// Call it first thing in `main`, before any thread starts.
///
/// Removing a variable only unlinks it: `/proc/<pid>/environ` shows the block the kernel
/// copied in at exec, so each value is first overwritten there, in place.
#[allow(unsafe_code)]
pub fn take_secret_env() {
    let mut taken = std::collections::HashMap::new();
    for name in SECRET_ENV {
        let Some(value) = std::env::var_os(name) else {
            continue;
        };
        taken.insert(name, Zeroizing::new(value.to_string_lossy().into_owned()));
        let Ok(cname) = std::ffi::CString::new(name) else {
            continue;
        };
        // SAFETY: called from `main` before the runtime or any other thread exists, so
        // nothing reads or changes the environment concurrently. `getenv` returns the value
        // inside the environment block, a NUL-terminated string that is ours to write (it
        // is not read-only memory); `strlen` bytes from it are that value, and they are only
        // overwritten with zeros, never extended.
        unsafe {
            let value = libc::getenv(cname.as_ptr());
            if !value.is_null() {
                std::ptr::write_bytes(value, 0, libc::strlen(value));
            }
            std::env::remove_var(name);
        }
    }
    let _ = SECRETS.set(taken);
}

/// A secret from the environment: what [`take_secret_env`] took, or (in processes that
/// did not call it, such as tests) the variable itself.
pub fn secret_env(name: &str) -> Option<Zeroizing<String>> {
    if let Some(secrets) = SECRETS.get() {
        return secrets.get(name).cloned();
    }
    std::env::var(name).ok().map(Zeroizing::new)
}

/// Where one key comes from; the first set of keystore, key file, env var wins.
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    /// Encrypted JSON keystore file.
    pub keystore: Option<PathBuf>,
    /// File holding the keystore password.
    pub password_file: Option<PathBuf>,
    /// Env var holding the keystore password (when no password file is given).
    pub password_env: &'static str,
    /// Raw hex secret in a file (mode 0600).
    pub key_file: Option<PathBuf>,
    /// Env var holding a raw hex secret (dev only).
    pub key_env: &'static str,
}

impl KeySource {
    /// The key, or None when no source is configured. `what` names the key in messages.
    pub fn load(&self, what: &str) -> eyre::Result<Option<PrivateKeySigner>> {
        if let Some(path) = &self.keystore {
            let password = self.password(what)?;
            let signer = PrivateKeySigner::decrypt_keystore(path, password.as_bytes())
                .map_err(|e| eyre!("{what} keystore {}: {e}", path.display()))?;
            return Ok(Some(signer));
        }
        if let Some(path) = &self.key_file {
            return read_key_file(path, what).map(Some);
        }
        if !self.key_env.is_empty()
            && let Some(text) = secret_env(self.key_env)
        {
            tracing::warn!(target: "ordo::keys", var = self.key_env, "{what} key from the environment: fine for dev, use a keystore or a key file otherwise");
            return parse_secret(&text, what).map(Some);
        }
        Ok(None)
    }

    fn password(&self, what: &str) -> eyre::Result<Zeroizing<String>> {
        if let Some(path) = &self.password_file {
            return read_secret_file(path, &format!("{what} keystore password"));
        }
        match secret_env(self.password_env) {
            Some(p) => Ok(p),
            None => bail!(
                "the {what} keystore needs a password: a password file or {}",
                self.password_env
            ),
        }
    }
}

fn parse_secret(text: &str, what: &str) -> eyre::Result<PrivateKeySigner> {
    text.trim()
        .parse()
        .map_err(|_| eyre!("the {what} key is not a 32-byte hex secret"))
}

/// A raw hex key from `path`, refused unless only its owner can read it.
pub fn read_key_file(path: &Path, what: &str) -> eyre::Result<PrivateKeySigner> {
    let meta = std::fs::metadata(path)
        .wrap_err_with(|| format!("reading the {what} key file {}", path.display()))?;
    if let Some(mode) = open_to_others(&meta) {
        bail!(
            "the {what} key file {} is readable by others (mode {mode:o}); chmod 600 it",
            path.display()
        );
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .wrap_err_with(|| format!("reading the {what} key file {}", path.display()))?,
    );
    parse_secret(&text, what)
}

/// Writes a fresh random key to `path` (mode 0600) unless one is there; returns it.
pub fn load_or_create_key_file(path: &Path, what: &str) -> eyre::Result<PrivateKeySigner> {
    if path.exists() {
        return read_key_file(path, what);
    }
    let signer = PrivateKeySigner::random();
    let hex = Zeroizing::new(alloy_primitives::hex::encode(signer.to_bytes()));
    write_private(path, hex.as_bytes())?;
    tracing::info!(target: "ordo::keys", path = %path.display(), address = %signer.address(), "generated the {what} key");
    Ok(signer)
}

/// The block signature rules live in `ordo-primitives` (derivation checks them too).
pub use ordo_primitives::{block_signer, block_signing_hash};

/// Signs sealed blocks with the sequencer key.
pub struct BlockSigner {
    signer: PrivateKeySigner,
    chain_id: u64,
}

impl BlockSigner {
    pub fn new(signer: PrivateKeySigner, chain_id: u64) -> Self {
        Self { signer, chain_id }
    }

    pub fn address(&self) -> alloy_primitives::Address {
        self.signer.address()
    }
}

impl ordo_builder::BlockSigner for BlockSigner {
    fn sign_block(&self, hash: B256) -> Bytes {
        match self
            .signer
            .sign_hash_sync(&block_signing_hash(self.chain_id, hash))
        {
            Ok(sig) => Bytes::from(sig.as_bytes().to_vec()),
            Err(e) => {
                // A local k256 key does not fail to sign; an empty signature is visible.
                tracing::error!(target: "ordo::keys", %e, "signing a block failed");
                Bytes::new()
            }
        }
    }
}

/// `ordo keys new`: a fresh key in an encrypted keystore in `dir`; returns (address, file).
pub fn new_keystore(
    dir: &Path,
    password: &str,
) -> eyre::Result<(alloy_primitives::Address, PathBuf)> {
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let mut rng = rand08::thread_rng();
    let (signer, name) = PrivateKeySigner::new_keystore(dir, &mut rng, password, None)
        .map_err(|e| eyre!("creating a keystore in {}: {e}", dir.display()))?;
    Ok((signer.address(), dir.join(name)))
}

/// `ordo keys import`: the raw key in `key_file` into an encrypted keystore in `dir`.
pub fn import_keystore(
    key_file: &Path,
    dir: &Path,
    password: &str,
) -> eyre::Result<(alloy_primitives::Address, PathBuf)> {
    let key = read_key_file(key_file, "imported")?;
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
    let mut rng = rand08::thread_rng();
    let secret = Zeroizing::new(key.to_bytes().0);
    let (signer, name) =
        PrivateKeySigner::encrypt_keystore(dir, &mut rng, secret.as_slice(), password, None)
            .map_err(|e| eyre!("writing a keystore in {}: {e}", dir.display()))?;
    Ok((signer.address(), dir.join(name)))
}

/// `ordo keys list`: the keystores in `dir` with the address each one records.
pub fn list_keystores(dir: &Path) -> eyre::Result<Vec<(PathBuf, Option<String>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).wrap_err_with(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if !path.is_file() {
            continue;
        }
        let Ok(json) = std::fs::read_to_string(&path)
            .map_err(|_| ())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|_| ()))
        else {
            continue;
        };
        if json.get("crypto").or_else(|| json.get("Crypto")).is_none() {
            continue;
        }
        let address = json["address"]
            .as_str()
            .map(|a| format!("0x{}", a.trim_start_matches("0x")));
        out.push((path, address));
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystore_round_trip_and_wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let (address, file) = new_keystore(dir.path(), "correct horse").unwrap();
        let source = KeySource {
            keystore: Some(file.clone()),
            password_file: Some(dir.path().join("pw")),
            ..Default::default()
        };
        std::fs::write(dir.path().join("pw"), "correct horse\n").unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let pw = dir.path().join("pw");
            std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = source.load("test").unwrap_err().to_string();
            assert!(err.contains("readable by others"), "{err}");
            std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(source.load("test").unwrap().unwrap().address(), address);
        std::fs::write(dir.path().join("pw"), "wrong").unwrap();
        assert!(source.load("test").is_err());
        let listed = list_keystores(dir.path()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].1.as_deref().map(str::to_lowercase),
            Some(address.to_string().to_lowercase())
        );
    }

    #[test]
    fn raw_key_files_must_be_private_and_import_keeps_the_address() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let signer = PrivateKeySigner::random();
        std::fs::write(&key, alloy_primitives::hex::encode(signer.to_bytes())).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&key, "test").unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_key_file(&key, "test").unwrap().address(),
            signer.address()
        );
        let (address, file) = import_keystore(&key, &dir.path().join("ks"), "pw").unwrap();
        assert_eq!(address, signer.address());
        assert_eq!(
            PrivateKeySigner::decrypt_keystore(file, "pw")
                .unwrap()
                .address(),
            signer.address()
        );
    }

    #[test]
    fn block_signatures_recover_to_the_sequencer_on_their_chain_only() {
        use ordo_builder::BlockSigner as _;
        let key = PrivateKeySigner::random();
        let signer = BlockSigner::new(key.clone(), 7);
        let hash = B256::repeat_byte(9);
        let sig = signer.sign_block(hash);
        assert_eq!(block_signer(7, hash, &sig), Some(key.address()));
        assert_ne!(block_signer(8, hash, &sig), Some(key.address()));
        assert_ne!(
            block_signer(7, B256::repeat_byte(1), &sig),
            Some(key.address())
        );
    }
}
