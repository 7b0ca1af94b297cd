//! The `admin` namespace: plugin operations and operator controls. Served only on the admin
//! listener (the node puts its bearer check in front), never on the public port.
//!
//! Methods:
//! - plugins: `admin_loadPlugin {kind, path | wasm (base64), config}`, `admin_activatePlugin
//!   {id}`, `admin_deactivatePlugin {id}` (searchers), `admin_rollbackPlugin {kind}`,
//!   `admin_listPlugins`, `admin_shadowPlugin {id}` (a null id stops shadowing);
//! - operations ([`Control`]): `admin_status`, `admin_halt {reason}`, `admin_resume`,
//!   `admin_setBlockParams {blockTimeMs?, gasLimit?, minBaseFee?}`, `admin_setLimits
//!   {perIp?: {perSec, burst}, perSender?: {perSec, burst}}`;
//! - a replica group: `admin_clusterStatus`, `admin_addReplica {id, addr, rpc}` (a replica
//!   started with `[cluster] join`, caught up and made a voter before this answers) and
//!   `admin_removeReplica {id}`, both on the leader only.
//!
//! Each takes one object, also given positionally, or for one-field objects the bare value
//! ([`Params::single`]).

mod control;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use base64::Engine as _;
use ordo_plugin_host::{PluginKind, PluginManager};
use ordo_rpc::{BackendError, BackendResult, Caller, Cost, Namespace, Params, json};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json as value};

pub use control::{BlockParamsChange, Control, ControlError, Controlled, LimitsChange, LiveConfig};

/// Largest plugin `admin_loadPlugin` reads from the plugin folder; the admin listener's
/// body limit (a plugin travels base64-encoded inside a request) is set by the node.
pub const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;

/// What the admin methods work on.
pub struct AdminNamespace {
    pub manager: Arc<PluginManager>,
    pub builder: Arc<ordo_builder::Builder>,
    pub control: Arc<Control>,
    pub pool: Arc<ordo_pool::Pool>,
    pub batcher: Arc<ordo_batcher::Batcher>,
    /// The L1 poster's status; None without an L1.
    pub poster: Option<ordo_l1::StatusHandle>,
    /// The address of the key that signs blocks.
    pub sequencer: alloy_primitives::Address,
    /// The only folder `admin_loadPlugin {path}` reads from.
    pub plugin_dir: PathBuf,
    /// This node's replica of a group; unset on a single node.
    pub cluster: std::sync::OnceLock<ordo_replica::Replica>,
}

/// The methods that change what every replica of a group must agree on (which plugins run,
/// the operator's controls). In a group they go through the replication log: the leader
/// logs them, every replica applies them ([`ordo_replica::Operations`]), and the answer is
/// the leader's.
const REPLICATED: &[&str] = &[
    "admin_loadPlugin",
    "admin_activatePlugin",
    "admin_deactivatePlugin",
    "admin_rollbackPlugin",
    "admin_shadowPlugin",
    "admin_halt",
    "admin_resume",
    "admin_setLimits",
    "admin_setBlockParams",
];

const METHODS: &[&str] = &[
    "admin_loadPlugin",
    "admin_activatePlugin",
    "admin_deactivatePlugin",
    "admin_rollbackPlugin",
    "admin_shadowPlugin",
    "admin_listPlugins",
    "admin_status",
    "admin_halt",
    "admin_resume",
    "admin_setLimits",
    "admin_setBlockParams",
    "admin_clusterStatus",
    "admin_addReplica",
    "admin_removeReplica",
];

impl Namespace for AdminNamespace {
    fn cost(&self, method: &str) -> Option<Cost> {
        METHODS.contains(&method).then_some(Cost::Quick)
    }

    fn call(&self, method: &str, p: &Params<'_>, _caller: Caller) -> BackendResult<Box<RawValue>> {
        if let Some(replica) = self.cluster.get()
            && REPLICATED.contains(&method)
        {
            let params = self.params_to_log(method, p)?;
            // A blocking-pool thread (`Cost::Quick`): it may wait on the runtime.
            let answer = tokio::runtime::Handle::current()
                .block_on(replica.operate(method, params))
                .map_err(|(code, message)| BackendError::new(code, message))?;
            return json(&answer);
        }
        self.apply_here(method, p, false)
    }
}

impl ordo_replica::Operations for AdminNamespace {
    fn apply(&self, method: &str, params: &Value) -> Result<Value, (i32, String)> {
        let failed = |e: BackendError| (e.code, e.message.into_owned());
        let raw =
            serde_json::value::to_raw_value(params).map_err(|e| failed(invalid(e.to_string())))?;
        let p = Params::parse(Some(&raw)).map_err(failed)?;
        let answer = self.apply_here(method, &p, true).map_err(failed)?;
        serde_json::from_str(answer.get())
            .map_err(|e| failed(BackendError::internal(e.to_string())))
    }
}

