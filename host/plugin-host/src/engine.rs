//! Engine policy in one place: the wasmtime configuration, the epoch ticker, the compiled
//! component cache (in memory, and across restarts as artifacts in the node's storage), the
//! per-call store with its limits, and failure classification.

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use alloy_primitives::{B256, keccak256};
use ordo_storage::Storage;
use parking_lot::{Condvar, Mutex};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
    component::{Component, HasSelf, Linker},
};

use crate::{
    bindings::{self, host::LogLevel},
    config::{CallLimits, PluginsConfig},
    error::{CallFailure, FailureReason, MAX_LOG_LINE_BYTES, PluginError},
    info::PluginKind,
    pre_state::SearchState,
};

/// Epoch tick. Deadlines are whole ticks, and the ticker starts when a call scope opens (see
/// [`Ticking`]), so a deadline of `n` ms fires after `n` ms and a wake-up or so.
pub(crate) const TICK: Duration = Duration::from_millis(1);
/// Native stack a plugin may use. Fixed so a deep recursion traps the same way everywhere.
const MAX_WASM_STACK: usize = 512 << 10;
/// Instances alive at once across all stores: one per in-flight call (block, shadow, batch,
/// a load's self-test) with plenty of headroom. Bounds the pool's address-space reservation.
const POOL_COMPONENT_INSTANCES: u32 = 64;
/// A wit-bindgen component is a main module plus a few shim modules.
const POOL_CORE_INSTANCES_PER_COMPONENT: u32 = 16;
/// Linear memory kept committed (zeroed with memset, not decommitted) when an instance is
/// freed. Every block is a fresh instance that writes a few MiB (10k candidates are 1.8 MiB
/// of records, plus the guest's own copies); decommitting them made each block pay a page
/// fault per 4 KiB, which cost more than the ordering itself.
const KEEP_RESIDENT_BYTES: usize = 16 << 20;
/// Per-store caps beyond the memory cap.
const STORE_MAX_INSTANCES: usize = 32;
const STORE_MAX_TABLES: usize = 16;
const STORE_MAX_MEMORIES: usize = 4;
const STORE_MAX_TABLE_ELEMENTS: usize = 100_000;
/// Lines a plugin may log per call; the rest are counted and reported once.
pub(crate) const MAX_LOG_LINES_PER_CALL: u32 = 100;

/// Who is running, for logs and error messages.
#[derive(Debug, Clone)]
pub(crate) struct PluginTag {
    pub name: String,
    pub version: String,
    pub code_hash: B256,
}

impl PluginTag {
    /// First four bytes of the code hash: enough to tell builds apart in a log line.
    pub fn short_hash(&self) -> String {
        short_hash(&self.code_hash)
    }
}

pub(crate) fn short_hash(hash: &B256) -> String {
    format!("0x{}", alloy_primitives::hex::encode(&hash[..4]))
}

impl fmt::Display for PluginTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugin {}@{} ({})",
            self.name,
            self.version,
            self.short_hash()
        )
    }
}

/// Enforces the memory cap and remembers that it did, so the resulting trap is reported as
/// "memory" rather than as whatever the guest's allocator did next.
pub(crate) struct CallLimiter {
    memory_cap: usize,
    pub memory_exceeded: bool,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_exceeded = true;
            // A trap, not a failed `memory.grow`: an allocator that handles the failure
            // would otherwise keep a well-defined but useless plugin running to its deadline.
            wasmtime::bail!("memory cap of {} bytes exceeded", self.memory_cap);
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= STORE_MAX_TABLE_ELEMENTS && maximum.is_none_or(|max| desired <= max))
    }

    fn instances(&self) -> usize {
        STORE_MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        STORE_MAX_TABLES
    }

    fn memories(&self) -> usize {
        STORE_MAX_MEMORIES
    }
}

/// What a store carries: the limiter and the host-import state of one call scope.
pub(crate) struct StoreData {
    pub limiter: CallLimiter,
    tag: Arc<PluginTag>,
    config: Arc<str>,
    log_lines: u32,
    log_dropped: u32,
    /// The pre-state and gas budget of a searcher call (`None` for other kinds).
    pub search: Option<SearchState>,
}

