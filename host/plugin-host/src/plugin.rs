//! A loaded plugin: compiled, linked, its exports type-checked, its metadata read, its
//! self-test passed. Calls instantiate it afresh in a new store each time. What loading
//! checks differently per kind (imports, exports, self-test) comes in as a
//! [`KindContract`] from `kinds`.

use std::sync::Arc;

use alloy_primitives::{B256, keccak256};
use parking_lot::Mutex;
use wasmtime::component::{ComponentExportIndex, Instance, InstancePre};

use crate::{
    abi::RawCandidateSet,
    bindings::types,
    config::CallLimits,
    engine::{CallStore, PluginEngine, PluginTag, StoreData},
    error::{CallFailure, FailureReason, PluginError},
    health::Health,
    info::{PluginInfo, PluginKind},
    validate,
};

/// Export indices resolved once at load, so a call does no string lookups.
pub(crate) enum Exports {
    Ordering {
        order: ComponentExportIndex,
    },
    Compression {
        codec_id: ComponentExportIndex,
        compress: ComponentExportIndex,
        decompress: ComponentExportIndex,
    },
    Prover {
        on_batch: ComponentExportIndex,
    },
    Searcher {
        search: ComponentExportIndex,
    },
}

/// What loading checks differently per kind; `kinds::contract` fills it in.
pub(crate) struct KindContract {
    /// The `ordo:plugin` interfaces the kind may import (besides `types`).
    pub may_import: &'static [&'static str],
    /// Type-checks the kind's world exports and resolves the ones the host calls; the error
    /// says what is missing or mistyped.
    pub exports: fn(&InstancePre<StoreData>) -> Result<Exports, String>,
    /// The kind's self-test, run last.
    pub self_test: fn(&PluginEngine, &mut LoadedPlugin) -> Result<(), String>,
}

pub(crate) struct LoadedPlugin {
    pub info: PluginInfo,
    pub config: Arc<str>,
    pub tag: Arc<PluginTag>,
    pub limits: CallLimits,
    pub exports: Exports,
    /// The codec id a compression plugin reported at load (`None` for other kinds).
    pub codec_id: Option<u32>,
    pub health: Health,
    /// The WIT candidate buffers of the last ordering call, reused by the next one.
    pub scratch: Mutex<RawCandidateSet>,
    pre: InstancePre<StoreData>,
    metadata: ComponentExportIndex,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A plugin's registry id: the same bytes, kind and config always give the same id.
pub(crate) fn plugin_id(code_hash: &B256, kind: PluginKind, config: &str) -> String {
    let mut buf = Vec::with_capacity(33 + config.len());
    buf.extend_from_slice(code_hash.as_slice());
    buf.push(kind as u8);
    buf.extend_from_slice(config.as_bytes());
    alloy_primitives::hex::encode(&keccak256(&buf)[..8])
}

/// The export `name` (inside the exported interface `iface`, if given).
pub(crate) fn export(
    pre: &InstancePre<StoreData>,
    iface: Option<&ComponentExportIndex>,
    name: &str,
) -> Result<ComponentExportIndex, String> {
    pre.component()
        .get_export_index(iface, name)
        .ok_or_else(|| format!("no export `{name}`"))
}

impl LoadedPlugin {
    /// A span around one call, so everything logged inside names the plugin.
    pub(crate) fn span(&self, call: &'static str) -> tracing::Span {
        tracing::info_span!(
            "plugin",
            plugin = %self.info.name,
            version = %self.info.version,
            kind = %self.info.kind,
            call
        )
    }

