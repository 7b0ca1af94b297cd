//! Why derivation stopped: the source could not be read, the posted data does not derive,
//! or the derived chain disagrees with a node.

use std::path::PathBuf;

use alloy_primitives::{Address, B256};
use ordo_exec::{ExecError, Skipped, StateError};
use ordo_hooks::HookError;
use ordo_primitives::{BatchDecodeError, DecodeError};
use ordo_rpc_client::{ClientError, RpcError};
use ordo_storage::StorageError;

/// A derivation failure. Every failure about posted data names its batch (and block).
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    // ---- opening the deriver
    /// The datadir already holds a derived chain.
    #[error("verifier datadir {} already holds blocks up to {head}; use an empty one", .path.display())]
    DatadirNotEmpty {
        /// The datadir.
        path: PathBuf,
        /// Its head block.
        head: u64,
    },
    /// The datadir could not be created.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done ("creating datadir").
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The derived chain's storage failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The derived state failed.
    #[error("state: {0}")]
    State(#[from] StateError),

    // ---- one posted batch
    /// The frame does not decode.
    #[error("batch frame: {0}")]
    Frame(#[source] BatchDecodeError),
    /// Not the next batch.
    #[error("batch {got} where batch {expected} was expected (gap or reorder)")]
    OutOfOrder {
        /// The frame's index.
        got: u64,
        /// The next index.
        expected: u64,
    },
    /// No codec has the recorded code hash.
    #[error(
        "batch {index}: codec {codec_id} with code hash {codec_hash} is not available (add it with --plugin-dir)"
    )]
    CodecUnavailable {
        /// Batch index.
        index: u64,
        /// The header's codec id.
        codec_id: u32,
        /// The header's codec code hash.
        codec_hash: B256,
    },
    /// The plugin with the recorded hash implements another codec id.
    #[error(
        "batch {index}: the plugin with code hash {codec_hash} is codec {actual}, the header says {codec_id}"
    )]
    CodecMismatch {
        /// Batch index.
        index: u64,
        /// The header's code hash.
        codec_hash: B256,
        /// The plugin's codec id.
        actual: u32,
        /// The header's codec id.
        codec_id: u32,
    },
    /// The codec refused the data.
    #[error("batch {index}: decompression failed: {source}")]
    Decompress {
        /// Batch index.
        index: u64,
        /// The codec's failure (it names the plugin).
        #[source]
        source: HookError,
    },
    /// The decompressed payload does not decode.
    #[error("batch {index}: payload: {source}")]
    Payload {
        /// Batch index.
        index: u64,
        /// Why.
        #[source]
        source: BatchDecodeError,
    },
    /// The payload holds no blocks.
    #[error("batch {index}: no blocks")]
    EmptyBatch {
        /// Batch index.
        index: u64,
    },
    /// The header's block range is not the payload's.
    #[error(
        "batch {index}: header says blocks {first}..={last}, payload holds {payload_first}..={payload_last}"
    )]
    RangeMismatch {
        /// Batch index.
        index: u64,
        /// Header: first block.
        first: u64,
        /// Header: last block.
        last: u64,
        /// Payload: first block.
        payload_first: u64,
        /// Payload: last block.
        payload_last: u64,
    },
    /// A block's number does not follow the derived head.
    #[error("batch {index}: block {number} does not follow block {parent}")]
    NotNext {
        /// Batch index.
        index: u64,
        /// The block's number.
        number: u64,
        /// The derived head's number.
        parent: u64,
    },
    /// A block names another parent than the derived head.
    #[error(
        "batch {index}: block {number} names parent {named}, but the derived block {parent} is {parent_hash}"
    )]
    WrongParent {
        /// Batch index.
        index: u64,
        /// The block's number.
        number: u64,
        /// The parent hash it names.
        named: B256,
        /// The derived head's number.
        parent: u64,
        /// The derived head's hash.
        parent_hash: B256,
    },
    /// A transaction does not decode.
    #[error("batch {index}: block {block} tx {tx}: {source}")]
    BadTx {
        /// Batch index.
        index: u64,
        /// Block number.
        block: u64,
        /// Position in the block.
        tx: usize,
        /// Why.
        #[source]
        source: DecodeError,
    },
    /// Re-execution failed (not a transaction: the executor or its state).
    #[error("batch {index}: block {block}: {source}")]
    Exec {
        /// Batch index.
        index: u64,
        /// Block number.
        block: u64,
        /// Why.
        #[source]
        source: ExecError,
    },
    /// A transaction would be left out: the block is not the sequencer's.
    #[error("batch {index}: block {block}: transaction {hash} does not execute: {why:?}")]
    NotExecutable {
        /// Batch index.
        index: u64,
        /// Block number.
        block: u64,
        /// The transaction.
        hash: B256,
        /// Why the executor left it out.
        why: Skipped,
    },
    /// The rebuilt last block is not the one the batch header records.
    #[error(
        "batch {index}: block {block} derives to hash {} / state root {}, the batch says {} / {}",
        .derived.hash, .derived.state_root, .expected.hash, .expected.state_root
    )]
    RootMismatch {
        /// Batch index.
        index: u64,
        /// The last block.
        block: u64,
        /// What it derives to.
        derived: BlockIds,
        /// What the batch header records (boxed: keeps the error small).
        expected: Box<BlockIds>,
    },
    /// The batch header's output root is not the rebuilt last block's.
    #[error(
        "batch {index}: block {block}'s output root derives to {derived}, the batch says {posted}"
    )]
    BatchOutputMismatch {
        /// Batch index.
        index: u64,
        /// The last block.
        block: u64,
        /// What it derives to.
        derived: B256,
        /// What the header records.
        posted: B256,
    },

    // ---- the outputs proposed on L1
    /// An output on L1 is not the derived chain's output of its block.
    #[error(
        "output {index} (L2 block {block}): the oracle holds {posted}, the derived chain's output root is {derived}"
    )]
    OutputMismatch {
        /// The output's index in the oracle.
        index: u64,
        /// Its L2 block.
        block: u64,
        /// What the oracle holds.
        posted: B256,
        /// What the derived chain gives.
        derived: B256,
    },
    /// An output on L1 names a block the posted batches do not reach.
    #[error(
        "output {index} claims L2 block {block}, beyond the chain the batches derive (head {head})"
    )]
    OutputBeyondChain {
        /// The output's index.
        index: u64,
        /// Its L2 block.
        block: u64,
        /// The derived head.
        head: u64,
    },
    /// An output's attestation is not what the prover plugin gives for its batch.
    #[error("output {index} (L2 block {block}): {why}")]
    BadAttestation {
        /// The output's index.
        index: u64,
        /// Its L2 block.
        block: u64,
        /// What is wrong.
        why: String,
    },

    // ---- reading a source or a node
    /// The endpoint could not be reached.
    #[error("connecting to {url}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// Why (a transport error).
        #[source]
        source: ClientError,
    },
    /// The endpoint answered something that is not a JSON-RPC response.
    #[error("{method} at {url}: response is not JSON-RPC: {source}")]
    NotJson {
        /// The JSON-RPC method.
        method: String,
        /// The URL.
        url: String,
        /// What came back (the HTTP status and the start of the body, or what is wrong
        /// with the JSON).
        #[source]
        source: ClientError,
    },
    /// The endpoint answered with a JSON-RPC error.
    #[error("{method} at {url}: {error}")]
    Rpc {
        /// The JSON-RPC method.
        method: String,
        /// The URL.
        url: String,
        /// The error object.
        error: RpcError,
    },
    /// An answer lacks a field or holds a malformed one.
    #[error("{0}")]
    Malformed(String),
    /// The blobs of an inbox transaction could not be read or hold no frame.
    #[error("L1 block {block} tx {tx}: {reason}")]
    Blobs {
        /// L1 block number.
        block: u64,
        /// The L1 transaction hash.
        tx: String,
        /// Why.
        reason: String,
    },

    /// A block breaks the deposits rule (deposits/ checked against L1).
    #[error("block {block}: {why}")]
    Deposits {
        /// Block number.
        block: u64,
        /// Why.
        why: String,
    },

    // ---- comparing with a node
    /// Signature checks need the node that holds the signatures.
    #[error("--sequencer needs --compare-rpc (block signatures come from the node)")]
    SequencerWithoutCompare,
    /// The source holds no batch.
    #[error("no batches found at the source")]
    NoBatches,
    /// A derived block is not in the derived storage (a storage fault).
    #[error("derived block {0} missing")]
    MissingDerivedBlock(u64),
    /// The node has no such block.
    #[error("{url} has no block {block}")]
    MissingBlock {
        /// The node's URL.
        url: String,
        /// Block number.
        block: u64,
    },
    /// The node's block is not the derived one.
    #[error("block {block}: derived hash {ours}, {url} says {theirs}")]
    HashMismatch {
        /// Block number.
        block: u64,
        /// The derived hash.
        ours: B256,
        /// The node's URL.
        url: String,
        /// The node's hash.
        theirs: B256,
    },
    /// The node holds no sequencer signature for the block.
    #[error("block {block}: {url} has no sequencer signature")]
    NoSignature {
        /// Block number.
        block: u64,
        /// The node's URL.
        url: String,
    },
    /// The block is signed by someone else (or the signature is invalid: `signer` None).
    #[error(
        "block {block}: signature is by {}, not the sequencer {expected}",
        .signer.map_or("nobody (invalid)".to_string(), |a| a.to_string())
    )]
    WrongSigner {
        /// Block number.
        block: u64,
        /// Who signed.
        signer: Option<Address>,
        /// The sequencer.
        expected: Address,
    },
}

