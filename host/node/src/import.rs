//! `ordo import`: an Ethereum chain (a geth genesis file and an RLP export of its blocks, as
//! `geth export` writes and the execution-apis suite ships) into a datadir that
//! `ordo run --no-sequencing` serves. Each block is executed under the fork rules of the
//! genesis file's `config` and must produce its own header ([`Executor::import_block`]).
//! Importing again into the same datadir checks the blocks it holds and goes on after them.

use std::{path::Path, sync::Arc};

use alloy_consensus::{Block, TxEnvelope};
use alloy_primitives::B256;
use eyre::WrapErr;
use ordo_exec::{ChainRules, Executor, StateDb};
use ordo_primitives::alloy_rlp::Decodable;
use ordo_storage::Storage;

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    /// The genesis block's hash.
    pub genesis: B256,
    /// The head after the import.
    pub head: u64,
    /// Its hash.
    pub head_hash: B256,
    /// Blocks executed and stored by this run (the others were there already).
    pub imported: usize,
}

/// Imports `chain_file` on the genesis of `genesis_file` into `datadir`.
pub fn import_chain(
    genesis_file: &Path,
    chain_file: &Path,
    datadir: &Path,
) -> eyre::Result<Imported> {
    let text = std::fs::read_to_string(genesis_file)
        .wrap_err_with(|| format!("reading genesis {}", genesis_file.display()))?;
    let genesis: alloy_genesis::Genesis = serde_json::from_str(&text)
        .wrap_err_with(|| format!("in genesis {}", genesis_file.display()))?;
    let spec = crate::genesis::chain_spec_of(&genesis)?;
    let rules = Arc::new(ChainRules::from_chain_config(&genesis.config));
    let export =
        std::fs::read(chain_file).wrap_err_with(|| format!("reading {}", chain_file.display()))?;

    std::fs::create_dir_all(datadir)
        .wrap_err_with(|| format!("creating datadir {}", datadir.display()))?;
    let storage = Storage::open(datadir.join("db")).wrap_err("opening storage")?;
    let genesis_block = match storage.block(0)? {
        Some(stored) => {
            let expected =
                ordo_exec::ethereum_genesis_header(&genesis, &rules, stored.header.state_root);
            eyre::ensure!(
                storage.chain_config()?.is_some() && expected.hash_slow() == stored.hash,
                "{} holds another chain (genesis {}); import into an empty datadir",
                datadir.display(),
                stored.hash
            );
            stored
        }
        None => ordo_exec::write_ethereum_genesis(&storage, &spec, &genesis, &rules)?,
    };
    let state = Arc::new(StateDb::open(storage.clone())?);
    let exec = Executor::new(state.clone(), spec.chain_id).with_rules(rules);
    let mut head = match storage.head()? {
        Some(n) => storage
            .block(n)?
            .ok_or_else(|| eyre::eyre!("head block {n} missing"))?,
        None => genesis_block.clone(),
    };
    let mut imported = 0;
    for block in read_blocks(&export, chain_file) {
        let block = block?;
        let number = block.header.number;
        if number <= head.number() {
            let stored = storage
                .block(number)?
                .ok_or_else(|| eyre::eyre!("block {number} missing below the head"))?;
            eyre::ensure!(
                stored.hash == block.header.hash_slow(),
                "block {number} of {} is not the stored one ({}): another chain",
                chain_file.display(),
                stored.hash
            );
            continue;
        }
        let built = exec.import_block(&head, block)?;
        state.commit(&built.commit)?;
        head = built.block;
        imported += 1;
    }
    tracing::info!(target: "ordo::import", head = head.number(), hash = %head.hash, imported, "imported");
    Ok(Imported {
        genesis: genesis_block.hash,
        head: head.number(),
        head_hash: head.hash,
        imported,
    })
}

/// The blocks of an RLP export (one RLP block after another), decoded one at a time as the
/// import reaches them: a decoded export is several times its encoding.
fn read_blocks(bytes: &[u8], path: &Path) -> impl Iterator<Item = eyre::Result<Block<TxEnvelope>>> {
    let mut buf = bytes;
    let mut index = 0usize;
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        let at = bytes.len() - buf.len();
        index += 1;
        Some(Block::<TxEnvelope>::decode(&mut buf).map_err(|e| {
            // Nothing after a block that does not decode can be read.
            buf = &[];
            eyre::eyre!(
                "{}: block {index} (byte {at}) does not decode: {e}",
                path.display()
            )
        }))
    })
}