impl StoreData {
    /// Reports lines dropped by the rate limit, once per call scope.
    fn flush_log(&mut self) {
        if self.log_dropped > 0 {
            tracing::warn!(
                target: "ordo::plugins",
                plugin = %self.tag.name,
                version = %self.tag.version,
                code_hash = %self.tag.short_hash(),
                dropped = self.log_dropped,
                "plugin log lines dropped (at most {MAX_LOG_LINES_PER_CALL} per call)"
            );
            self.log_dropped = 0;
        }
    }
}

impl Drop for StoreData {
    fn drop(&mut self) {
        self.flush_log();
    }
}

impl bindings::host::Host for StoreData {
    fn log(&mut self, level: LogLevel, mut message: String) {
        if self.log_lines >= MAX_LOG_LINES_PER_CALL {
            self.log_dropped = self.log_dropped.saturating_add(1);
            return;
        }
        self.log_lines += 1;
        if message.len() > MAX_LOG_LINE_BYTES {
            let mut cut = MAX_LOG_LINE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let tag = &self.tag;
        let hash = tag.short_hash();
        macro_rules! emit {
            ($lvl:ident) => {
                tracing::$lvl!(
                    target: "ordo::plugins::guest",
                    plugin = %tag.name,
                    version = %tag.version,
                    code_hash = %hash,
                    "{message}"
                )
            };
        }
        match level {
            LogLevel::Trace => emit!(trace),
            LogLevel::Debug => emit!(debug),
            LogLevel::Info => emit!(info),
            LogLevel::Warn => emit!(warn),
            LogLevel::Error => emit!(error),
        }
    }

    fn config(&mut self) -> String {
        self.config.to_string()
    }
}

impl bindings::types::Host for StoreData {}

/// A store for one call scope, with every limit armed.
pub(crate) struct CallStore {
    pub store: Store<StoreData>,
    limits: CallLimits,
    /// Keeps the epoch ticker running while this scope is open.
    _ticking: TickingScope,
}

/// What the epoch ticker runs for: the call scopes open now. A ticker that woke every
/// millisecond with no call to interrupt cost an idle node a thousand wake-ups a second
/// (about 1.5% of a core here); it now sleeps until a scope opens. A deadline still counts
/// from its scope's start: the first tick after a wake comes a whole tick later.
#[derive(Default)]
struct Ticking {
    state: Mutex<TickingState>,
    wake: Condvar,
}

#[derive(Default)]
struct TickingState {
    open: usize,
    stop: bool,
}

impl Ticking {
    /// Opens a call scope: the ticker runs until every open scope is dropped.
    fn open(self: &Arc<Self>) -> TickingScope {
        let mut state = self.state.lock();
        state.open += 1;
        if state.open == 1 {
            self.wake.notify_one();
        }
        TickingScope(self.clone())
    }

    /// Blocks the ticker until a scope is open; false once the engine stops.
    fn wait_for_scope(&self) -> bool {
        let mut state = self.state.lock();
        while state.open == 0 && !state.stop {
            self.wake.wait(&mut state);
        }
        !state.stop
    }

    fn stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_one();
    }
}

struct TickingScope(Arc<Ticking>);

impl Drop for TickingScope {
    fn drop(&mut self) {
        self.0.state.lock().open -= 1;
    }
}

impl CallStore {
    /// `export` of `instance` as a typed function; a missing or mistyped export is an
    /// instantiation failure.
    pub fn typed<P, R>(
        &mut self,
        instance: &wasmtime::component::Instance,
        export: &wasmtime::component::ComponentExportIndex,
    ) -> Result<wasmtime::component::TypedFunc<P, R>, CallFailure>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
    {
        instance
            .get_typed_func::<P, R>(&mut self.store, export)
            .map_err(|e| self.classify(&e, FailureReason::Instantiate))
    }

