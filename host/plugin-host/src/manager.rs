//! The registry of loaded plugins and the active set: load, activate, roll back, shadow,
//! persist, restore; plus failure accounting and automatic rollback (the manager is the
//! [`Supervisor`] of every per-kind adapter it hands out).

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alloy_primitives::{B256, keccak256};
use ordo_hooks::{OrderingPolicy, PolicySource, SearcherHost};
use ordo_storage::Storage;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::{
    config::{CallLimits, PluginsConfig},
    engine::PluginEngine,
    error::{CallFailure, PluginError},
    health::{HealthReport, ShadowReport, ShadowStats},
    info::{PluginInfo, PluginKind},
    kinds::{
        self,
        compression::Compressor,
        ordering::{BlockPolicy, ShadowSlot},
        prover::Prover,
        searcher::ActiveSearchers,
    },
    plugin::{LoadedPlugin, plugin_id},
    supervisor::Supervisor,
};

/// Version of the persisted registry encoding.
const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PersistedEntry {
    id: String,
    kind: PluginKind,
    code_hash: B256,
    config: String,
    name: String,
    version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PersistedState {
    version: u32,
    loaded: Vec<PersistedEntry>,
    active: BTreeMap<PluginKind, String>,
    history: BTreeMap<PluginKind, Vec<String>>,
    shadow: Option<String>,
    /// Active searchers, in activation order (absent in registries written before
    /// searchers were hosted).
    #[serde(default)]
    searchers: Vec<String>,
}

#[derive(Clone)]
struct ShadowEntry {
    id: String,
    stats: Arc<Mutex<ShadowStats>>,
}

/// The registry proper. Mutations clone it, persist the clone, then swap it in, so memory
/// never runs ahead of storage.
#[derive(Clone, Default)]
struct Registry {
    loaded: Vec<Arc<LoadedPlugin>>,
    active: BTreeMap<PluginKind, String>,
    history: BTreeMap<PluginKind, Vec<String>>,
    shadow: Option<ShadowEntry>,
    /// Active searchers, in activation order.
    searchers: Vec<String>,
}

impl Registry {
    fn get(&self, id: &str) -> Option<&Arc<LoadedPlugin>> {
        self.loaded.iter().find(|p| p.info.id == id)
    }

    fn active_plugin(&self, kind: PluginKind) -> Option<&Arc<LoadedPlugin>> {
        self.active.get(&kind).and_then(|id| self.get(id))
    }

    fn is_active(&self, plugin: &LoadedPlugin) -> bool {
        let id = &plugin.info.id;
        let kind = plugin.info.kind;
        if kinds::has_slot(kind) {
            self.active.get(&kind) == Some(id)
        } else {
            self.searchers.contains(id)
        }
    }

    /// Takes a searcher out of the active set and records it at the end of the searcher
    /// history. False when it was not active.
    fn deactivate_searcher(&mut self, id: &str) -> bool {
        let before = self.searchers.len();
        self.searchers.retain(|s| s != id);
        if self.searchers.len() == before {
            return false;
        }
        let history = self.history.entry(PluginKind::Searcher).or_default();
        history.retain(|h| h != id);
        history.push(id.to_string());
        true
    }

    /// Back to the previous version of `kind`, or to none (native). Returns the new active.
    fn rollback(&mut self, kind: PluginKind) -> Option<String> {
        let previous = self.history.get_mut(&kind).and_then(Vec::pop);
        match &previous {
            Some(id) => self.active.insert(kind, id.clone()),
            None => self.active.remove(&kind),
        };
        previous
    }

    fn persisted(&self) -> PersistedState {
        PersistedState {
            version: STATE_VERSION,
            loaded: self
                .loaded
                .iter()
                .map(|p| PersistedEntry {
                    id: p.info.id.clone(),
                    kind: p.info.kind,
                    code_hash: p.info.code_hash,
                    config: p.config.to_string(),
                    name: p.info.name.clone(),
                    version: p.info.version.clone(),
                })
                .collect(),
            active: self.active.clone(),
            history: self.history.clone(),
            shadow: self.shadow.as_ref().map(|s| s.id.clone()),
            searchers: self.searchers.clone(),
        }
    }
}

/// What the hot paths read: one `Arc` per slot, cloned under a read lock.
#[derive(Default)]
struct ActiveSet {
    ordering: Option<Arc<LoadedPlugin>>,
    compression: Option<Arc<LoadedPlugin>>,
    prover: Option<Arc<LoadedPlugin>>,
    shadow: Option<ShadowSlot>,
    searchers: Vec<Arc<LoadedPlugin>>,
}

impl ActiveSet {
    /// The hot paths' view of `reg`; `shadow_busy` is the manager's shadow-run flag.
    fn from_registry(reg: &Registry, shadow_busy: &Arc<AtomicBool>) -> Self {
        Self {
            ordering: reg.active_plugin(PluginKind::Ordering).cloned(),
            compression: reg.active_plugin(PluginKind::Compression).cloned(),
            prover: reg.active_plugin(PluginKind::Prover).cloned(),
            shadow: reg.shadow.as_ref().and_then(|s| {
                Some(ShadowSlot {
                    plugin: reg.get(&s.id)?.clone(),
                    stats: s.stats.clone(),
                    busy: shadow_busy.clone(),
                })
            }),
            searchers: reg
                .searchers
                .iter()
                .filter_map(|id| reg.get(id).cloned())
                .collect(),
        }
    }
}

/// One loaded plugin in [`PluginsReport`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadedReport {
    /// Identity.
    #[serde(flatten)]
    pub info: PluginInfo,
    /// The config string it was loaded with.
    pub config: String,
    /// Codec id (compression plugins only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec_id: Option<u32>,
    /// Whether it is the active plugin of its kind (searchers: in the active set).
    pub active: bool,
    /// Call counters.
    pub health: HealthReport,
}

