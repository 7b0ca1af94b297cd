//! How the poster reaches L1 ([`L1Config`]) and where batch data goes ([`DaMode`]).

use std::time::Duration;

use alloy::{primitives::Address, signers::local::PrivateKeySigner};

/// Where batch data goes on L1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DaMode {
    /// Calldata of EIP-1559 transactions (works on every L1).
    #[default]
    Calldata,
    /// Blobs of EIP-4844 transactions (the L1 must serve them on its beacon API for verifiers).
    Blobs,
    /// Per batch, whichever of the two costs less at the current L1 fees.
    Auto,
}

impl std::str::FromStr for DaMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "calldata" => Ok(Self::Calldata),
            "blobs" | "blob" => Ok(Self::Blobs),
            "auto" => Ok(Self::Auto),
            other => Err(format!(
                "unknown data availability mode {other:?} (expected calldata, blobs or auto)"
            )),
        }
    }
}

impl std::fmt::Display for DaMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Calldata => "calldata",
            Self::Blobs => "blobs",
            Self::Auto => "auto",
        })
    }
}

/// How the poster reaches L1 and how patient it is.
#[derive(Clone, Debug)]
pub struct L1Config {
    /// HTTP JSON-RPC endpoint of an L1 node.
    pub rpc_url: String,
    /// The batch poster key; pays for the inbox transactions.
    pub signer: PrivateKeySigner,
    /// Where batches go (the verifier reads this address's transactions).
    pub inbox: Address,
    /// Blocks (including the inclusion block) before a batch counts as confirmed; 0 acts as 1.
    pub confirmations: u64,
    /// A submission not mined after this long is replaced with bumped fees.
    pub resubmit_after: Duration,
    /// Fee increase per replacement, in percent; raised to 10 (the geth/anvil replacement rule).
    pub fee_bump_percent: u64,
    /// Never offer more than this per gas (wei), even when bumping.
    pub max_fee_per_gas_cap: u128,
    /// Never offer more than this per blob gas (wei), even when bumping.
    pub max_fee_per_blob_gas_cap: u128,
    /// How often the poster looks at L1 while all is well.
    pub poll_interval: Duration,
    /// Batches submitted and not yet confirmed at any time (1: each batch waits for the
    /// previous one's confirmations, like op-batcher's default).
    pub max_in_flight: usize,
    /// Calldata, blobs, or the cheaper of the two per batch.
    pub da: DaMode,
}

impl L1Config {
    /// Defaults for everything but where and who: 3 confirmations (a few L1 reorgs deep is
    /// the common case), replace after 3 minutes, 13% bumps (100% for blob txs, as the blob
    /// pools of geth and reth demand), 500 gwei caps, 2 s polling, calldata.
    pub fn new(rpc_url: impl Into<String>, signer: PrivateKeySigner, inbox: Address) -> Self {
        Self {
            rpc_url: rpc_url.into(),
            signer,
            inbox,
            confirmations: 3,
            resubmit_after: Duration::from_secs(180),
            fee_bump_percent: 13,
            max_fee_per_gas_cap: 500_000_000_000,
            max_fee_per_blob_gas_cap: 500_000_000_000,
            poll_interval: Duration::from_secs(2),
            max_in_flight: 1,
            da: DaMode::Calldata,
        }
    }
}