    /// One call of a contract function returning `result<T, plugin-error>`: a trap, a
    /// limit or an answer that does not lift is classified; the plugin's own error is a
    /// `plugin-error` failure carrying its message.
    pub fn call<P, T>(
        &mut self,
        func: &wasmtime::component::TypedFunc<P, (Result<T, bindings::types::PluginError>,)>,
        params: P,
    ) -> Result<T, CallFailure>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower + Send + Sync,
        (Result<T, bindings::types::PluginError>,):
            wasmtime::component::ComponentNamedList + wasmtime::component::Lift + Send + Sync,
    {
        let (answer,) = func
            .call(&mut self.store, params)
            .map_err(|e| self.classify(&e, FailureReason::InvalidAnswer))?;
        answer.map_err(|e| CallFailure::new(FailureReason::PluginError, e.message))
    }

    /// Turns a wasmtime error from this store into a classified failure. `otherwise` is the
    /// reason when nothing more specific is known (a lift error is an invalid answer, an
    /// instantiation error is `instantiate`).
    pub fn classify(&self, err: &wasmtime::Error, otherwise: FailureReason) -> CallFailure {
        if self.store.data().limiter.memory_exceeded {
            return CallFailure::new(
                FailureReason::Memory,
                format!(
                    "memory cap of {} MiB exceeded",
                    self.limits.memory_bytes >> 20
                ),
            );
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallFailure::new(
                FailureReason::Timeout,
                format!("deadline of {} ms exceeded", self.limits.deadline_ms),
            ),
            Some(Trap::OutOfFuel) => CallFailure::new(
                FailureReason::OutOfFuel,
                format!("fuel budget of {} exhausted", self.limits.fuel),
            ),
            Some(Trap::StackOverflow) => CallFailure::new(
                FailureReason::StackOverflow,
                format!("wasm stack of {} KiB exhausted", MAX_WASM_STACK >> 10),
            ),
            Some(trap) => CallFailure::new(FailureReason::Trap, trap.to_string()),
            None => CallFailure::new(otherwise, format!("{err:#}")),
        }
    }
}

/// The process's wasmtime engine, its ticker and its compiled-component cache.
pub(crate) struct PluginEngine {
    pub engine: Engine,
    pub linker: Linker<StoreData>,
    compiled: Mutex<HashMap<B256, Component>>,
    /// Where compiled components outlive the process (the node's storage), if anywhere:
    /// compiling the shipped plugins took about 2 s of every start.
    artifacts: Option<Arc<Storage>>,
    /// The engine's compilation settings as an artifact's key: an artifact another build
    /// or configuration compiled is never looked up.
    engine_key: u64,
    /// Components deserialized from stored artifacts instead of compiled.
    artifacts_loaded: AtomicU64,
    ticking: Arc<Ticking>,
    ticker: Option<JoinHandle<()>>,
    /// Per kind (indexed by `PluginKind as usize`), the most milliseconds a call may take
    /// whatever its plugin was loaded with: the node keeps it within the block time,
    /// which an operator can change while the plugins stay loaded. `u64::MAX`: no cap.
    deadline_caps: [AtomicU64; 4],
}

impl PluginEngine {
    pub fn new(config: &PluginsConfig) -> Result<Self, PluginError> {
        let mut pool = PoolingAllocationConfig::new();
        let slot = usize::try_from(config.max_memory_bytes()).unwrap_or(usize::MAX);
        pool.total_component_instances(POOL_COMPONENT_INSTANCES)
            .total_core_instances(POOL_COMPONENT_INSTANCES * POOL_CORE_INSTANCES_PER_COMPONENT)
            .max_core_instances_per_component(POOL_CORE_INSTANCES_PER_COMPONENT)
            .total_memories(POOL_COMPONENT_INSTANCES * 2)
            .max_memories_per_component(2)
            .total_tables(POOL_COMPONENT_INSTANCES * 4)
            .max_tables_per_component(8)
            .max_memory_size(slot)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 << 10);

