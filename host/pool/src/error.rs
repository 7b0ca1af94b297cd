//! Why the pool refused a transaction. `Display` strings are geth's, because wallets and
//! libraries match on them.

use std::sync::Arc;

use alloy_primitives::U256;
use ordo_primitives::DecodeError;
use ordo_storage::StorageError;

/// JSON-RPC code geth uses for every transaction validation error.
pub const RPC_INVALID_TX: i64 = -32000;
/// JSON-RPC "internal error" code, for failures that are the node's, not the caller's.
pub const RPC_INTERNAL: i64 = -32603;

/// A transaction refused by the pool, or a pool failure.
///
/// The detail fields are for logs; the message is geth's exact text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// Stateless decoding failed (malformed, unsupported type, oversized, bad signature).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A typed or EIP-155 transaction signed for another chain.
    #[error("invalid chain id for signer")]
    InvalidChainId {
        /// Our chain id.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// Gas limit above the block gas limit: it could never be included.
    #[error("exceeds block gas limit")]
    ExceedsBlockGasLimit {
        /// The transaction's gas limit.
        gas: u64,
        /// The block gas limit.
        limit: u64,
    },
    /// Gas limit below the intrinsic cost.
    #[error("intrinsic gas too low")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// The intrinsic gas it needs.
        intrinsic: u64,
    },
    /// `max_priority_fee_per_gas > max_fee_per_gas`.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Fee cap below the chain's minimum base fee: it could never execute.
    #[error("max fee per gas less than block base fee")]
    FeeCapBelowMinBaseFee {
        /// The transaction's fee cap.
        fee_cap: u128,
        /// The minimum base fee.
        min_base_fee: u64,
    },
    /// Nonce below the account's nonce.
    #[error("nonce too low")]
    NonceTooLow {
        /// The transaction's nonce.
        tx: u64,
        /// The account's nonce.
        state: u64,
    },
    /// Nonce too far ahead of the account.
    #[error("nonce too high")]
    NonceTooHigh {
        /// The transaction's nonce.
        tx: u64,
        /// The highest nonce accepted right now.
        max: u64,
    },
    /// The balance does not cover `gas * fee cap + value` (plus the sender's other pool txs).
    #[error("insufficient funds for gas * price + value")]
    InsufficientFunds {
        /// What the sender's transactions may cost, this one included.
        cost: U256,
        /// The sender's balance.
        balance: U256,
    },
    /// The same transaction is already pooled (or being written).
    #[error("already known")]
    AlreadyKnown,
    /// A same-sender, same-nonce transaction without the required fee bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The pool is at capacity and this transaction pays no more than the cheapest evictable.
    #[error("txpool is full")]
    PoolFull,
    /// The sender already holds the per-sender maximum of transactions.
    #[error("account limit exceeded")]
    AccountLimit {
        /// The per-sender maximum.
        limit: usize,
    },
    /// The WAL write failed; the transaction was not accepted.
    /// Answered -32000 "storage unavailable: …" (geth's code for a server-side refusal):
    /// the client may retry later, and nothing was acknowledged.
    #[error("storage unavailable: {0}")]
    Storage(Arc<StorageError>),
    /// The pool's WAL writer is gone (shutting down).
    #[error("transaction pool unavailable")]
    Unavailable,
    /// A replica's group did not commit the transaction (leadership changed, or no quorum
    /// in time). It may still be included; sending it again is safe.
    #[error("not replicated ({0}); retry")]
    NotReplicated(Arc<str>),
}

impl PoolError {
    /// A short stable name of the refusal, for metric labels.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Decode(_) => "decode",
            Self::InvalidChainId { .. } => "invalid_chain_id",
            Self::ExceedsBlockGasLimit { .. } => "exceeds_block_gas_limit",
            Self::IntrinsicGasTooLow { .. } => "intrinsic_gas_too_low",
            Self::TipAboveFeeCap => "tip_above_fee_cap",
            Self::FeeCapBelowMinBaseFee { .. } => "fee_cap_below_min_base_fee",
            Self::NonceTooLow { .. } => "nonce_too_low",
            Self::NonceTooHigh { .. } => "nonce_too_high",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::AlreadyKnown => "already_known",
            Self::ReplacementUnderpriced => "replacement_underpriced",
            Self::PoolFull => "pool_full",
            Self::AccountLimit { .. } => "account_limit",
            Self::Storage(_) => "storage",
            Self::Unavailable => "unavailable",
            Self::NotReplicated(_) => "not_replicated",
        }
    }

    /// True when the transaction itself is invalid and can never be valid on this chain
    /// (malformed, wrong chain, gas limits, fee fields inconsistent), as opposed to stale
    /// (nonce), unfunded, underpriced, a duplicate, or refused for capacity. A peer or
    /// client sending these is misbehaving.
    pub fn is_bad_transaction(&self) -> bool {
        matches!(
            self,
            Self::Decode(_)
                | Self::InvalidChainId { .. }
                | Self::ExceedsBlockGasLimit { .. }
                | Self::IntrinsicGasTooLow { .. }
                | Self::TipAboveFeeCap
        )
    }

    /// True when the failure is the node's (storage, shutdown), not the transaction's.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Storage(_) | Self::Unavailable)
    }

    /// The JSON-RPC error code: -32000 for every validation error (as geth), -32603 for
    /// internal failures but storage (-32000 "storage unavailable").
    pub fn rpc_code(&self) -> i64 {
        if self.is_internal() && !matches!(self, Self::Storage(_)) {
            RPC_INTERNAL
        } else {
            RPC_INVALID_TX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_geths() {
        assert_eq!(PoolError::AlreadyKnown.to_string(), "already known");
        assert_eq!(
            PoolError::NonceTooLow { tx: 1, state: 2 }.to_string(),
            "nonce too low"
        );
        assert_eq!(
            PoolError::Decode(DecodeError::InvalidSender).to_string(),
            "invalid sender"
        );
    }

    #[test]
    fn classification() {
        assert!(PoolError::TipAboveFeeCap.is_bad_transaction());
        assert!(!PoolError::PoolFull.is_bad_transaction());
        assert_eq!(PoolError::PoolFull.rpc_code(), -32000);
        assert_eq!(PoolError::Unavailable.rpc_code(), -32603);
    }
}
