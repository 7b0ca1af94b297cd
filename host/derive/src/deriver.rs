//! [`Deriver`]: applies posted batches one by one to its own chain, re-executing every block.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use alloy_primitives::B256;
use ordo_exec::{BlockItem, BlockParams, Executor, StateDb};
use ordo_hooks::BatchCodecs;
use ordo_primitives::{
    BatchFrame, BatchPayload, BlockRecord, CODEC_NONE, ChainSpec, DepositTx, Provenance,
};
use ordo_storage::Storage;

use crate::error::{BlockIds, DeriveError};

/// Where the deriver keeps its chain, and which chain it is.
#[derive(Debug, Clone)]
pub struct DeriveConfig {
    /// The derived chain's datadir (fjall under `<datadir>/db`); must hold no blocks yet.
    pub datadir: PathBuf,
    /// The chain's genesis and rules: the sequencer's own.
    pub chain: ChainSpec,
}

impl DeriveConfig {
    /// The chain `chain` derived into `datadir`.
    pub fn new(datadir: impl Into<PathBuf>, chain: ChainSpec) -> Self {
        Self {
            datadir: datadir.into(),
            chain,
        }
    }
}

/// Rebuilds the chain batch by batch into its own datadir.
pub struct Deriver {
    exec: Executor,
    storage: Storage,
    head: BlockRecord,
    codecs: Arc<dyn BatchCodecs>,
    next_index: u64,
    /// The chain's first block that names its origin's beacon root.
    beacon_roots_from: u64,
}

/// What one frame added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Batch index.
    pub index: u64,
    /// First block rebuilt.
    pub first_block: u64,
    /// Last block rebuilt.
    pub last_block: u64,
    /// Its hash.
    pub last_hash: B256,
}

/// Opens the storage in `datadir`, writing `spec`'s genesis on first use; returns the head.
fn open_chain(datadir: &Path, spec: &ChainSpec) -> Result<(Storage, BlockRecord), DeriveError> {
    std::fs::create_dir_all(datadir).map_err(|source| DeriveError::Io {
        what: "creating datadir",
        path: datadir.to_path_buf(),
        source,
    })?;
    let storage = Storage::open(datadir.join("db"))?;
    if let Some(n) = storage.head()? {
        let head = storage
            .block(n)?
            .ok_or(DeriveError::MissingDerivedBlock(n))?;
        return Ok((storage, head));
    }
    let block = ordo_exec::write_genesis(&storage, spec)?;
    tracing::info!(target: "ordo::derive", hash = %block.hash, chain_id = spec.chain_id, "wrote genesis");
    Ok((storage, block))
}

impl Deriver {
    /// Opens (or creates) the derived chain in `config.datadir` from the sequencer's
    /// genesis; batches are decoded with `codecs` (by the code hash their header records).
    pub fn open(config: &DeriveConfig, codecs: Arc<dyn BatchCodecs>) -> Result<Self, DeriveError> {
        let (storage, head) = open_chain(&config.datadir, &config.chain)?;
        if head.number() != 0 {
            return Err(DeriveError::DatadirNotEmpty {
                path: config.datadir.clone(),
                head: head.number(),
            });
        }
        let chain_id = storage.chain_id()?.unwrap_or(config.chain.chain_id);
        let state = Arc::new(StateDb::open(storage.clone())?);
        Ok(Self {
            exec: Executor::new(state, chain_id),
            storage,
            head,
            codecs,
            next_index: 0,
            beacon_roots_from: config.chain.beacon_roots_from,
        })
    }

    /// The first block that names its L1 origin's beacon root
    /// ([`ordo_primitives::ChainSpec::beacon_roots_from`]).
    pub fn beacon_roots_from(&self) -> u64 {
        self.beacon_roots_from
    }

    /// The index of the next batch to apply.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The last rebuilt block.
    pub fn head(&self) -> &BlockRecord {
        &self.head
    }

    /// The chain id the blocks are executed under.
    pub fn chain_id(&self) -> u64 {
        self.exec.chain_id()
    }

    /// Derives the deposit-only block for `origin` on the head, with `deposits` (the
    /// origin's, read from L1): what derivation makes once an origin's sequencing window has
    /// passed without a batch ([`ordo_exec::BlockParams::deposit_only`]).
    pub fn apply_deposit_only(
        &mut self,
        origin: &ordo_primitives::L1Origin,
        deposits: Vec<Arc<DepositTx>>,
    ) -> Result<&BlockRecord, DeriveError> {
        let params = BlockParams::deposit_only(&self.head.header, origin, self.beacon_roots_from);
        let items: Vec<BlockItem> = deposits.into_iter().map(BlockItem::Deposit).collect();
        let built = self
            .exec
            .build_block_items(
                &self.head.header,
                self.head.hash,
                &params,
                &items,
                Provenance {
                    policy: "deposit-only".into(),
                    ..Default::default()
                },
            )
            .map_err(|source| DeriveError::Exec {
                index: self.next_index,
                block: params.number,
                source,
            })?;
        self.exec.state().commit(&built.commit)?;
        self.head = built.block;
        self.head.l1_origin = Some(*origin);
        Ok(&self.head)
    }

