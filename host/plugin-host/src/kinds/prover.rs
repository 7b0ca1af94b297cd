//! Prover plugins: the world's exports, the call with its size bound, the determinism
//! self-test, and the handle the batcher uses ([`Prover`], also an
//! [`ordo_hooks::BatchProver`]).

use std::{sync::Arc, time::Instant};

use alloy_primitives::B256;
use ordo_hooks::{BatchProver, HookError};
pub use ordo_primitives::BatchHeader;
use wasmtime::component::InstancePre;

use crate::{
    bindings::{self, prover::exports::ordo::plugin::prover as wit},
    convert::bytes32,
    engine::{PluginEngine, StoreData},
    error::{CallFailure, FailureReason, PluginCallError},
    plugin::{Exports, KindContract, LoadedPlugin, export},
    supervisor::{Supervisor, account},
};

/// The world's exported interface, as named in components built against it.
const EXPORT: &str = "ordo:plugin/prover@0.1.0";

/// What loading checks of a prover plugin.
pub(crate) static CONTRACT: KindContract = KindContract {
    may_import: &["host"],
    exports,
    self_test: |engine, plugin| self_test(engine, plugin),
};

fn exports(pre: &InstancePre<StoreData>) -> Result<Exports, String> {
    // The generated indices type-check every export of the world.
    bindings::prover::ProverPluginIndices::new(pre).map_err(|e| format!("{e:#}"))?;
    let iface = export(pre, None, EXPORT)?;
    Ok(Exports::Prover {
        on_batch: export(pre, Some(&iface), "on-batch")?,
    })
}

/// Largest attestation accepted: it is stored with every batch.
pub const MAX_ATTESTATION_BYTES: usize = 1 << 20;

impl From<&BatchHeader> for wit::BatchHeader {
    fn from(h: &BatchHeader) -> Self {
        Self {
            index: h.index,
            first_block: h.first_block,
            last_block: h.last_block,
            last_block_hash: bytes32(&h.last_block_hash.0),
            state_root: bytes32(&h.state_root.0),
            output_root: bytes32(&h.output_root.0),
            codec_id: h.codec_id,
            codec_hash: bytes32(&h.codec_hash.0),
        }
    }
}

/// Calls `on-batch` `times` times in one store (one instance) and returns every answer.
/// Answers are lifted into host memory inside each call (wasmtime runs the guest's
/// post-return, which frees them, before `call` returns); the guest's memory cap bounds the
/// copy and an oversized attestation is refused by its length.
fn call_on_batch(
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    header: &BatchHeader,
    payload: &[u8],
    times: usize,
) -> Result<Vec<Vec<u8>>, CallFailure> {
    let Exports::Prover { on_batch } = &plugin.exports else {
        return Err(CallFailure::new(
            FailureReason::Instantiate,
            "not a prover plugin",
        ));
    };
    let (mut cs, instance) = plugin.instantiate(engine)?;
    let func = cs.typed::<(wit::BatchHeader, &[u8]), _>(&instance, on_batch)?;
    let header = wit::BatchHeader::from(header);
    let mut out = Vec::with_capacity(times);
    for _ in 0..times {
        let list: Vec<u8> = cs.call(&func, (header, payload))?;
        if list.len() > MAX_ATTESTATION_BYTES {
            return Err(CallFailure::invalid(format!(
                "attestation of {} bytes (at most {MAX_ATTESTATION_BYTES})",
                list.len()
            )));
        }
        out.push(list);
    }
    Ok(out)
}

/// Two calls on the same input in one instance must agree: an attestation that depends on
/// anything but its input (leftover state, a counter) cannot be re-derived by anyone.
fn self_test(engine: &PluginEngine, plugin: &LoadedPlugin) -> Result<(), String> {
    let header = BatchHeader {
        index: 0,
        first_block: 1,
        last_block: 16,
        last_block_hash: B256::repeat_byte(0x16),
        state_root: B256::repeat_byte(0x5e),
        output_root: B256::repeat_byte(0x0e),
        codec_id: 1,
        codec_hash: B256::repeat_byte(0xc0),
    };
    let payload: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    let answers = call_on_batch(engine, plugin, &header, &payload, 2).map_err(|f| f.to_string())?;
    if answers.first() != answers.get(1) {
        return Err("not deterministic: two calls on the same batch disagree".into());
    }
    Ok(())
}

/// The active prover plugin, fixed at the time it was taken.
pub struct Prover {
    pub(crate) supervisor: Arc<dyn Supervisor>,
    pub(crate) plugin: Arc<LoadedPlugin>,
}

impl std::fmt::Debug for Prover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover")
            .field("plugin", &self.plugin.info)
            .finish()
    }
}

impl Prover {
    /// The plugin's code hash (recorded with the attestation).
    pub fn code_hash(&self) -> B256 {
        self.plugin.info.code_hash
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.plugin.info.name
    }

    /// The plugin's version.
    pub fn version(&self) -> &str {
        &self.plugin.info.version
    }

    /// The attestation for a batch (at most [`MAX_ATTESTATION_BYTES`]). A failure is
    /// counted (and may roll the kind back); the batch is then stored without one.
    pub fn on_batch(
        &self,
        header: &BatchHeader,
        payload: &[u8],
    ) -> Result<Vec<u8>, PluginCallError> {
        let _span = self.plugin.span("on-batch").entered();
        let start = Instant::now();
        let result = call_on_batch(self.supervisor.engine(), &self.plugin, header, payload, 1)
            .map(|mut answers| answers.pop().unwrap_or_default());
        account(&*self.supervisor, &self.plugin, result, start, true)
    }
}

/// The batcher calls the prover plugin through the hooks seam directly.
impl BatchProver for Prover {
    fn code_hash(&self) -> B256 {
        Prover::code_hash(self)
    }

    fn on_batch(&self, header: &BatchHeader, payload: &[u8]) -> Result<Vec<u8>, HookError> {
        Prover::on_batch(self, header, payload).map_err(|e| HookError(e.to_string()))
    }
}