/// Everything the operator sees (`ordo_plugins` RPC, dashboard).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginsReport {
    /// The active plugin per kind; `None` means the native fallback (ordering:
    /// `native-priority-fee`) or no plugin.
    pub active: BTreeMap<PluginKind, Option<PluginInfo>>,
    /// Every loaded plugin, in load order.
    pub loaded: Vec<LoadedReport>,
    /// Rollback history per kind (ids, oldest first; the last is the next rollback target).
    pub history: BTreeMap<PluginKind, Vec<String>>,
    /// The shadow ordering plugin and how it compares with the active policy.
    pub shadow: Option<ShadowReport>,
    /// The active searchers, in activation order (the order they run in). `active` has no
    /// searcher entry: several searchers are active at once.
    pub active_searchers: Vec<PluginInfo>,
}

/// The single source of truth for loaded plugins. See the crate docs for the flow.
pub struct PluginManager {
    engine: PluginEngine,
    config: PluginsConfig,
    storage: Option<Arc<Storage>>,
    registry: Mutex<Registry>,
    active: RwLock<ActiveSet>,
    /// Set while a shadow run is in flight (at most one at a time).
    shadow_busy: Arc<AtomicBool>,
}

impl std::fmt::Debug for PluginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginManager")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PluginManager {
    /// Creates the engine and restores the persisted registry: every stored plugin is
    /// compiled and self-tested again (a plugin that no longer passes is dropped, with an
    /// error in the log, and its slot falls back). Slow with many plugins: call it off the
    /// async reactor.
    pub fn open(
        config: PluginsConfig,
        storage: Option<Arc<Storage>>,
    ) -> Result<Arc<Self>, PluginError> {
        config.validate().map_err(PluginError::Config)?;
        let manager = Arc::new(Self {
            engine: PluginEngine::new(&config)?.with_artifacts(storage.clone()),
            config,
            storage,
            registry: Mutex::new(Registry::default()),
            active: RwLock::new(ActiveSet::default()),
            shadow_busy: Arc::new(AtomicBool::new(false)),
        });
        manager.restore()?;
        Ok(manager)
    }

    fn restore(&self) -> Result<(), PluginError> {
        let Some(storage) = &self.storage else {
            return Ok(());
        };
        let Some(bytes) = storage.plugin_state()? else {
            return Ok(());
        };
        let state: PersistedState =
            serde_json::from_slice(&bytes).map_err(|e| PluginError::CorruptState(e.to_string()))?;
        if state.version != STATE_VERSION {
            return Err(PluginError::CorruptState(format!(
                "state version {} (this node reads {STATE_VERSION})",
                state.version
            )));
        }
        let mut reg = Registry::default();
        let started = std::time::Instant::now();
        for entry in &state.loaded {
            match self.restore_entry(storage, entry) {
                Ok(plugin) => reg.loaded.push(Arc::new(plugin)),
                Err(e) => tracing::error!(
                    target: "ordo::plugins",
                    id = %entry.id,
                    plugin = %entry.name,
                    version = %entry.version,
                    code_hash = %entry.code_hash,
                    "persisted plugin dropped at restore: {e}"
                ),
            }
        }
        tracing::info!(
            target: "ordo::plugins",
            plugins = reg.loaded.len(),
            from_artifacts = self.engine.artifacts_loaded(),
            ms = started.elapsed().as_millis() as u64,
            "persisted plugins restored"
        );
        let ids: std::collections::HashSet<String> =
            reg.loaded.iter().map(|p| p.info.id.clone()).collect();
        let known = |id: &String| ids.contains(id);
        reg.history = state
            .history
            .iter()
            .map(|(k, ids)| (*k, ids.iter().filter(|id| known(id)).cloned().collect()))
            .collect();
        for (kind, id) in &state.active {
            if known(id) {
                reg.active.insert(*kind, id.clone());
            } else if let Some(previous) = reg.rollback(*kind) {
                // The active plugin did not come back: behave as if it had failed, and
                // roll its slot back to the previous version (or to none).
                tracing::warn!(
                    target: "ordo::plugins",
                    kind = %kind,
                    dropped = %id,
                    to = %previous,
                    "active plugin not restored: slot rolled back"
                );
            }
        }
        for id in &state.searchers {
            if known(id) {
                if !reg.searchers.contains(id) {
                    reg.searchers.push(id.clone());
                }
            } else {
                tracing::warn!(
                    target: "ordo::plugins",
                    kind = %PluginKind::Searcher,
                    dropped = %id,
                    "active searcher not restored: deactivated"
                );
            }
        }
        reg.shadow = state.shadow.filter(|id| known(id)).map(|id| ShadowEntry {
            id,
            stats: Arc::default(),
        });
        let dropped = reg.loaded.len() != state.loaded.len();
        if dropped {
            self.persist(&reg)?;
        }
        *self.active.write() = ActiveSet::from_registry(&reg, &self.shadow_busy);
        *self.registry.lock() = reg;
        Ok(())
    }

    fn restore_entry(
        &self,
        storage: &Storage,
        entry: &PersistedEntry,
    ) -> Result<LoadedPlugin, PluginError> {
        let wasm = storage
            .plugin_wasm(&entry.code_hash)?
            .ok_or_else(|| PluginError::CorruptState("component bytes missing".into()))?;
        if keccak256(&wasm) != entry.code_hash {
            return Err(PluginError::CorruptState(
                "component bytes do not match their hash".into(),
            ));
        }
        let plugin = kinds::load(
            &self.engine,
            self.config.limits(entry.kind),
            entry.kind,
            &wasm,
            &entry.config,
        )?;
        if plugin.info.id != entry.id {
            return Err(PluginError::CorruptState(format!(
                "id {} recomputes as {}",
                entry.id, plugin.info.id
            )));
        }
        Ok(plugin)
    }

    fn persist(&self, reg: &Registry) -> Result<(), PluginError> {
        if let Some(storage) = &self.storage {
            let bytes = serde_json::to_vec(&reg.persisted())
                .map_err(|e| PluginError::CorruptState(e.to_string()))?;
            storage.put_plugin_state(&bytes)?;
        }
        Ok(())
    }

    /// Applies `f` to a copy of the registry, persists the copy, then makes it current.
    fn mutate<T>(
        &self,
        f: impl FnOnce(&mut Registry) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let mut reg = self.registry.lock();
        let mut next = reg.clone();
        let out = f(&mut next)?;
        self.persist(&next)?;
        *self.active.write() = ActiveSet::from_registry(&next, &self.shadow_busy);
        *reg = next;
        Ok(out)
    }

    /// How many plugin components this manager took from their stored compiled artifacts
    /// instead of compiling them (a restart with unchanged plugins compiles none).
    pub fn artifacts_loaded(&self) -> u64 {
        self.engine.artifacts_loaded()
    }

    /// The configured limits.
    pub fn config(&self) -> &PluginsConfig {
        &self.config
    }

    /// Keeps the per-block plugin calls inside a block time of `block_time_ms`, from the
    /// next call on (at start and whenever an operator changes the block time): an
    /// ordering call gets at most half the slot, so even one that spins until its deadline
    /// leaves time to execute and seal on schedule; a searcher call an eighth (the
    /// searchers' round gets two searcher deadlines, a quarter of the slot).
    pub fn set_block_time(&self, block_time_ms: u64) {
        for kind in PluginKind::ALL {
            let Some(cap) = kinds::block_deadline_cap(kind, block_time_ms) else {
                continue;
            };
            let configured = self.config.limits(kind).deadline_ms;
            if configured > cap {
                tracing::info!(target: "ordo::plugins", kind = kind.as_str(), configured, used = cap, block_time_ms, "plugin deadline capped by the block time");
            }
            self.engine.set_deadline_cap(kind, cap);
        }
    }

    /// The limits a call of `kind` runs under now (configured, capped by the block time).
    pub fn effective_limits(&self, kind: PluginKind) -> CallLimits {
        self.engine.capped(kind, self.config.limits(kind))
    }

    /// Loads a plugin: checks imports and the API section, compiles (cached by code hash),
    /// reads its metadata (kind must match, name `[a-z0-9-]{1,64}`), runs the kind's
    /// self-test, stores the bytes and the entry. Loading the same bytes, kind and config
    /// again returns the same plugin. Slow: call it from `spawn_blocking`. Does not
    /// activate.
    pub fn load(
        &self,
        kind: PluginKind,
        wasm: &[u8],
        config: &str,
    ) -> Result<PluginInfo, PluginError> {
        let id = plugin_id(&keccak256(wasm), kind, config);
        if let Some(p) = self.registry.lock().get(&id) {
            return Ok(p.info.clone());
        }
        // Not under the registry lock: compiling and self-testing take a while and must
        // not hold up activations or the block path's failure accounting.
        let plugin = kinds::load(&self.engine, self.config.limits(kind), kind, wasm, config)?;
        if let Some(storage) = &self.storage {
            storage.put_plugin_wasm(&plugin.info.code_hash, wasm)?;
        }
        let info = plugin.info.clone();
        self.mutate(|reg| {
            if reg.get(&info.id).is_none() {
                reg.loaded.push(Arc::new(plugin));
            }
            Ok(())
        })?;
        log_lifecycle(&info, "loaded");
        Ok(info)
    }

    /// Makes a loaded plugin the active one of its kind, from the next call on (for
    /// ordering: the next block). The previous active plugin goes onto the kind's history.
    ///
    /// Searchers have no slot: activating one adds it to the end of the active set (the
    /// others stay active; activating an active searcher changes nothing) and takes it off
    /// the searcher history.
    pub fn activate(&self, id: &str) -> Result<PluginInfo, PluginError> {
        let info = self.mutate(|reg| {
            let plugin = reg
                .get(id)
                .ok_or_else(|| PluginError::UnknownPlugin(id.to_string()))?
                .clone();
            let kind = plugin.info.kind;
            if !kinds::has_slot(kind) {
                if !reg.searchers.iter().any(|s| s == id) {
                    reg.searchers.push(id.to_string());
                }
                if let Some(history) = reg.history.get_mut(&kind) {
                    history.retain(|h| h != id);
                }
                return Ok(plugin.info.clone());
            }
            if let Some(previous) = reg.active.insert(kind, id.to_string())
                && previous != id
            {
                reg.history.entry(kind).or_default().push(previous);
            }
            Ok(plugin.info.clone())
        })?;
        log_lifecycle(&info, "activated");
        Ok(info)
    }

    /// Rolls `kind` back to the previous version in its history, or to none (ordering:
    /// the native policy). Returns the new active plugin.
    ///
    /// Searchers: deactivates the most recently activated searcher (see
    /// [`deactivate`](Self::deactivate)); nothing is re-activated and the answer is
    /// always `None`. With no active searcher it does nothing.
    pub fn rollback(&self, kind: PluginKind) -> Result<Option<PluginInfo>, PluginError> {
        if !kinds::has_slot(kind) {
            let last = self.registry.lock().searchers.last().cloned();
            if let Some(id) = last {
                self.deactivate(&id)?;
            }
            return Ok(None);
        }
        let (from, to) = self.mutate(|reg| {
            let from = reg.active_plugin(kind).cloned();
            let to = reg.rollback(kind);
            Ok((from, to.and_then(|id| reg.get(&id).map(|p| p.info.clone()))))
        })?;
        if let Some(from) = &from {
            from.health.rolled_back();
        }
        tracing::info!(
            target: "ordo::plugins",
            kind = %kind,
            from = from.as_ref().map(|p| p.info.id.as_str()).unwrap_or("none"),
            to = to.as_ref().map(|p| p.id.as_str()).unwrap_or("none"),
            "plugin slot rolled back"
        );
        Ok(to)
    }

    /// Forgets a loaded plugin that is neither active nor shadowing (it also leaves the
    /// rollback histories). An active searcher is deactivated first. Its component bytes are deleted from storage once no other
    /// entry uses them.
    pub fn unload(&self, id: &str) -> Result<PluginInfo, PluginError> {
        let (info, orphan) = self.mutate(|reg| {
            let plugin = reg
                .get(id)
                .ok_or_else(|| PluginError::UnknownPlugin(id.to_string()))?
                .clone();
            // An active searcher is simply taken out of the set.
            reg.searchers.retain(|s| s != id);
            if reg.active.values().any(|a| a == id) {
                return Err(PluginError::NotSupported(format!(
                    "{id} is active: activate another plugin or roll back first"
                )));
            }
            if reg.shadow.as_ref().is_some_and(|s| s.id == id) {
                return Err(PluginError::NotSupported(format!(
                    "{id} is the shadow: unshadow first"
                )));
            }
            reg.loaded.retain(|p| p.info.id != id);
            for ids in reg.history.values_mut() {
                ids.retain(|h| h != id);
            }
            let orphan = !reg
                .loaded
                .iter()
                .any(|p| p.info.code_hash == plugin.info.code_hash);
            Ok((plugin.info.clone(), orphan))
        })?;
        if orphan && let Some(storage) = &self.storage {
            storage.remove_plugin_wasm(&info.code_hash)?;
        }
        log_lifecycle(&info, "unloaded");
        Ok(info)
    }

    /// Runs a loaded ordering plugin beside the active policy on every block, on its own
    /// thread, and compares the answers. Never affects blocks. Replaces any shadow.
    pub fn shadow(&self, id: &str) -> Result<(), PluginError> {
        self.mutate(|reg| {
            let plugin = reg
                .get(id)
                .ok_or_else(|| PluginError::UnknownPlugin(id.to_string()))?;
            if !kinds::can_shadow(plugin.info.kind) {
                return Err(PluginError::NotSupported(
                    "only ordering plugins can shadow".into(),
                ));
            }
            reg.shadow = Some(ShadowEntry {
                id: id.to_string(),
                stats: Arc::default(),
            });
            Ok(())
        })
    }

    /// Stops shadowing.
    pub fn unshadow(&self) -> Result<(), PluginError> {
        self.mutate(|reg| {
            reg.shadow = None;
            Ok(())
        })
    }

    /// Takes an active searcher out of the active set, from the next
    /// [`SearcherHost::search`](ordo_hooks::SearcherHost::search) on, and records it at
    /// the end of the searcher history (counted as a rollback in its health). Other kinds
    /// have a slot: use [`rollback`](Self::rollback) or activate another plugin.
    pub fn deactivate(&self, id: &str) -> Result<PluginInfo, PluginError> {
        let plugin = self.mutate(|reg| {
            let plugin = reg
                .get(id)
                .ok_or_else(|| PluginError::UnknownPlugin(id.to_string()))?
                .clone();
            if kinds::has_slot(plugin.info.kind) {
                return Err(PluginError::NotSupported(format!(
                    "only searchers can be deactivated; {} plugins roll back",
                    plugin.info.kind
                )));
            }
            if !reg.deactivate_searcher(id) {
                return Err(PluginError::NotSupported(format!("{id} is not active")));
            }
            Ok(plugin)
        })?;
        plugin.health.rolled_back();
        log_lifecycle(&plugin.info, "deactivated");
        Ok(plugin.info.clone())
    }

    /// The builder's searcher host: each `search` runs every active searcher, in
    /// activation order, each in a fresh store under the `searcher` limits with the given
    /// pre-state behind its `pre-state` imports, and returns their checked bundles tagged
    /// with their names. A failing searcher is skipped for that block and counted.
    pub fn searcher_host(self: &Arc<Self>) -> Arc<dyn SearcherHost> {
        Arc::new(ActiveSearchers(self.clone()))
    }

    /// The registry, the active set, health counters and the shadow comparison.
    pub fn list(&self) -> PluginsReport {
        let reg = self.registry.lock().clone();
        PluginsReport {
            active: PluginKind::ALL
                .into_iter()
                .filter(|k| kinds::has_slot(*k))
                .map(|k| (k, reg.active_plugin(k).map(|p| p.info.clone())))
                .collect(),
            loaded: reg
                .loaded
                .iter()
                .map(|p| LoadedReport {
                    info: p.info.clone(),
                    config: p.config.to_string(),
                    codec_id: p.codec_id,
                    active: reg.is_active(p),
                    health: p.health.report(),
                })
                .collect(),
            history: reg.history.clone(),
            shadow: reg.shadow.as_ref().map(|s| s.stats.lock().report(&s.id)),
            active_searchers: reg
                .searchers
                .iter()
                .filter_map(|id| reg.get(id).map(|p| p.info.clone()))
                .collect(),
        }
    }

    /// The builder's policy source: each `current()` fixes the active ordering plugin (or
    /// the native policy) and the shadow for one block.
    pub fn ordering_source(self: &Arc<Self>) -> Arc<dyn PolicySource> {
        Arc::new(ManagerSource(self.clone()))
    }

    /// The active compression plugin, if any (none: the batcher's native codec).
    pub fn compressor(self: &Arc<Self>) -> Option<Compressor> {
        let plugin = self.active.read().compression.clone()?;
        Some(Compressor {
            supervisor: self.clone(),
            plugin,
        })
    }

    /// The batcher's view of the compression and prover slots: the active plugins, asked
    /// once per batch so a swap applies from the next batch on.
    pub fn batch_plugins(self: &Arc<Self>) -> Arc<dyn ordo_hooks::BatchPlugins> {
        Arc::new(ManagerBatchPlugins(self.clone()))
    }

    /// A batch reader's view of every loaded compression plugin, active or not, found by
    /// the code hash a batch header records (derivation decodes batches with it). Calls
    /// are counted like the active compressor's.
    pub fn batch_codecs(self: &Arc<Self>) -> Arc<dyn ordo_hooks::BatchCodecs> {
        Arc::new(ManagerCodecs(self.clone()))
    }

    /// The active prover plugin, if any.
    pub fn prover(self: &Arc<Self>) -> Option<Prover> {
        let plugin = self.active.read().prover.clone()?;
        Some(Prover {
            supervisor: self.clone(),
            plugin,
        })
    }

    /// Instantiates a loaded plugin in a fresh store and calls `metadata()`: a liveness
    /// probe for the operator, and the benchmark of a call's fixed cost. Not counted.
    pub fn probe(&self, id: &str) -> Result<(), PluginError> {
        let plugin = self
            .registry
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| PluginError::UnknownPlugin(id.to_string()))?;
        plugin
            .call_metadata(&self.engine)
            .map(|_| ())
            .map_err(|failure| PluginError::Call {
                during: "metadata()",
                failure,
            })
    }

    /// Waits until no shadow run is in flight (tests, orderly shutdown). False on timeout.
    pub fn wait_shadow_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.shadow_busy.load(Ordering::Acquire) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    // ---- Automatic rollback ------------------------------------------------------------

    fn auto_rollback(&self, plugin: &Arc<LoadedPlugin>, streak: u32) {
        let kind = plugin.info.kind;
        if !kinds::has_slot(kind) {
            self.auto_deactivate(plugin, streak);
            return;
        }
        let mut reg = self.registry.lock();
        // Only the plugin still in the slot is rolled back: a failure of a snapshot taken
        // before an operator's swap must not undo the swap.
        if reg.active.get(&kind) != Some(&plugin.info.id) {
            return;
        }
        let mut next = reg.clone();
        let to = next.rollback(kind);
        // Stop using a failing plugin even if the write fails: it would only come back
        // after a restart, and then fail its way out again.
        if let Err(e) = self.persist(&next) {
            tracing::error!(target: "ordo::plugins", "rollback not persisted: {e}");
        }
        *self.active.write() = ActiveSet::from_registry(&next, &self.shadow_busy);
        *reg = next;
        drop(reg);
        plugin.health.rolled_back();
        tracing::warn!(
            target: "ordo::plugins",
            kind = %kind,
            plugin = %plugin.info.name,
            version = %plugin.info.version,
            code_hash = %plugin.info.code_hash,
            consecutive_failures = streak,
            to = to.as_deref().unwrap_or("none (native)"),
            "plugin rolled back after consecutive failures"
        );
    }

    /// A searcher's automatic rollback: out of the active set, onto the searcher history.
    fn auto_deactivate(&self, plugin: &Arc<LoadedPlugin>, streak: u32) {
        let mut reg = self.registry.lock();
        let mut next = reg.clone();
        // Only a searcher still active is deactivated (the operator may have done it).
        if !next.deactivate_searcher(&plugin.info.id) {
            return;
        }
        if let Err(e) = self.persist(&next) {
            tracing::error!(target: "ordo::plugins", "deactivation not persisted: {e}");
        }
        *self.active.write() = ActiveSet::from_registry(&next, &self.shadow_busy);
        *reg = next;
        drop(reg);
        plugin.health.rolled_back();
        tracing::warn!(
            target: "ordo::plugins",
            kind = %plugin.info.kind,
            plugin = %plugin.info.name,
            version = %plugin.info.version,
            code_hash = %plugin.info.code_hash,
            consecutive_failures = streak,
            "searcher deactivated after consecutive failures"
        );
    }
}