    /// A rebuilt block by number.
    pub fn block(&self, number: u64) -> Result<Option<BlockRecord>, DeriveError> {
        Ok(self.storage.block(number)?)
    }

    /// The output of derived block `number` (`None`: not derived).
    pub fn output(&self, number: u64) -> Result<Option<ordo_storage::output::Output>, DeriveError> {
        Ok(self.storage.output(number)?)
    }

    /// The codecs and provers this deriver reads batches with.
    pub fn codecs(&self) -> &Arc<dyn BatchCodecs> {
        &self.codecs
    }

    fn decompress(&self, frame: &BatchFrame) -> Result<Vec<u8>, DeriveError> {
        let h = &frame.header;
        if h.codec_id == CODEC_NONE {
            return Ok(frame.data.to_vec());
        }
        let codec =
            self.codecs
                .by_code_hash(&h.codec_hash)
                .ok_or(DeriveError::CodecUnavailable {
                    index: h.index,
                    codec_id: h.codec_id,
                    codec_hash: h.codec_hash,
                })?;
        if codec.codec_id() != h.codec_id {
            return Err(DeriveError::CodecMismatch {
                index: h.index,
                codec_hash: h.codec_hash,
                actual: codec.codec_id(),
                codec_id: h.codec_id,
            });
        }
        codec
            .decompress(&frame.data)
            .map_err(|source| DeriveError::Decompress {
                index: h.index,
                source,
            })
    }

    /// Applies one posted frame; any mismatch is an error saying which batch and block.
    pub fn apply_frame(&mut self, bytes: &[u8]) -> Result<Applied, DeriveError> {
        let frame = BatchFrame::decode(bytes).map_err(DeriveError::Frame)?;
        let h = frame.header;
        let index = h.index;
        if index != self.next_index {
            return Err(DeriveError::OutOfOrder {
                got: index,
                expected: self.next_index,
            });
        }
        let raw = self.decompress(&frame)?;
        let payload =
            BatchPayload::decode(&raw).map_err(|source| DeriveError::Payload { index, source })?;
        let (Some(first), Some(last)) = (payload.blocks.first(), payload.blocks.last()) else {
            return Err(DeriveError::EmptyBatch { index });
        };
        if first.number != h.first_block || last.number != h.last_block {
            return Err(DeriveError::RangeMismatch {
                index,
                first: h.first_block,
                last: h.last_block,
                payload_first: first.number,
                payload_last: last.number,
            });
        }
        for block in &payload.blocks {
            let parent = &self.head;
            if block.number != parent.number() + 1 {
                return Err(DeriveError::NotNext {
                    index,
                    number: block.number,
                    parent: parent.number(),
                });
            }
            if block.parent_hash != parent.hash {
                return Err(DeriveError::WrongParent {
                    index,
                    number: block.number,
                    named: block.parent_hash,
                    parent: parent.number(),
                    parent_hash: parent.hash,
                });
            }
            // Deposits are executed as the batch carries them; checking them against the
            // portal's logs on L1 is the L1 derivation's part.
            let txs = block
                .txs
                .iter()
                .enumerate()
                .map(|(tx, raw)| {
                    BlockItem::from_body(raw, None).map_err(|source| DeriveError::BadTx {
                        index,
                        block: block.number,
                        tx,
                        source,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let params = BlockParams {
                number: block.number,
                timestamp: block.timestamp,
                beneficiary: block.beneficiary,
                gas_limit: block.gas_limit,
                base_fee: block.base_fee,
                extra_data: block.extra_data.clone(),
                state_block: None,
                max_tx_bytes: None,
                beacon_root: block.beacon_root_or_zero(),
                ethereum: None,
            };
            let built = self
                .exec
                .build_block_items(
                    &parent.header,
                    parent.hash,
                    &params,
                    &txs,
                    Provenance {
                        policy: "derived".into(),
                        ..Default::default()
                    },
                )
                .map_err(|source| DeriveError::Exec {
                    index,
                    block: block.number,
                    source,
                })?;
            if let Some((hash, why)) = built.skipped.first() {
                return Err(DeriveError::NotExecutable {
                    index,
                    block: block.number,
                    hash: *hash,
                    why: why.clone(),
                });
            }
            self.exec.state().commit(&built.commit)?;
            self.head = built.block;
        }
        if self.head.hash != h.last_block_hash || self.head.header.state_root != h.state_root {
            return Err(DeriveError::RootMismatch {
                index,
                block: self.head.number(),
                derived: BlockIds {
                    hash: self.head.hash,
                    state_root: self.head.header.state_root,
                },
                expected: Box::new(BlockIds {
                    hash: h.last_block_hash,
                    state_root: h.state_root,
                }),
            });
        }
        let derived = self
            .storage
            .output(self.head.number())?
            .ok_or(DeriveError::MissingDerivedBlock(self.head.number()))?
            .root;
        // Zero: a batch from before headers carried output roots.
        if !h.output_root.is_zero() && derived != h.output_root {
            return Err(DeriveError::BatchOutputMismatch {
                index,
                block: self.head.number(),
                derived,
                posted: h.output_root,
            });
        }
        self.next_index += 1;
        Ok(Applied {
            index,
            first_block: h.first_block,
            last_block: h.last_block,
            last_hash: self.head.hash,
        })
    }
}
