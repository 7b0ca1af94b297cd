//! Ordo derivation: L1 → L2. Rebuilds the chain from posted batch frames alone and checks
//! every block; `ordo verify` is a thin command over [`verify`]. The home of L1 origins,
//! deposits, the sequencing window, output roots and block import as they arrive.
//!
//! Flow of [`verify`]:
//! 1. [`FrameSource::frames`] reads every frame: from the batch inbox on L1 (calldata, or
//!    blobs through `ordo_l1::BeaconClient`; only the batcher's transactions, reverted ones
//!    included) or from a node's `ordo_getBatch`;
//! 2. [`order_frames`] puts them in index order (a re-post may land after later batches; a
//!    batch posted twice counts once; what does not decode, then the first gap, come last so
//!    the deriver names them);
//! 3. [`Deriver::apply_frame`], per frame:
//!    1. decode the frame ([`BatchFrame`](ordo_primitives::BatchFrame)); its index must be
//!       the next one;
//!    2. pick the codec the header names — the identity for
//!       [`CODEC_NONE`](ordo_primitives::CODEC_NONE), else the caller's codec with the
//!       recorded code hash ([`BatchCodecs`](ordo_hooks::BatchCodecs); `ordo verify` passes
//!       the shipped compression plugins plus those of its `--plugin-dir`), which must
//!       implement the recorded codec id — and decompress;
//!    3. decode the payload ([`BatchPayload`](ordo_primitives::BatchPayload)); every block
//!       must follow the chain so far (number and parent hash);
//!    4. re-execute each block with revm from the derived state
//!       ([`Executor::build_block`](ordo_exec::Executor::build_block)); every transaction must
//!       execute (a block that would skip one is not the sequencer's);
//!    5. the rebuilt hashes chain and the last block's hash, state root and output root must
//!       equal the header's; each block is stored in the deriver's own datadir;
//! 4. with [`VerifyOptions::deposits`] (an L1, the portal, the sequencing window), each
//!    block's deposits are checked against the portal's logs on L1 alone (deposits.rs): a
//!    block names its origin's parent beacon block root as L1 has it; a block whose origin
//!    (its extra data) moved starts with exactly that L1 block's deposits and its origin
//!    follows the previous one on L1; no other block holds a
//!    deposit; a block whose batch landed after its origin's window must be that origin's
//!    deposit-only block; and past the last batch, every origin whose window has passed
//!    gets its deposit-only block ([`Deriver::apply_deposit_only`]);
//! 5. with [`VerifyOptions::outputs`] (an L1 and the output oracle; read before the
//!    batches), every output root the oracle holds must be the derived chain's output of its
//!    block, and the attestation posted with it what the prover plugin of the posted code
//!    hash gives for the batch ending there (outputs.rs); each batch header's own output
//!    root is checked in step 3;
//! 6. with [`VerifyOptions::compare_rpc`], each rebuilt block's hash is compared with that
//!    node's, and with [`VerifyOptions::sequencer`] the node's signature over it must be the
//!    sequencer's ([`ordo_primitives::block_signer`]);
//! 7. progress goes to the caller as [`Event`]s; the first failure is a [`DeriveError`]
//!    naming the batch and block.
//!
//! Seams: [`FrameSource`] (where frames come from; JSON-RPC through `ordo-rpc-client`),
//! [`DeriveConfig`] (the chain spec and datadir: the caller, not this crate, knows how the
//! chain is configured), the codecs ([`ordo_hooks::BatchCodecs`]: the caller builds them,
//! e.g. with `ordo_plugin_host::open_codecs`), and [`Deriver`] itself for callers that feed
//! frames one by one. Depends on primitives, hooks, storage, exec (to re-execute), l1 and
//! rpc-client, never on the plugin host or the node.

mod deposits;
mod deriver;
mod error;
mod order;
mod outputs;
mod rpc;
mod source;
mod verify;

pub use deriver::{Applied, DeriveConfig, Deriver};
pub use error::{BlockIds, DeriveError};
pub use order::{Ordered, order_frames};
pub use outputs::OutputCheck;
pub use source::FrameSource;
pub use verify::{DepositCheck, Event, Verified, VerifyOptions, verify};
