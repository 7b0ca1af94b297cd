//! Blocks the replication log committed, stored the same way on every replica: the leader
//! stores the block it staged and parked (no second execution), a follower executes the
//! leader's block on its own state and stores it only if it comes out identical (same hash:
//! header, roots and all). Either way the block's log position goes into the same batch,
//! so a replica's chain and what its log applied never disagree after a crash.

use std::sync::Arc;

use alloy_primitives::Address;
use ordo_exec::{BlockItem, BlockParams};
use ordo_primitives::{BlockRecord, PooledTx};

use crate::{Applied, Builder, BuilderError, Replicator, StagedGuard, Staging};

impl Builder {
    /// Replicates every block sealed from now on through `replicator` before storing it.
    pub fn set_replicator(&self, replicator: Arc<dyn Replicator>) {
        *self.replicator.write() = Some(replicator);
    }

    /// Stores `block`, which the replication log committed at `position` (encoded by the
    /// replica; `None` leaves the stored position as it was, for blocks a snapshot brings,
    /// whose log entries this replica never saw). Blocking.
    ///
    /// A committed block this replica cannot store stops it for good ([`Builder::fail`]):
    /// its own block in flight, if any, is then never stored, so it cannot fork the chain.
    pub fn apply_committed(
        &self,
        block: &BlockRecord,
        position: Option<Vec<u8>>,
    ) -> Result<Applied, BuilderError> {
        let applied = self.try_apply_committed(block, position);
        if let Err(e) = &applied {
            self.parked.lock().take();
            self.fail(format!("a committed block cannot be applied here: {e}"));
        }
        applied
    }

    fn try_apply_committed(
        &self,
        block: &BlockRecord,
        position: Option<Vec<u8>>,
    ) -> Result<Applied, BuilderError> {
        if let Some(why) = self.commits.lock().failed.clone() {
            return Err(BuilderError::CommitFailed(why));
        }
        // Held from before the own block leaves `parked` until it is stored: `finish`, which
        // looks here before it looks in `parked`, then either waits for the store or finds
        // the block still parked. Never a moment where it finds the block in neither (it
        // would give up on a block that is being stored, and never announce it).
        let mut stored_slot = self.stored_parked.lock();
        let own = {
            let mut parked = self.parked.lock();
            match parked.as_ref() {
                Some(staging) if staging.block.hash == block.hash => parked.take(),
                _ => None,
            }
        };
        if let Some(staging) = own {
            let staging = self.store(staging, position)?;
            *stored_slot = Some(staging);
            return Ok(Applied::Stored);
        }
        drop(stored_slot);
        // Another leader's block at the height of this replica's own, which waits for its
        // entry: the own one lost (Raft would have carried a committed entry over to the new
        // leader, which would have built on it). This replica no longer leads: it stands by
        // and takes its block back, which also frees the builder thread if it holds
        // `sealing` while it waits for that block. The watcher of leadership lets it seal
        // again when it leads.
        let parked_number = self.parked.lock().as_ref().map(|s| s.block.number());
        if parked_number.is_some_and(|n| n <= block.number()) {
            self.standby
                .store(true, std::sync::atomic::Ordering::Release);
            if let Some(staging) = self.parked.lock().take() {
                tracing::warn!(target: "ordo::builder", number = staging.block.number(), "another leader's block was committed at this height; own block taken back");
                self.take_back(staging);
            }
        }
        let _sealing = self.sealing.lock();
        let head = self.head();
        let number = block.number();
        if number <= head.number() {
            let stored = if number == head.number() {
                Some(head.hash)
            } else {
                self.exec.state().storage().block(number)?.map(|b| b.hash)
            };
            return match stored {
                Some(hash) if hash == block.hash => Ok(Applied::AlreadyStored),
                _ => Err(BuilderError::Replicated(format!(
                    "block {number} {} is not the one stored here",
                    block.hash
                ))),
            };
        }
        if self.tip().hash != head.hash {
            return Err(BuilderError::Replicated(format!(
                "block {number} arrived over a block of this replica's own that was never \
                 stored; restart the node"
            )));
        }
        if number != head.number() + 1 || block.header.parent_hash != head.hash {
            return Err(BuilderError::Replicated(format!(
                "block {number} does not follow the head {} {}",
                head.number(),
                head.hash
            )));
        }
        let txs = block_txs(block)?;
        let h = &block.header;
        let params = BlockParams {
            number,
            timestamp: h.timestamp,
            beneficiary: h.beneficiary,
            gas_limit: h.gas_limit,
            base_fee: h.base_fee_per_gas.unwrap_or_default(),
            extra_data: h.extra_data.clone(),
            state_block: None,
            max_tx_bytes: None,
            beacon_root: h.parent_beacon_block_root.unwrap_or_default(),
            ethereum: None,
        };
        let built = self.exec.build_block_items(
            &head.header,
            head.hash,
            &params,
            &txs,
            block.provenance.clone(),
        )?;
        if let Some((hash, why)) = built.skipped.first() {
            return Err(BuilderError::Replicated(format!(
                "block {number}: transaction {hash} does not execute here: {why:?}"
            )));
        }
        if built.block.hash != block.hash {
            return Err(BuilderError::Replicated(format!(
                "block {number} executes to {} here, not {}",
                built.block.hash, block.hash
            )));
        }
        // Its transactions leave the WAL (on a replica, the pool's aside) once it is stored
        // (`store`).
        let mut commit = built.commit;
        // The leader's record names the origin; the header (extra data) already commits to
        // its hash.
        let mut built_block = built.block;
        built_block.l1_origin = block.l1_origin;
        if let Some(stored) = commit.block.as_mut() {
            stored.l1_origin = block.l1_origin;
        }
        self.wait_for_commit()?;
        let sealed = Arc::new(built_block);
        *self.tip.lock() = sealed.clone();
        let staged = self.exec.state().stage(&commit);
        self.commits.lock().in_flight = true;
        let staged_guard = StagedGuard(self);
        let changed: Vec<Address> = commit.accounts.iter().map(|(a, _)| *a).collect();
        self.pool.on_block(&sealed.tx_hashes, &changed);
        // A follower seals nothing: the bundles this block ends are done with here, as the
        // leader does when it seals.
        if let Some(bundles) = self.bundles.read().clone() {
            bundles.prune(number, h.timestamp.max(crate::now_secs()));
        }
        std::mem::forget(staged_guard);
        let staging = self.store(
            Staging {
                commit,
                staged,
                block: sealed,
                included: txs.len(),
                invalid: Vec::new(),
            },
            position,
        )?;
        self.announce(staging);
        Ok(Applied::Stored)
    }
}