impl AdminNamespace {
    /// `method`'s parameters as the log carries them: a plugin loaded from the plugin
    /// folder travels as its bytes (the other replicas may not have the file).
    /// Checked here first, as the method would check them, so nothing malformed enters the
    /// log (where every replica would refuse it alike, forever).
    fn params_to_log(&self, method: &str, p: &Params<'_>) -> BackendResult<Value> {
        match method {
            "admin_loadPlugin" => {}
            "admin_rollbackPlugin" => {
                let k: KindParam = p.single("kind")?;
                // What it rolls back from: a replay (after a restart) that finds the slot
                // already rolled back changes nothing, so each replica rolls back once.
                return Ok(value!({ "kind": k.kind, "from": self.rollback_source(k.kind) }));
            }
            "admin_activatePlugin" | "admin_deactivatePlugin" => {
                let _: IdParam = p.single("id")?;
                return Ok(p.to_value());
            }
            "admin_shadowPlugin" => {
                let shadow: ShadowParam = p.single("id")?;
                if shadow.id.is_none() {
                    return Err(invalid("missing field `id` (null stops shadowing)"));
                }
                return Ok(p.to_value());
            }
            "admin_halt" => {
                let halt: HaltParam = p.single("reason")?;
                Control::halt_reason(&halt.reason).map_err(control_err)?;
                return Ok(p.to_value());
            }
            "admin_setLimits" => {
                let _: LimitsChange = p.single("")?;
                return Ok(p.to_value());
            }
            "admin_setBlockParams" => {
                let _: BlockParamsChange = p.single("")?;
                return Ok(p.to_value());
            }
            _ => return Ok(p.to_value()),
        }
        let load: LoadParam = p.single("path")?;
        let kind = load.kind;
        let config = load.config.clone();
        let wasm = self.plugin_bytes(load)?;
        Ok(value!({
            "kind": kind,
            "wasm": base64::engine::general_purpose::STANDARD.encode(wasm),
            "config": config,
        }))
    }

    /// Runs an admin method on this node only; `logged`: as a replica group's log applies
    /// it (in log order, so a halt does not wait for the block in progress).
    fn apply_here(
        &self,
        method: &str,
        p: &Params<'_>,
        logged: bool,
    ) -> BackendResult<Box<RawValue>> {
        let manager = &self.manager;
        match method {
            "admin_loadPlugin" => json(&self.load(p.single("path")?)?),
            "admin_activatePlugin" => {
                let p: IdParam = p.single("id")?;
                json(&manager.activate(&p.id).map_err(plugin_err)?)
            }
            "admin_deactivatePlugin" => {
                let p: IdParam = p.single("id")?;
                json(&manager.deactivate(&p.id).map_err(plugin_err)?)
            }
            "admin_rollbackPlugin" if logged => {
                let p: LoggedRollback = p.single("kind")?;
                if self.rollback_source(p.kind) != p.from {
                    // Rolled back already (this entry is being applied again).
                    let active = manager.list().active.get(&p.kind).cloned().flatten();
                    return json(&value!({ "active": active }));
                }
                let active = manager.rollback(p.kind).map_err(plugin_err)?;
                json(&value!({ "active": active }))
            }
            "admin_rollbackPlugin" => {
                let p: KindParam = p.single("kind")?;
                let active = manager.rollback(p.kind).map_err(plugin_err)?;
                json(&value!({ "active": active }))
            }
            "admin_shadowPlugin" => {
                let p: ShadowParam = p.single("id")?;
                match p.id {
                    None => Err(BackendError::invalid_params(
                        "missing field `id` (null stops shadowing)",
                    )),
                    Some(Some(id)) => {
                        manager.shadow(&id).map_err(plugin_err)?;
                        json(&true)
                    }
                    Some(None) => {
                        manager.unshadow().map_err(plugin_err)?;
                        json(&true)
                    }
                }
            }
            "admin_listPlugins" => json(&manager.list()),
            "admin_status" => json(&status(self)),
            "admin_halt" => {
                let p: HaltParam = p.single("reason")?;
                if logged {
                    self.control.halt_in_order(p.reason)
                } else {
                    self.control.halt(p.reason)
                }
                .map_err(control_err)?;
                json(&true)
            }
            "admin_resume" => {
                let was_halted = self.control.resume().map_err(control_err)?;
                json(&value!({ "wasHalted": was_halted }))
            }
            "admin_setLimits" => {
                let change: LimitsChange = p.single("")?;
                json(&self.control.set_limits(change).map_err(control_err)?)
            }
            "admin_setBlockParams" => {
                let change: BlockParamsChange = p.single("")?;
                json(&self.control.set_block_params(change).map_err(control_err)?)
            }
            "admin_clusterStatus" => json(&self.replica()?.detail()),
            "admin_addReplica" => {
                let replica = self.replica()?;
                let p: AddReplicaParam = p.single("")?;
                // A blocking-pool thread (`Cost::Quick`): it may wait on the runtime.
                let added = tokio::runtime::Handle::current()
                    .block_on(replica.add_replica(p.id, p.addr, p.rpc))
                    .map_err(BackendError::tx)?;
                json(&added)
            }
            "admin_removeReplica" => {
                let replica = self.replica()?;
                let p: ReplicaIdParam = p.single("id")?;
                let removed = tokio::runtime::Handle::current()
                    .block_on(replica.remove_replica(p.id))
                    .map_err(BackendError::tx)?;
                json(&removed)
            }
            other => Err(BackendError::method_not_found(other)),
        }
    }
}