struct ManagerSource(Arc<PluginManager>);

impl PolicySource for ManagerSource {
    fn current(&self) -> Arc<dyn OrderingPolicy> {
        let set = self.0.active.read();
        Arc::new(BlockPolicy {
            supervisor: self.0.clone(),
            active: set.ordering.clone(),
            shadow: set.shadow.clone(),
        })
    }
}

/// One log line per registry change, always with the plugin's full identity.
fn log_lifecycle(info: &PluginInfo, event: &str) {
    tracing::info!(
        target: "ordo::plugins",
        id = %info.id,
        kind = %info.kind,
        plugin = %info.name,
        version = %info.version,
        code_hash = %info.code_hash,
        "plugin {event}"
    );
}

/// [`ordo_hooks::BatchPlugins`] over the manager's compression and prover slots.
struct ManagerBatchPlugins(Arc<PluginManager>);

impl ordo_hooks::BatchPlugins for ManagerBatchPlugins {
    fn codec(&self) -> Option<Arc<dyn ordo_hooks::BatchCodec>> {
        self.0
            .compressor()
            .map(|c| Arc::new(c) as Arc<dyn ordo_hooks::BatchCodec>)
    }

    fn prover(&self) -> Option<Arc<dyn ordo_hooks::BatchProver>> {
        self.0
            .prover()
            .map(|p| Arc::new(p) as Arc<dyn ordo_hooks::BatchProver>)
    }
}

