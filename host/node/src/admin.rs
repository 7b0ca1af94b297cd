//! The admin JSON-RPC listener: plugin operations behind a bearer token, on its own address
//! (default 127.0.0.1:8548) so the public RPC port never exposes them.
//!
//! ```text
//! POST /  ──▶ bearer check (constant time; anything else is a bare 401)
//!         ──▶ JSON-RPC request or batch ──▶ admin_* method ──▶ PluginManager
//! ```
//!
//! Methods:
//! - plugins: `admin_loadPlugin {kind, path | wasm (base64), config}`, `admin_activatePlugin
//!   {id}`, `admin_deactivatePlugin {id}` (searchers), `admin_rollbackPlugin {kind}`,
//!   `admin_listPlugins`, `admin_shadowPlugin {id}` (a null id stops shadowing);
//! - operations ([`crate::control`]): `admin_status`, `admin_halt {reason}`, `admin_resume`,
//!   `admin_setBlockParams {blockTimeMs?, gasLimit?, minBaseFee?}`, `admin_setLimits
//!   {perIp?: {perSec, burst}, perSender?: {perSec, burst}}`.
//!
//! Object params may also be given positionally.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::Engine as _;
use eyre::WrapErr;
use ordo_plugin_host::{PluginKind, PluginManager};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

/// Largest admin request: a plugin travels base64-encoded inside it.
const MAX_ADMIN_BODY: usize = 64 * 1024 * 1024;

/// Reads the admin token from `file`, or from `<datadir>/admin.token`, creating that with a
/// fresh random token (mode 0600) on first start.
pub fn load_or_create_token(datadir: &Path, file: Option<&Path>) -> eyre::Result<String> {
    if let Some(file) = file {
        let token = std::fs::read_to_string(file)
            .wrap_err_with(|| format!("reading admin token file {}", file.display()))?;
        let token = token.trim().to_string();
        eyre::ensure!(
            token.len() >= MIN_TOKEN_LEN,
            "admin token in {} is shorter than {MIN_TOKEN_LEN} characters",
            file.display()
        );
        warn_if_readable_by_others(file);
        return Ok(token);
    }
    let path = datadir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(token) if token.trim().len() >= MIN_TOKEN_LEN => {
            warn_if_readable_by_others(&path);
            return Ok(token.trim().to_string());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).wrap_err_with(|| format!("reading {}", path.display())),
    }
    let bytes: [u8; 32] = rand::random();
    let token = alloy_primitives::hex::encode(bytes);
    write_private(&path, token.as_bytes())?;
    tracing::info!(target: "ordo::admin", path = %path.display(), "generated admin token");
    Ok(token)
}

/// Tokens shorter than this are refused (a generated one has 64 hex characters).
const MIN_TOKEN_LEN: usize = 16;

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && crate::keys::open_to_others(&meta).is_some()
    {
        tracing::warn!(target: "ordo::admin", path = %path.display(), "admin token file is readable by others; chmod 600 it");
    }
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

/// What the admin API works on.
pub struct AdminState {
    pub manager: Arc<PluginManager>,
    pub builder: Arc<ordo_builder::Builder>,
    pub control: Arc<crate::control::Control>,
    pub pool: Arc<ordo_pool::Pool>,
    pub batcher: Arc<ordo_batcher::Batcher>,
    /// The L1 poster's status; None without an L1.
    pub poster: Option<ordo_l1::StatusHandle>,
    /// The address of the key that signs blocks.
    pub sequencer: alloy_primitives::Address,
    pub token: String,
    /// The only folder `admin_loadPlugin {path}` reads from.
    pub plugin_dir: PathBuf,
}