impl AdminNamespace {
    /// What a rollback of `kind` rolls back from: the active plugin of a slot, or the
    /// searcher activated last.
    fn rollback_source(&self, kind: PluginKind) -> Option<String> {
        let report = self.manager.list();
        match report.active.get(&kind) {
            Some(active) => active.as_ref().map(|info| info.id.clone()),
            None => report.active_searchers.last().map(|info| info.id.clone()),
        }
    }

    fn replica(&self) -> BackendResult<&ordo_replica::Replica> {
        self.cluster
            .get()
            .ok_or_else(|| BackendError::tx("this node is not a replica of a group"))
    }

    fn load(&self, p: LoadParam) -> BackendResult<ordo_plugin_host::PluginInfo> {
        let kind = p.kind;
        let config = p.config.clone().unwrap_or_default();
        let bytes = self.plugin_bytes(p)?;
        self.manager.load(kind, &bytes, &config).map_err(plugin_err)
    }

    /// The plugin `admin_loadPlugin` names: the file from the plugin folder, or the bytes.
    fn plugin_bytes(&self, p: LoadParam) -> BackendResult<Vec<u8>> {
        match (p.path, p.wasm) {
            (Some(path), None) => read_plugin_file(&self.plugin_dir, &path),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| invalid(format!("wasm is not valid base64: {e}"))),
            _ => Err(invalid("give exactly one of path or wasm")),
        }
    }
}

fn invalid(message: impl Into<String>) -> BackendError {
    BackendError::invalid_params(message.into())
}

fn plugin_err(e: impl std::fmt::Display) -> BackendError {
    BackendError::tx(e.to_string())
}

fn control_err(e: ControlError) -> BackendError {
    match e {
        ControlError::Invalid(m) => invalid(m),
        other => BackendError::internal(other.to_string()),
    }
}

/// `admin_status`: one look at everything an operator watches.
fn status(state: &AdminNamespace) -> Value {
    let head = state.builder.head();
    let pool = state.pool.status();
    let plugins = state.manager.list();
    let last_batch = state.batcher.recent(1).first().map(|s| s.index);
    let halted = state.control.halted();
    let l1 = state.poster.as_ref().map(|h| {
        let s = h.get();
        value!({
            "l1Head": s.l1_head,
            "inFlight": s.in_flight.iter().map(|p| value!({
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
    value!({
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
struct AddReplicaParam {
    id: u64,
    /// Its replication listener.
    addr: std::net::SocketAddr,
    /// Its public JSON-RPC address.
    rpc: std::net::SocketAddr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplicaIdParam {
    id: u64,
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

/// `admin_rollbackPlugin` as the log carries it: with the plugin it rolls back from.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoggedRollback {
    kind: PluginKind,
    from: Option<String>,
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

/// Reads a plugin file named by an admin call: inside the plugin folder `dir` (relative to
/// it, or absolute; symlinks resolved before the check), a regular file of bounded size
/// (never a device or a FIFO that would block or exhaust memory) that starts like a
/// WebAssembly binary. The admin token must not turn into a way to read the node's other
/// files, so no error ever quotes what a file holds.
fn read_plugin_file(dir: &Path, path: &Path) -> BackendResult<Vec<u8>> {
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
        .and_then(|f| f.take(MAX_PLUGIN_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
    if bytes.len() > MAX_PLUGIN_BYTES {
        return Err(invalid(format!(
            "{} is larger than {MAX_PLUGIN_BYTES} bytes",
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