impl Builder {
    /// Waits until every block handed to storage is on disk. Blocking.
    pub fn wait_stored(&self) -> Result<(), BuilderError> {
        self.wait_for_commit()
    }

    /// Undoes the staging of this replica's own block that the group did not commit: the
    /// state drops the overlay and the cached values, the tip goes back to the head, and the
    /// block's transactions return to the pool (until then the pool kept them aside for a
    /// snapshot, and the log holds their entries).
    pub(crate) fn take_back(&self, staging: Staging) {
        let state = self.exec.state();
        state.unstage(&staging.commit, &staging.staged);
        *self.tip.lock() = self.head();
        // Deposits go back to where they came from (L1), not to the pool.
        let txs: Vec<PooledTx> = block_txs(&staging.block)
            .map(|txs| {
                txs.iter()
                    .filter_map(|item| match item {
                        BlockItem::Tx(tx) => Some(PooledTx::clone(tx)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Nothing of the block stays aside, whether pooled again or not (found invalid, or
        // a block that does not decode).
        let mut staged = staging.invalid.clone();
        staged.extend_from_slice(&staging.block.tx_hashes);
        self.pool.put_back(txs, &staged);
        let changed: Vec<Address> = staging.commit.accounts.iter().map(|(a, _)| *a).collect();
        // The pool read the block's state for these senders; it reads the head's again.
        self.pool.on_block(&[], &changed);
        let mut commits = self.commits.lock();
        commits.in_flight = false;
        self.committed.notify_all();
    }
}

/// A block's transactions as the executor takes them. The senders are the leader's: a wrong
/// one would change the state root, and with it the hash this replica checks.
fn block_txs(block: &BlockRecord) -> Result<Vec<BlockItem>, BuilderError> {
    if block.senders.len() != block.transactions.len() {
        return Err(BuilderError::Replicated(format!(
            "block {} has {} senders for {} transactions",
            block.number(),
            block.senders.len(),
            block.transactions.len()
        )));
    }
    block
        .transactions
        .iter()
        .zip(&block.senders)
        .map(|(raw, sender)| {
            BlockItem::from_body(raw, Some(*sender))
                .map_err(|e| BuilderError::Replicated(format!("block {}: {e}", block.number())))
        })
        .collect()
}
