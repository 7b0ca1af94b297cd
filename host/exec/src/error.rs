//! [`ExecError`]: execution failures, classified for the RPC layer; [`StateError`]: the
//! storage failures underneath.

use alloy_primitives::Bytes;
use ordo_storage::StorageError;
use revm::{
    context_interface::result::{EVMError, InvalidTransaction},
    database_interface::DBErrorMarker,
};

/// A storage failure surfaced through revm.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StateError(#[from] pub StorageError);

impl DBErrorMarker for StateError {}

/// Execution failures, classified for the RPC layer.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Storage failed underneath revm.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// The call reverted.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted {
        /// Revert data.
        data: Bytes,
        /// Decoded reason, if any.
        reason: Option<String>,
    },
    /// The call halted (out of gas, invalid opcode, ...).
    #[error("{0}")]
    Halted(String),
    /// The transaction is invalid in this state (e.g. insufficient funds).
    #[error("{0}")]
    Invalid(String),
    /// The request itself is malformed.
    #[error("{0}")]
    InvalidParams(String),
    /// A read-only execution ran past its deadline and was stopped.
    #[error("execution aborted (timeout)")]
    TimedOut,
}

/// geth's words for why the EVM stopped (what its clients match on), for `eth_call`,
/// `eth_estimateGas` and `eth_simulateV1` alike.
pub(crate) fn halt_message(reason: &revm::context::result::HaltReason) -> String {
    use revm::context::result::HaltReason;
    match reason {
        HaltReason::OutOfGas(_) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode | HaltReason::NotActivated => {
            "invalid opcode".into()
        }
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack limit reached 1024 (1023)".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::OutOfOffset => "return data out of bounds".into(),
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection".into()
        }
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::NonceOverflow => "nonce uint64 overflow".into(),
        HaltReason::OverflowPayment => "gas uint64 overflow".into(),
        HaltReason::PrecompileError => "precompiled contract failed".into(),
        HaltReason::PrecompileErrorWithContext(why) => {
            format!("precompiled contract failed: {why}")
        }
    }
}

impl ExecError {
    pub(crate) fn from_evm(err: EVMError<StateError, InvalidTransaction>) -> Self {
        match err {
            EVMError::Database(e) => Self::State(e),
            EVMError::Transaction(InvalidTransaction::LackOfFundForMaxFee { .. }) => {
                Self::Invalid("insufficient funds for gas * price + value".into())
            }
            EVMError::Transaction(t) => Self::Invalid(t.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }

    /// Whether the node, not the caller, is at fault.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::State(_))
    }
}

/// The reason geth gives for a revert: an `Error(string)`'s message as it is, a panic as
/// alloy describes it (`panic: …`); None for a custom error or empty data (then only the data
/// says why).
pub fn revert_reason(output: &[u8]) -> Option<String> {
    use alloy_sol_types::SolError;
    match alloy_sol_types::Revert::abi_decode(output) {
        Ok(revert) => Some(revert.reason),
        Err(_) => alloy_sol_types::decode_revert_reason(output),
    }
}
