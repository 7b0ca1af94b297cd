//! `ordo plugin new` (scaffold a plugin crate from the SDK's templates), `ordo plugin
//! load` (send a plugin to a running node's admin API) and `ordo bench` (runs the
//! `ordo-bench` executable from `tools/bench`, which this crate does not link).

use std::{
    ffi::OsString,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use clap::Args;
use eyre::{WrapErr, bail, eyre};
use ordo_rpc_client::{ClientError, RpcClient, StatusCode};
use serde_json::{Value, json};

/// Where the admin API is and how to authenticate.
#[derive(Args, Clone, Debug)]
pub struct AdminArgs {
    /// Admin JSON-RPC URL of the node.
    #[arg(long, env = "ORDO_ADMIN_URL", default_value = "http://127.0.0.1:8548")]
    pub admin_url: String,
    /// File holding the bearer token (default: .ordo/dev/admin.token).
    #[arg(long, env = "ORDO_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
}

impl AdminArgs {
    fn token(&self) -> eyre::Result<String> {
        let path = self
            .admin_token_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(".ordo/dev/admin.token"));
        let token = std::fs::read_to_string(&path)
            .wrap_err_with(|| format!("reading admin token {}", path.display()))?;
        Ok(token.trim().to_string())
    }
}

/// Calls one admin method (over the shared `ordo-rpc-client`); a JSON-RPC error becomes an
/// error naming the method, a refused token says so.
pub async fn admin_call(admin: &AdminArgs, method: &str, params: Value) -> eyre::Result<Value> {
    let token = admin.token()?;
    let client = RpcClient::new(&admin.admin_url)?.with_bearer(&token);
    match client.call(method, params).await {
        Ok(result) => Ok(result),
        Err(ClientError::Rpc(e)) => bail!("{method} failed: {}", e.message),
        Err(e) if e.http_status() == Some(StatusCode::UNAUTHORIZED) => {
            bail!("the node refused the admin token (401)")
        }
        Err(e @ ClientError::Transport(_)) => {
            Err(e).wrap_err_with(|| format!("connecting to {}", admin.admin_url))
        }
        Err(e) => Err(e).wrap_err_with(|| format!("{method}: reading the admin response")),
    }
}

/// Loads `file` into the node (and activates it when asked); returns the load result.
pub async fn load_plugin(
    admin: &AdminArgs,
    file: &Path,
    kind: &str,
    config: Option<&str>,
    activate: bool,
) -> eyre::Result<Value> {
    let bytes = std::fs::read(file).wrap_err_with(|| format!("reading {}", file.display()))?;
    let wasm = base64::engine::general_purpose::STANDARD.encode(bytes);
    let info = admin_call(
        admin,
        "admin_loadPlugin",
        json!([{"kind": kind, "wasm": wasm, "config": config.unwrap_or_default()}]),
    )
    .await?;
    if activate {
        let id = info
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| eyre!("admin_loadPlugin answered no id"))?;
        admin_call(admin, "admin_activatePlugin", json!([{ "id": id }])).await?;
    }
    Ok(info)
}

/// `ordo bench ARGS`: replaces this process with the `ordo-bench` executable found next to
/// the `ordo` executable, passing `args` through unchanged (flags, `--help`, exit code,
/// signals and output are the bench's). The load generator is its own package
/// (`tools/bench`) so the node library never depends on it; `cargo build --workspace` puts
/// both binaries in the same folder.
pub fn exec_bench(args: &[OsString]) -> eyre::Result<()> {
    let exe = std::env::current_exe().wrap_err("locating the ordo executable")?;
    let bench = exe.with_file_name(format!("ordo-bench{}", std::env::consts::EXE_SUFFIX));
    if !bench.is_file() {
        bail!(
            "`ordo bench` runs {}, which does not exist: build it with `cargo build -p ordo-bench` \
             (or `cargo build --workspace`) and keep it next to {}",
            bench.display(),
            exe.display()
        );
    }
    // `exec` returns only on failure.
    let err = std::process::Command::new(&bench).args(args).exec();
    Err(err).wrap_err_with(|| format!("running {}", bench.display()))
}

/// The templates shipped with the SDK, by kind: (Cargo.toml, src/lib.rs).
fn template(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "ordering" => (
            include_str!("../../../sdk/templates/ordering/Cargo.toml.tmpl"),
            include_str!("../../../sdk/templates/ordering/lib.rs.tmpl"),
        ),
        "compression" => (
            include_str!("../../../sdk/templates/compression/Cargo.toml.tmpl"),
            include_str!("../../../sdk/templates/compression/lib.rs.tmpl"),
        ),
        "prover" => (
            include_str!("../../../sdk/templates/prover/Cargo.toml.tmpl"),
            include_str!("../../../sdk/templates/prover/lib.rs.tmpl"),
        ),
        _ => return None,
    })
}

/// Writes a new plugin crate of `kind` named `name` into `dir`.
pub fn scaffold(kind: &str, name: &str, dir: &Path, sdk_path: Option<&Path>) -> eyre::Result<()> {
    let (manifest, lib) = template(kind).ok_or_else(|| {
        eyre!("unknown plugin kind {kind:?}: use ordering, compression or prover")
    })?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.as_bytes()[0].is_ascii_lowercase();
    if !valid {
        bail!("plugin name {name:?} must be kebab-case: [a-z][a-z0-9-]*, at most 64 characters");
    }
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let sdk = match sdk_path {
        Some(p) => p.to_path_buf(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk"),
    };
    let sdk = sdk.canonicalize().wrap_err_with(|| {
        format!(
            "the sdk folder {} does not exist (pass --sdk-path)",
            sdk.display()
        )
    })?;
    let sdk = sdk
        .to_str()
        .ok_or_else(|| eyre!("the sdk path is not UTF-8"))?
        .replace('\\', "/");
    let fill = |t: &str| t.replace("{{name}}", name).replace("{{sdk_path}}", &sdk);
    std::fs::create_dir_all(dir.join("src"))
        .wrap_err_with(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("Cargo.toml"), fill(manifest))?;
    std::fs::write(dir.join("src/lib.rs"), fill(lib))?;
    Ok(())
}
