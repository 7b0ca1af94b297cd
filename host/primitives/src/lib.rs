//! Ordo primitives: the types every stage shares, and their canonical encodings. No I/O.
//!
//! Map:
//! - [`PooledTx`]: a decoded, sender-recovered transaction as it travels wallet → pool →
//!   builder. It keeps the exact EIP-2718 bytes it arrived with, so the WAL, the block body
//!   and `eth_getRawTransaction`-style reads never re-encode.
//! - [`decode_raw_tx`]: the stateless half of ingress (decode, type, size, signature);
//!   [`decode_with_sender`] the same for bytes whose sender is known (a replica group's log).
//! - [`BlockRecord`] / [`ReceiptRecord`] (block.rs): what a sealed block and its receipts look like in
//!   storage. Blocks are real Ethereum headers (`alloy_consensus::Header`), hash = keccak(rlp).
//! - [`OrdoTxEnvelope`] / [`OrdoReceiptEnvelope`] (envelope.rs): the transactions and
//!   receipts a stored block holds, Ethereum's five types and OP's deposit.
//! - [`ChainSpec`]: chain id, fee parameters and the genesis allocation.
//! - [`Provenance`]: which ordering policy produced a block, and why a fallback ran.
//! - [`DepositLog`] / [`TxDeposit`] (deposit.rs): a portal log on L1 and the deposit
//!   transaction (type 0x7E, OP Stack's) it makes on L2.
//! - [`l1_info_deposit`] (l1info.rs): the L1-attributes deposit a block that moves to a new
//!   L1 origin starts with, which hands L1Block the origin's fees.
//! - [`MESSAGE_PASSER`], [`L1_BLOCK`], [`GAS_PRICE_ORACLE`], the fee vaults (predeploys.rs): OP's predeploys,
//!   put in every genesis by [`ChainSpec::with_predeploys`]; [`output_root`] (withdrawal.rs):
//!   what L1 proves withdrawals against.
//! - [`block_signing_hash`] / [`block_signer`]: the sequencer's signature over a block hash.
//! - [`l1_fee`] / [`l1_gas_used`] (l1fee.rs): OP's Fjord L1 data fee of a signed transaction
//!   (FastLZ size of its encoding, priced with the [`L1FeeParams`] L1Block holds), what the
//!   GasPriceOracle predeploy estimates from the unsigned encoding.
//!
//! Encodings are RLP (alloy-rlp) for everything consensus-shaped and for records on disk,
//! so a record's bytes are stable across versions of the node.

mod batch;
mod block;
mod bundle;
mod chain;
mod deposit;
mod envelope;
mod l1fee;
mod l1info;
mod predeploys;
mod signing;
mod tx;
mod withdrawal;

pub use batch::{
    BatchBlock, BatchDecodeError, BatchFrame, BatchHeader, BatchPayload, BatchRecord, BatchStatus,
    CODEC_NONE, FRAME_VERSION, PAYLOAD_VERSION,
};
pub use block::{
    BlockRecord, BodyExtras, L1FeeCharged, L1Fees, L1Origin, Provenance, ReceiptRecord, TxLocation,
    next_base_fee,
};
pub use bundle::{Bundle, BundleDecodeError, timestamp_opt};
pub use chain::{
    ChainSpec, DEV_ACCOUNTS, DEV_BALANCE_ETHER, DEV_CHAIN_ID, DEV_MNEMONIC, GenesisAccount,
};
pub use deposit::{
    DEPOSIT_TX_TYPE, DEPOSIT_VERSION, DepositError, DepositLog, DepositTx, TxDeposit,
    UserDepositSource, is_deposit, l1_to_l2_alias,
};
pub use envelope::{OrdoReceiptEnvelope, OrdoTxEnvelope, OrdoTxType};
pub use l1fee::{
    L1FeeParams, L1FeeScalars, SIGNATURE_ALLOWANCE, fastlz_size, l1_fee, l1_fee_for_fastlz_size,
    l1_gas_used, l1_gas_used_for_fastlz_size,
};
pub use l1info::{L1_INFO_GAS, l1_info_deposit};
pub use predeploys::{
    BASE_FEE_VAULT, DEPOSITOR, GAS_PRICE_ORACLE, L1_BLOCK, L1_FEE_VAULT, MESSAGE_PASSER,
    predeploy_code,
};
pub use signing::{block_signer, block_signing_hash};
pub use tx::{
    Candidate, DecodeError, MAX_BLOB_TX_SIZE, MAX_TX_SIZE, PooledTx, decode_committed,
    decode_raw_tx, decode_raw_tx_with_blobs, decode_with_sender,
};
pub use withdrawal::{OUTPUT_VERSION, output_root};

pub use alloy_consensus;
pub use alloy_eips;
pub use alloy_primitives;
pub use alloy_rlp;

/// Name and version reported by `web3_clientVersion`.
pub const CLIENT_VERSION: &str = concat!("Ordo/v", env!("CARGO_PKG_VERSION"), "/rust");
