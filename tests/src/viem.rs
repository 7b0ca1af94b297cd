//! viem scripts (`tests/viem/*.cjs`): the pinned viem that `scripts/viem` installs, one node
//! process per script, its one JSON line as the answer.

use std::{path::PathBuf, time::Duration};

use eyre::{Result, ensure};
use serde_json::Value;

/// `scripts/viem`'s node_modules (installs the pinned viem on first use).
pub fn viem_modules() -> Result<PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/viem"))
        .stderr(std::process::Stdio::inherit())
        .output()?;
    ensure!(out.status.success(), "scripts/viem failed");
    Ok(String::from_utf8_lossy(&out.stdout).trim().into())
}

/// Runs `tests/viem/<script>` with `env` and the modules from [`viem_modules`], within
/// `timeout` (a failure guard); the JSON line it printed.
pub async fn run_viem(script: &str, env: &[(&str, String)], timeout: Duration) -> Result<Value> {
    let modules = viem_modules()?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("viem")
        .join(script);
    let mut command = tokio::process::Command::new("node");
    command.arg(&path).env("NODE_PATH", &modules);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = tokio::time::timeout(timeout, command.output()).await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "viem {script}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_str(stdout.trim())?)
}