/// The admin service. The token is checked before anything else, the body included: an
/// unauthenticated request gets a bare 401 whatever its method, path or size.
pub fn router(state: AdminState) -> Router {
    let state = Arc::new(state);
    Router::new()
        .route("/", post(handle))
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<Arc<AdminState>>| async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    crate::metrics::render(&crate::metrics::Sources {
                        builder: &state.builder,
                        pool: &state.pool,
                        plugins: &state.manager,
                        poster: state.poster.as_ref(),
                    }),
                )
            }),
        )
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(MAX_ADMIN_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

async fn require_token(
    State(state): State<Arc<AdminState>>,
    request: Request,
    next: Next,
) -> Response {
    if authorized(request.headers(), &state.token) {
        next.run(request).await
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    given.trim().as_bytes().ct_eq(token.as_bytes()).into()
}

async fn handle(State(state): State<Arc<AdminState>>, body: Bytes) -> Response {
    let reply = match serde_json::from_slice::<Value>(&body) {
        Err(_) => error_object(Value::Null, -32700, "parse error".into()),
        Ok(Value::Array(entries)) if entries.is_empty() => {
            error_object(Value::Null, -32600, "empty batch".into())
        }
        Ok(Value::Array(entries)) => {
            let mut out = Vec::with_capacity(entries.len());
            for entry in entries {
                out.push(call(&state, entry).await);
            }
            Value::Array(out)
        }
        Ok(request) => call(&state, request).await,
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        reply.to_string(),
    )
        .into_response()
}

fn error_object(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A method's failure: a JSON-RPC code and message.
struct AdminError(i64, String);

fn invalid(message: impl Into<String>) -> AdminError {
    AdminError(-32602, message.into())
}

fn plugin_err(e: impl std::fmt::Display) -> AdminError {
    AdminError(-32000, e.to_string())
}

async fn call(state: &Arc<AdminState>, request: Value) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error_object(id, -32600, "invalid request".into());
    };
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    let result = match method {
        "admin_loadPlugin" => load(state, params).await,
        "admin_activatePlugin" => {
            let manager = state.manager.clone();
            match arg::<IdParam>(params, "id") {
                Ok(p) => blocking(move || manager.activate(&p.id).map_err(plugin_err))
                    .await
                    .and_then(|info| {
                        serde_json::to_value(info).map_err(|e| AdminError(-32603, e.to_string()))
                    }),
                Err(e) => Err(e),
            }
        }
        "admin_deactivatePlugin" => {
            let manager = state.manager.clone();
            match arg::<IdParam>(params, "id") {
                Ok(p) => blocking(move || manager.deactivate(&p.id).map_err(plugin_err))
                    .await
                    .and_then(|info| {
                        serde_json::to_value(info).map_err(|e| AdminError(-32603, e.to_string()))
                    }),
                Err(e) => Err(e),
            }
        }
        "admin_rollbackPlugin" => {
            let manager = state.manager.clone();
            match arg::<KindParam>(params, "kind") {
                Ok(p) => blocking(move || manager.rollback(p.kind).map_err(plugin_err))
                    .await
                    .map(|active| json!({ "active": active })),
                Err(e) => Err(e),
            }
        }
        "admin_shadowPlugin" => {
            let manager = state.manager.clone();
            match arg::<ShadowParam>(params, "id").and_then(|p| {
                p.id.ok_or_else(|| invalid("missing field `id` (null stops shadowing)"))
            }) {
                Ok(Some(id)) => blocking(move || manager.shadow(&id).map_err(plugin_err))
                    .await
                    .map(|()| json!(true)),
                Ok(None) => manager.unshadow().map_err(plugin_err).map(|()| json!(true)),
                Err(e) => Err(e),
            }
        }
        "admin_listPlugins" => serde_json::to_value(state.manager.list())
            .map_err(|e| AdminError(-32603, e.to_string())),
        "admin_status" => Ok(status(state)),
        "admin_halt" => match arg::<HaltParam>(params, "reason") {
            Ok(p) => {
                let control = state.control.clone();
                blocking(move || control.halt(p.reason).map_err(control_err))
                    .await
                    .map(|()| json!(true))
            }
            Err(e) => Err(e),
        },
        "admin_resume" => {
            let control = state.control.clone();
            blocking(move || control.resume().map_err(control_err))
                .await
                .map(|was_halted| json!({ "wasHalted": was_halted }))
        }
        "admin_setLimits" => match arg::<crate::control::LimitsChange>(params, "") {
            Ok(change) => {
                let control = state.control.clone();
                blocking(move || control.set_limits(change).map_err(control_err))
                    .await
                    .and_then(|live| {
                        serde_json::to_value(live).map_err(|e| AdminError(-32603, e.to_string()))
                    })
            }
            Err(e) => Err(e),
        },
        "admin_setBlockParams" => match arg::<crate::control::BlockParamsChange>(params, "") {
            Ok(change) => {
                let control = state.control.clone();
                blocking(move || control.set_block_params(change).map_err(control_err))
                    .await
                    .and_then(|live| {
                        serde_json::to_value(live).map_err(|e| AdminError(-32603, e.to_string()))
                    })
            }
            Err(e) => Err(e),
        },
        other => Err(AdminError(
            -32601,
            format!("the method {other} does not exist/is not available"),
        )),
    };
    match result {
        Ok(value) => json!({"jsonrpc": "2.0", "id": id, "result": value}),
        Err(AdminError(code, message)) => error_object(id, code, message),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AdminError(-32603, format!("admin task failed: {e}")))?
}

fn control_err(e: crate::control::ControlError) -> AdminError {
    match e {
        crate::control::ControlError::Invalid(m) => invalid(m),
        other => AdminError(-32603, other.to_string()),
    }
}

/// `admin_status`: one look at everything an operator watches.
fn status(state: &AdminState) -> Value {
    let head = state.builder.head();
    let pool = state.pool.status();
    let plugins = state.manager.list();
    let last_batch = state.batcher.recent(1).first().map(|s| s.index);
    let halted = state.control.halted();
    let l1 = state.poster.as_ref().map(|h| {
        let s = h.get();
        json!({
            "l1Head": s.l1_head,
            "inFlight": s.in_flight.iter().map(|p| json!({
                "index": p.index,
                "txHash": p.tx_hash,
                "nonce": p.nonce,
                "minedIn": p.mined_in,
                "blobs": p.blobs,
            })).collect::<Vec<_>>(),
            "posted": s.posted,
            "postedBlobs": s.posted_blobs,
            "bumped": s.bumped,
            "reposted": s.reposted,
            "confirmed": s.confirmed,
            "finalized": s.finalized,
            "reorged": s.reorged,
            "unfinalized": s.unfinalized,
            "l1Finalized": s.l1_finalized,
            "lastError": s.last_error,
        })
    });
    json!({
        "head": {
            "number": head.number(),
            "hash": head.hash,
            "timestamp": head.header.timestamp,
        },
        "sequencer": state.sequencer,
        "halted": halted.is_some(),
        "haltReason": halted,
        "mempool": { "pending": pool.pending, "queued": pool.queued, "bytes": pool.bytes },
        "bundles": state.builder.bundle_pool().map_or(0, |p| p.len()),
        "plugins": plugins,
        "batcher": {
            "batches": state.batcher.len(),
            "lastBatch": last_batch,
            "unconfirmed": state.batcher.unconfirmed_count(),
            "nextBlock": state.batcher.next_block(),
        },
        "l1": l1,
        "blockParams": state.control.params_view(),
        "limits": state.control.limits_view(),
        "configEpoch": state.control.live().epoch,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HaltParam {
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdParam {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindParam {
    kind: PluginKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowParam {
    /// Absent: an error; `null`: stop shadowing.
    #[serde(default, deserialize_with = "present")]
    id: Option<Option<String>>,
}

/// Keeps an explicit `null` apart from an absent field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadParam {
    kind: PluginKind,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    wasm: Option<String>,
    #[serde(default)]
    config: Option<String>,
}

/// The one argument of an admin method: `[{...}]`, `{...}`, or, for single-field objects,
/// the bare value (`["0xid"]`).
fn arg<T: serde::de::DeserializeOwned>(params: Value, field: &str) -> Result<T, AdminError> {
    let value = match params {
        Value::Array(mut items) if items.len() == 1 => items.remove(0),
        Value::Array(items) if items.is_empty() => Value::Object(Default::default()),
        Value::Array(items) => {
            return Err(invalid(format!(
                "too many arguments, want at most 1, got {}",
                items.len()
            )));
        }
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    let value = match value {
        Value::Object(_) => value,
        bare => json!({ field: bare }),
    };
    serde_json::from_value(value).map_err(|e| invalid(format!("invalid argument 0: {e}")))
}

async fn load(state: &Arc<AdminState>, params: Value) -> Result<Value, AdminError> {
    let p: LoadParam = arg(params, "path")?;
    let bytes = match (p.path, p.wasm) {
        (Some(path), None) => {
            let dir = state.plugin_dir.clone();
            blocking(move || read_plugin_file(&dir, &path)).await?
        }
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| invalid(format!("wasm is not valid base64: {e}")))?,
        _ => return Err(invalid("give exactly one of path or wasm")),
    };
    let manager = state.manager.clone();
    let config = p.config.unwrap_or_default();
    let info = blocking(move || manager.load(p.kind, &bytes, &config).map_err(plugin_err)).await?;
    serde_json::to_value(info).map_err(|e| AdminError(-32603, e.to_string()))
}

/// Reads a plugin file named by an admin call: inside the plugin folder `dir` (relative to
/// it, or absolute; symlinks resolved before the check), a regular file of bounded size
/// (never a device or a FIFO that would block or exhaust memory) that starts like a
/// WebAssembly binary. The admin token must not turn into a way to read the node's other
/// files, so no error ever quotes what a file holds.
fn read_plugin_file(dir: &Path, path: &Path) -> Result<Vec<u8>, AdminError> {
    use std::io::Read;
    let root = dir.canonicalize().map_err(|e| {
        invalid(format!(
            "the plugin folder {} ([plugins] dir) is not readable: {e}",
            dir.display()
        ))
    })?;
    let resolved = root
        .join(path)
        .canonicalize()
        .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
    if !resolved.starts_with(&root) {
        return Err(invalid(format!(
            "{} is outside the plugin folder {} ([plugins] dir)",
            path.display(),
            root.display()
        )));
    }
    let meta = std::fs::metadata(&resolved)
        .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(invalid(format!("{} is not a regular file", path.display())));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&resolved)
        .and_then(|f| f.take(MAX_ADMIN_BODY as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
    if bytes.len() > MAX_ADMIN_BODY {
        return Err(invalid(format!(
            "{} is larger than {MAX_ADMIN_BODY} bytes",
            path.display()
        )));
    }
    if !bytes.starts_with(b"\0asm") {
        return Err(invalid(format!(
            "{} is not a WebAssembly component",
            path.display()
        )));
    }
    Ok(bytes)
}