/// [`ordo_hooks::BatchCodecs`] over every loaded compression plugin (the plugins with a
/// codec id) and every loaded prover.
struct ManagerCodecs(Arc<PluginManager>);

impl ordo_hooks::BatchCodecs for ManagerCodecs {
    fn by_code_hash(&self, code_hash: &B256) -> Option<Arc<dyn ordo_hooks::BatchCodec>> {
        let plugin = self
            .0
            .registry
            .lock()
            .loaded
            .iter()
            .find(|p| p.codec_id.is_some() && p.info.code_hash == *code_hash)
            .cloned()?;
        Some(Arc::new(Compressor {
            supervisor: self.0.clone(),
            plugin,
        }))
    }

    fn prover(&self, code_hash: &B256) -> Option<Arc<dyn ordo_hooks::BatchProver>> {
        let plugin = self
            .0
            .registry
            .lock()
            .loaded
            .iter()
            .find(|p| p.info.kind == PluginKind::Prover && p.info.code_hash == *code_hash)
            .cloned()?;
        Some(Arc::new(Prover {
            supervisor: self.0.clone(),
            plugin,
        }))
    }
}

/// What the per-kind adapters the manager hands out (block policies, searcher hosts,
/// compressors, provers) call back into.
impl Supervisor for PluginManager {
    fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    fn config(&self) -> &PluginsConfig {
        &self.config
    }

    fn active_searchers(&self) -> Vec<Arc<LoadedPlugin>> {
        self.active.read().searchers.clone()
    }

    fn failed(&self, plugin: &Arc<LoadedPlugin>, failure: &CallFailure, elapsed: Duration) {
        let streak = plugin.health.failure(failure, elapsed);
        tracing::warn!(
            target: "ordo::plugins",
            kind = %plugin.info.kind,
            plugin = %plugin.info.name,
            version = %plugin.info.version,
            code_hash = %plugin.info.code_hash,
            reason = %failure.reason,
            consecutive = streak,
            "plugin call failed, {}: {}",
            kinds::fallback(plugin.info.kind),
            failure.detail
        );
        if streak >= self.config.max_consecutive_failures {
            self.auto_rollback(plugin, streak);
        }
    }
}