/// A block's hash and state root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockIds {
    /// Block hash.
    pub hash: B256,
    /// State root after the block.
    pub state_root: B256,
}

impl DeriveError {
    /// The source or the node could not be read: trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::NotJson { .. } | Self::Rpc { .. }
        )
    }

    /// The posted data does not derive, or the derived chain disagrees with the node: the
    /// chain being checked is at fault, not this machine.
    pub fn is_invalid_chain(&self) -> bool {
        matches!(
            self,
            Self::Frame(_)
                | Self::OutOfOrder { .. }
                | Self::CodecMismatch { .. }
                | Self::Decompress { .. }
                | Self::Payload { .. }
                | Self::EmptyBatch { .. }
                | Self::RangeMismatch { .. }
                | Self::NotNext { .. }
                | Self::WrongParent { .. }
                | Self::BadTx { .. }
                | Self::NotExecutable { .. }
                | Self::RootMismatch { .. }
                | Self::BatchOutputMismatch { .. }
                | Self::OutputMismatch { .. }
                | Self::OutputBeyondChain { .. }
                | Self::BadAttestation { .. }
                | Self::HashMismatch { .. }
                | Self::NoSignature { .. }
                | Self::WrongSigner { .. }
                | Self::Deposits { .. }
        )
    }
}