    /// Validates, compiles (or reuses the compilation of the same bytes), links, reads the
    /// metadata and runs the kind's self-test, checking what `contract` says of `kind`.
    /// Slow; never on the block path.
    pub fn load(
        engine: &PluginEngine,
        limits: CallLimits,
        kind: PluginKind,
        bytes: &[u8],
        config: &str,
        contract: &KindContract,
    ) -> Result<Self, PluginError> {
        let code_hash = keccak256(bytes);
        validate::inspect(bytes, kind, contract.may_import)?;
        let component = engine.compile(code_hash, bytes)?;
        // The parse above already refused bad imports; wasmtime's own view of the type is
        // authoritative, so check it too (it costs microseconds).
        let bad: Vec<String> = component
            .component_type()
            .imports(&engine.engine)
            .filter(|(name, item)| {
                !matches!(item.ty, wasmtime::component::types::ComponentItem::Type(_))
                    && !validate::import_allowed(name, contract.may_import)
            })
            .map(|(name, _)| name.to_string())
            .collect();
        if !bad.is_empty() {
            return Err(PluginError::ForbiddenImports {
                kind,
                imports: bad,
                may_import: contract.may_import,
            });
        }
        let broken = |detail: String| PluginError::Contract { kind, detail };
        let pre = engine
            .linker
            .instantiate_pre(&component)
            .map_err(|e| broken(format!("{e:#}")))?;
        let exports = (contract.exports)(&pre).map_err(broken)?;
        let metadata = export(&pre, None, "metadata").map_err(broken)?;

        let config: Arc<str> = Arc::from(config);
        let mut plugin = Self {
            info: PluginInfo {
                id: plugin_id(&code_hash, kind, &config),
                kind,
                name: String::new(),
                version: String::new(),
                code_hash,
            },
            config,
            tag: Arc::new(PluginTag {
                name: "(loading)".into(),
                version: "?".into(),
                code_hash,
            }),
            limits,
            exports,
            codec_id: None,
            health: Health::default(),
            scratch: Mutex::new(RawCandidateSet::default()),
            pre,
            metadata,
        };

        let meta = plugin
            .call_metadata(engine)
            .map_err(|failure| PluginError::Call {
                during: "metadata()",
                failure,
            })?;
        let found = PluginKind::from(meta.kind);
        if found != kind {
            return Err(PluginError::KindMismatch {
                expected: kind,
                found,
            });
        }
        if !validate::name_valid(&meta.name) {
            return Err(PluginError::InvalidName(meta.name));
        }
        plugin.tag = Arc::new(PluginTag {
            name: meta.name.clone(),
            version: meta.version.clone(),
            code_hash,
        });
        plugin.info.name = meta.name;
        plugin.info.version = meta.version;

        (contract.self_test)(engine, &mut plugin).map_err(PluginError::SelfTest)?;
        Ok(plugin)
    }

    /// This plugin's limits as they apply to a call now (the engine's deadline cap for the
    /// kind applied).
    pub fn call_limits(&self, engine: &PluginEngine) -> CallLimits {
        engine.capped(self.info.kind, self.limits)
    }

    /// A fresh call scope: a new store with this plugin's limits and a new instance.
    pub fn instantiate(&self, engine: &PluginEngine) -> Result<(CallStore, Instance), CallFailure> {
        let limits = self.call_limits(engine);
        let mut cs = engine.store(limits, self.tag.clone(), self.config.clone())?;
        let instance = self
            .pre
            .instantiate(&mut cs.store)
            .map_err(|e| cs.classify(&e, FailureReason::Instantiate))?;
        Ok((cs, instance))
    }

    pub fn call_metadata(&self, engine: &PluginEngine) -> Result<types::Metadata, CallFailure> {
        let (mut cs, instance) = self.instantiate(engine)?;
        let func = cs.typed::<(), (types::Metadata,)>(&instance, &self.metadata)?;
        let (meta,) = func
            .call(&mut cs.store, ())
            .map_err(|e| cs.classify(&e, FailureReason::InvalidAnswer))?;
        Ok(meta)
    }

    /// `plugin name@version (hash)`, the prefix of every failure message.
    pub fn label(&self) -> String {
        self.tag.to_string()
    }
}
