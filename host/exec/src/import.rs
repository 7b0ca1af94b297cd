//! Importing an Ethereum chain (`ordo import`): each block of an RLP export is executed on
//! its parent through the same [`crate::BlockAssembler`] that builds Ordo's blocks, under the
//! fork rules its number and time select, and every header field is checked against what
//! the execution produced. Nothing is written: the caller stores the returned commit.

use std::sync::Arc;

use alloy_consensus::{Block, Header, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::B256;
use ordo_primitives::{BlockRecord, BodyExtras, PooledTx, Provenance};

use crate::{BlockItem, BlockParams, BuiltBlock, EthereumParts, Executor, Skipped};

/// Why a block does not import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// It does not extend the head.
    #[error("block {number} does not follow the head {head} ({head_hash})")]
    NotNext {
        /// The block's number.
        number: u64,
        /// The head's number.
        head: u64,
        /// The head's hash.
        head_hash: B256,
    },
    /// A transaction's signature does not recover.
    #[error("block {number}: transaction {index} has an invalid signature")]
    Signature {
        /// The block's number.
        number: u64,
        /// Its index in the block.
        index: usize,
    },
    /// A transaction cannot execute where the block puts it.
    #[error("block {number}: transaction {index} ({hash}) cannot execute: {why}")]
    Transaction {
        /// The block's number.
        number: u64,
        /// Its index in the block.
        index: usize,
        /// Its hash.
        hash: B256,
        /// What revm said.
        why: String,
    },
    /// Execution gave a different header.
    #[error("block {number}: {fields} differ from the executed block's")]
    Header {
        /// The block's number.
        number: u64,
        /// The differing fields: `name (given X, executed Y)`.
        fields: String,
    },
    /// Execution failed.
    #[error("block {number}: {source}")]
    Exec {
        /// The block's number.
        number: u64,
        /// The failure.
        source: crate::ExecError,
    },
}

impl Executor {
    /// Executes `block` on `parent` (the head) under the chain's rules and checks its
    /// header: the fields the parent fixes (base fee, excess blob gas) and everything the
    /// execution determines (roots, bloom, gas used, requests). Returns the block to store.
    pub fn import_block(
        &self,
        parent: &BlockRecord,
        block: Block<TxEnvelope>,
    ) -> Result<BuiltBlock, ImportError> {
        let Block { header, body } = block;
        let number = header.number;
        if number != parent.number() + 1 || header.parent_hash != parent.hash {
            return Err(ImportError::NotNext {
                number,
                head: parent.number(),
                head_hash: parent.hash,
            });
        }
        let txs = body
            .transactions
            .into_iter()
            .enumerate()
            .map(|(index, tx)| {
                let sender = tx
                    .recover_signer()
                    .map_err(|_| ImportError::Signature { number, index })?;
                Ok(BlockItem::Tx(Arc::new(PooledTx {
                    hash: *tx.tx_hash(),
                    encoded: tx.encoded_2718().into(),
                    tx,
                    sender,
                })))
            })
            .collect::<Result<Vec<_>, ImportError>>()?;
        let mut params = BlockParams::of_block(&header, None);
        params.ethereum = Some(Arc::new(EthereumParts {
            header: header.clone(),
            extras: BodyExtras {
                ommers: body.ommers,
                withdrawals: body.withdrawals,
            },
        }));
        let exec = |source| ImportError::Exec { number, source };
        let mut assembler = self
            .assemble(&parent.header, parent.hash, &params)
            .map_err(exec)?;
        for item in &txs {
            assembler.push(item).map_err(exec)?;
            if let Some((hash, why)) = assembler.skipped().last() {
                let index = assembler.included().len();
                let why = match why {
                    Skipped::Invalid(w) | Skipped::Deferred(w) => w.clone(),
                };
                return Err(ImportError::Transaction {
                    number,
                    index,
                    hash: *hash,
                    why,
                });
            }
        }
        let built = assembler
            .seal(Provenance {
                policy: "import".into(),
                ..Default::default()
            })
            .map_err(exec)?;
        let mut differ = header_differences(&header, &built.block.header);
        if let Some(expected) = self.expected_from_parent(&parent.header, &header) {
            differ.extend(expected);
        }
        if !differ.is_empty() {
            return Err(ImportError::Header {
                number,
                fields: differ.join(", "),
            });
        }
        Ok(built)
    }

    /// What the parent fixes of a child's header and the child's header disagrees with:
    /// EIP-1559's base fee and EIP-4844's excess blob gas (the executed header takes
    /// both from the child, which execution depends on).
    fn expected_from_parent(&self, parent: &Header, header: &Header) -> Option<Vec<String>> {
        let mut differ = Vec::new();
        let rules = &self.rules;
        use revm::primitives::hardfork::SpecId;
        let spec = rules.spec_at(header.number, header.timestamp);
        if spec >= SpecId::LONDON {
            let expected = match parent.base_fee_per_gas {
                Some(_) => {
                    parent.next_block_base_fee(alloy_eips::eip1559::BaseFeeParams::ethereum())
                }
                // The London block itself starts at the initial base fee.
                None => Some(alloy_eips::eip1559::INITIAL_BASE_FEE),
            };
            if expected != header.base_fee_per_gas {
                differ.push(format!(
                    "baseFeePerGas (given {:?}, the parent makes it {expected:?})",
                    header.base_fee_per_gas
                ));
            }
        }
        if spec >= SpecId::CANCUN
            && let Some(blobs) = rules.blob_params_at(header.timestamp)
        {
            let expected = if parent.excess_blob_gas.is_some() {
                parent.next_block_excess_blob_gas(blobs)
            } else {
                Some(0)
            };
            if expected != header.excess_blob_gas {
                differ.push(format!(
                    "excessBlobGas (given {:?}, the parent makes it {expected:?})",
                    header.excess_blob_gas
                ));
            }
        }
        (!differ.is_empty()).then_some(differ)
    }
}

/// The fields in which two headers differ, as `name (given X, executed Y)`.
fn header_differences(given: &Header, executed: &Header) -> Vec<String> {
    let mut out = Vec::new();
    macro_rules! field {
        ($name:literal, $f:ident) => {
            if given.$f != executed.$f {
                out.push(format!(
                    "{} (given {:?}, executed {:?})",
                    $name, given.$f, executed.$f
                ));
            }
        };
    }
    field!("parentHash", parent_hash);
    field!("sha3Uncles", ommers_hash);
    field!("miner", beneficiary);
    field!("stateRoot", state_root);
    field!("transactionsRoot", transactions_root);
    field!("receiptsRoot", receipts_root);
    field!("logsBloom", logs_bloom);
    field!("difficulty", difficulty);
    field!("number", number);
    field!("gasLimit", gas_limit);
    field!("gasUsed", gas_used);
    field!("timestamp", timestamp);
    field!("extraData", extra_data);
    field!("mixHash", mix_hash);
    field!("nonce", nonce);
    field!("baseFeePerGas", base_fee_per_gas);
    field!("withdrawalsRoot", withdrawals_root);
    field!("blobGasUsed", blob_gas_used);
    field!("excessBlobGas", excess_blob_gas);
    field!("parentBeaconBlockRoot", parent_beacon_block_root);
    field!("requestsHash", requests_hash);
    if out.is_empty() && given.hash_slow() != executed.hash_slow() {
        out.push("the hash".into());
    }
    out
}