        let mut cfg = Config::new();
        cfg.wasm_component_model(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            // Determinism: the same plugin and input give the same answer on every node.
            .cranelift_nan_canonicalization(true)
            .wasm_relaxed_simd(false)
            .max_wasm_stack(MAX_WASM_STACK)
            .consume_fuel(true)
            .epoch_interruption(true)
            // Concurrency support makes every call set up async task state: ~3x the cost
            // of an empty call, for features no plugin world uses.
            .concurrency_support(false);
        let engine = Engine::new(&cfg).map_err(|e| PluginError::Engine(format!("{e:#}")))?;

        let mut linker = Linker::new(&engine);
        bindings::ordering::OrderingPlugin::add_to_linker::<StoreData, HasSelf<StoreData>>(
            &mut linker,
            |data| data,
        )
        .map_err(|e| PluginError::Engine(format!("{e:#}")))?;
        // Searchers also import `pre-state`; the import checks keep it from other kinds.
        bindings::pre_state::add_to_linker::<StoreData, HasSelf<Option<SearchState>>>(
            &mut linker,
            |data| &mut data.search,
        )
        .map_err(|e| PluginError::Engine(format!("{e:#}")))?;

        // One ticker per engine, ticking while a call scope is open. It holds only a weak
        // handle so dropping the manager frees the engine even if the thread is slow to
        // notice the stop.
        let ticking = Arc::new(Ticking::default());
        let weak = engine.weak();
        let scopes = ticking.clone();
        let ticker = std::thread::Builder::new()
            .name("ordo-plugin-epoch".into())
            .spawn(move || {
                while scopes.wait_for_scope() {
                    std::thread::sleep(TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| PluginError::Engine(format!("epoch ticker: {e}")))?;

        let engine_key = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::hash::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut hasher);
            hasher.finish()
        };
        Ok(Self {
            engine,
            linker,
            compiled: Mutex::new(HashMap::new()),
            artifacts: None,
            engine_key,
            artifacts_loaded: AtomicU64::new(0),
            ticking,
            ticker: Some(ticker),
            deadline_caps: std::array::from_fn(|_| AtomicU64::new(u64::MAX)),
        })
    }

    /// Caps the deadline of every later call of `kind` at `ms` (`u64::MAX`: no cap).
    pub fn set_deadline_cap(&self, kind: PluginKind, ms: u64) {
        self.deadline_caps[kind as usize].store(ms.max(1), Ordering::Relaxed);
    }

    /// `limits` of a `kind` plugin with the deadline cap applied.
    pub fn capped(&self, kind: PluginKind, limits: CallLimits) -> CallLimits {
        let cap = self.deadline_caps[kind as usize].load(Ordering::Relaxed);
        CallLimits {
            deadline_ms: limits.deadline_ms.min(cap),
            ..limits
        }
    }

    /// Keeps compiled components in `storage` across restarts.
    pub fn with_artifacts(mut self, storage: Option<Arc<Storage>>) -> Self {
        self.artifacts = storage;
        self
    }

    /// How many components were loaded from stored artifacts rather than compiled.
    pub fn artifacts_loaded(&self) -> u64 {
        self.artifacts_loaded.load(Ordering::Relaxed)
    }

    /// Compiles `bytes` (or returns the cached compilation of the same bytes, in memory or
    /// stored). Slow: callers on an async runtime use `spawn_blocking`.
    pub fn compile(&self, code_hash: B256, bytes: &[u8]) -> Result<Component, PluginError> {
        if let Some(component) = self.compiled.lock().get(&code_hash) {
            return Ok(component.clone());
        }
        // Compiled outside the lock: two different plugins may compile at once, and the
        // same bytes compiled twice concurrently only waste a little work.
        let component = match self.stored_artifact(&code_hash) {
            Some(component) => component,
            None => {
                let component = Component::new(&self.engine, bytes)
                    .map_err(|e| PluginError::Invalid(format!("{e:#}")))?;
                self.store_artifact(&code_hash, &component);
                component
            }
        };
        self.compiled.lock().insert(code_hash, component.clone());
        Ok(component)
    }

    /// The component stored for `code_hash` under this engine's settings, if there is one
    /// whose bytes are intact. Anything else (none, damaged, refused by wasmtime) is
    /// logged and compiled again.
    #[allow(unsafe_code)]
    fn stored_artifact(&self, code_hash: &B256) -> Option<Component> {
        let storage = self.artifacts.as_ref()?;
        let stored = match storage.plugin_artifact(code_hash, self.engine_key) {
            Ok(stored) => stored?,
            Err(e) => {
                tracing::warn!(target: "ordo::plugins", %code_hash, error = %e, "reading a compiled plugin: compiling it again");
                return None;
            }
        };
        // A keccak of the artifact leads it: deserializing trusts the bytes to be what
        // wasmtime wrote, so bytes that changed on disk are never handed over.
        let (digest, artifact) = stored.split_at_checked(32)?;
        if keccak256(artifact).as_slice() != digest {
            tracing::warn!(target: "ordo::plugins", %code_hash, "a stored compiled plugin is damaged: compiling it again");
            return None;
        }
        // SAFETY: `artifact` is what `Component::serialize` produced in this node, keyed by
        // this engine's compatibility hash and checked against the digest written with it;
        // wasmtime checks its version and settings again and refuses a mismatch. The plugin
        // code in it was validated and compiled by wasmtime from the component that
        // `code_hash` names, and runs sandboxed as if compiled now.
        match unsafe { Component::deserialize(&self.engine, artifact) } {
            Ok(component) => {
                self.artifacts_loaded.fetch_add(1, Ordering::Relaxed);
                Some(component)
            }
            Err(e) => {
                tracing::warn!(target: "ordo::plugins", %code_hash, error = %format!("{e:#}"), "a stored compiled plugin was refused: compiling it again");
                None
            }
        }
    }

    /// Keeps `component` for the next start. A failure costs only a compile then: logged.
    fn store_artifact(&self, code_hash: &B256, component: &Component) {
        let Some(storage) = &self.artifacts else {
            return;
        };
        let stored = component.serialize().map(|artifact| {
            let mut stored = Vec::with_capacity(32 + artifact.len());
            stored.extend_from_slice(keccak256(&artifact).as_slice());
            stored.extend_from_slice(&artifact);
            stored
        });
        let result = match stored {
            Ok(stored) => storage
                .put_plugin_artifact(code_hash, self.engine_key, &stored)
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!("{e:#}")),
        };
        if let Err(e) = result {
            tracing::warn!(target: "ordo::plugins", %code_hash, error = %e, "keeping a compiled plugin: it will be compiled again at the next start");
        }
    }

    /// A fresh store with `limits` armed: fuel, epoch deadline, memory cap, host-call data cap.
    pub fn store(
        &self,
        limits: CallLimits,
        tag: Arc<PluginTag>,
        config: Arc<str>,
    ) -> Result<CallStore, CallFailure> {
        // Ticking before the deadline is armed, so no scope waits for a tick that never comes.
        let ticking = self.ticking.open();
        let memory_cap = usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX);
        let mut store = Store::new(
            &self.engine,
            StoreData {
                limiter: CallLimiter {
                    memory_cap,
                    memory_exceeded: false,
                },
                tag,
                config,
                log_lines: 0,
                log_dropped: 0,
                search: None,
            },
        );
        store.limiter(|data| &mut data.limiter);
        store
            .set_fuel(limits.fuel)
            .map_err(|e| CallFailure::new(FailureReason::Instantiate, format!("{e:#}")))?;
        let ticks = limits.deadline_ms.div_ceil(TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        // Data a guest hands the host in one transfer (an answer list, a log line) can never
        // exceed its own memory; this keeps the host from allocating more than that.
        store.set_hostcall_fuel(memory_cap);
        Ok(CallStore {
            store,
            limits,
            _ticking: ticking,
        })
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticking.stop();
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}
