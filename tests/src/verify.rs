//! `ordo verify` runs: the chain re-derived from its batches (from L1 or a batches RPC).

use eyre::{Result, bail};

use crate::node::ordo_bin;

/// What a run of `ordo verify` printed.
#[derive(Debug)]
pub struct VerifyRun {
    /// Exit status was success.
    pub success: bool,
    /// Standard output (one line per verified batch, then a summary).
    pub stdout: String,
    /// Standard error (logs, and the error that stopped it).
    pub stderr: String,
}

/// Runs `ordo verify ARGS` to completion.
pub fn ordo_verify(args: &[&str]) -> Result<VerifyRun> {
    let out = std::process::Command::new(ordo_bin())
        .arg("verify")
        .args(args)
        .output()?;
    Ok(VerifyRun {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `ordo verify` that must pass and say so.
pub fn ordo_verify_ok(args: &[&str]) -> Result<VerifyRun> {
    let run = ordo_verify(args)?;
    if !run.success || !run.stdout.contains("verified") {
        bail!("ordo verify failed:\n{}\n{}", run.stdout, run.stderr);
    }
    Ok(run)
}
