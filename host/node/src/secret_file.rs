//! Files that hold secrets (keys, keystore passwords, the admin token): written mode 0600
//! through a fresh temporary file, and refused (or warned about) when others can read them.

use std::{io::Write, path::Path};

use eyre::{WrapErr, bail};
use zeroize::Zeroizing;

/// The file's permission bits if anyone but its owner may use it.
pub fn open_to_others(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Writes a file only its owner can read, replacing any previous one.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> eyre::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    // A stale temp file could carry wider permissions; `create_new` guarantees 0600.
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .wrap_err_with(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).wrap_err_with(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A secret kept in a file (a keystore password), refused unless only its owner can read
/// it, with trailing newlines removed.
pub fn read_secret_file(path: &Path, what: &str) -> eyre::Result<Zeroizing<String>> {
    let meta = std::fs::metadata(path)
        .wrap_err_with(|| format!("reading the {what} file {}", path.display()))?;
    if let Some(mode) = open_to_others(&meta) {
        bail!(
            "the {what} file {} is readable by others (mode {mode:o}); chmod 600 it",
            path.display()
        );
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .wrap_err_with(|| format!("reading the {what} file {}", path.display()))?,
    );
    Ok(Zeroizing::new(
        text.trim_end_matches(['\n', '\r']).to_string(),
    ))
}
