//! The transactions a restart pooled from log entries it did not know to be committed.
//!
//! A replica's log is its WAL: a restart pools the transactions of every entry to the log's
//! end (machine.rs `restore_pool`), since entries past what it knew committed may be
//! committed and this replica may lead before it applies them. Some may never be: a deposed
//! leader's last entries. Pooled, one of those could keep out the transaction the group did
//! commit with the same sender and nonce (an equal fee is no replacement). So each is noted
//! here with the entry that carried it, until it is known either way:
//! - an applied entry, or an installed snapshot's pool, carries it: committed after all
//!   ([`Provisional::adopt`]);
//! - the log drops its entry, truncated for another leader's (log_store.rs,
//!   [`Provisional::withdraw_from`]), or replaced by an installed snapshot (`adopt`'s
//!   `replaces`): it leaves the pool, through `Pool::withdraw`.
//!
//! Pooling and confirming, and taking out and withdrawing, each happen under this map's
//! lock (then the pool's), so a truncation racing an apply cannot take out what the apply
//! just found pooled. A snapshot leaves out what is noted here ([`Provisional::holds`]).
//!
//! Only what a restart pooled is ever noted: a transaction pooled because a committed
//! entry carried it is never withdrawn, even if a dropped entry carried it too.

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::B256;
use ordo_pool::{Pool, PoolError};
use ordo_primitives::PooledTx;
use parking_lot::Mutex;

/// Shared by the state machine and the log store of one replica. Empty but after a restart
/// whose log ran past what it knew committed.
#[derive(Debug, Clone, Default)]
pub struct Provisional(Arc<Mutex<HashMap<B256, u64>>>);

impl Provisional {
    /// Notes `hashes`, pooled from the entry at `index`. A hash noted already keeps the
    /// lower index: it stays until the earlier entry goes too.
    pub(crate) fn note(&self, index: u64, hashes: impl IntoIterator<Item = B256>) {
        let mut noted = self.0.lock();
        for hash in hashes {
            let at = noted.entry(hash).or_insert(index);
            *at = (*at).min(index);
        }
    }

    /// Pools `txs`, which committed entries carry (or an installed snapshot's pool), and
    /// confirms them, in one step: a withdrawal in between (a truncation racing an apply)
    /// could otherwise take out one that `pool` skipped as pooled already. `replaces`: an
    /// installed snapshot's last index; what was noted from entries up to it and is not
    /// among `txs` leaves the pool first, so it cannot keep out one of them.
    pub(crate) fn adopt(
        &self,
        pool: &Pool,
        txs: Vec<PooledTx>,
        replaces: Option<u64>,
    ) -> Result<usize, PoolError> {
        let mut noted = self.0.lock();
        if noted.is_empty() {
            // Only a restart notes any, before the log is applied: empty stays empty.
            drop(noted);
            return pool.adopt(txs);
        }
        for tx in &txs {
            noted.remove(&tx.hash);
        }
        if let Some(upto) = replaces {
            Self::withdraw(&mut noted, pool, |index| index <= upto);
        }
        pool.adopt(txs)
    }

    /// Takes out of `pool` those from entries at `from` or later: the log dropped them.
    /// Returns how many were pooled.
    pub(crate) fn withdraw_from(&self, from: u64, pool: &Pool) -> usize {
        Self::withdraw(&mut self.0.lock(), pool, |index| index >= from)
    }

    /// Under the lock, so no adoption runs between taking them and withdrawing them.
    fn withdraw(noted: &mut HashMap<B256, u64>, pool: &Pool, gone: impl Fn(u64) -> bool) -> usize {
        if noted.is_empty() {
            return 0;
        }
        let mut taken = Vec::new();
        noted.retain(|hash, index| {
            let keep = !gone(*index);
            if !keep {
                taken.push(*hash);
            }
            keep
        });
        let withdrawn = pool.withdraw(&taken).len();
        if withdrawn > 0 {
            tracing::info!(target: "ordo::replica", withdrawn, "the log dropped entries a restart had pooled from: their transactions left the pool");
        }
        withdrawn
    }

    /// Whether `hash` is noted: not yet known committed (a snapshot leaves it out).
    pub(crate) fn holds(&self, hash: &B256) -> bool {
        self.0.lock().contains_key(hash)
    }

    /// How many are noted.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Provisional {
        fn noted(&self) -> Vec<(B256, u64)> {
            let mut noted: Vec<_> = self.0.lock().iter().map(|(h, i)| (*h, *i)).collect();
            noted.sort();
            noted
        }
    }

    #[test]
    fn a_transaction_noted_twice_keeps_its_earliest_entry() {
        let (a, b, c, d) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
            B256::repeat_byte(4),
        );
        let noted = Provisional::default();
        noted.note(5, [a, b]);
        noted.note(7, [b, c, d]);
        assert_eq!(noted.noted(), vec![(a, 5), (b, 5), (c, 7), (d, 7)]);
        assert!(noted.holds(&d));
        assert!(!noted.holds(&B256::ZERO));
    }

    /// Every account holds ether at nonce zero.
    struct Rich;

    impl ordo_pool::StateReader for Rich {
        fn nonce(&self, _: &alloy_primitives::Address) -> u64 {
            0
        }
        fn balance(&self, _: &alloy_primitives::Address) -> alloy_primitives::U256 {
            alloy_primitives::U256::from(10u64).pow(alloy_primitives::U256::from(20))
        }
    }

    fn transfer(key: &alloy_signer_local::PrivateKeySigner, nonce: u64) -> PooledTx {
        use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
        use alloy_signer::SignerSync;
        let tx = TxEip1559 {
            chain_id: 901,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: alloy_primitives::TxKind::Call(alloy_primitives::Address::repeat_byte(7)),
            ..Default::default()
        };
        let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        PooledTx::from_signed(TxEnvelope::from(tx.into_signed(sig))).unwrap()
    }

    /// Taken out of the pool by where their entries were, unless confirmed first; what a
    /// committed entry brings is confirmed as it is pooled.
    #[test]
    fn the_log_dropping_an_entry_withdraws_only_its_unconfirmed_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::new(
            Default::default(),
            ordo_pool::PoolLimits {
                chain_id: 901,
                block_gas_limit: 30_000_000,
                min_base_fee: 1,
            },
            Arc::new(Rich),
            ordo_storage::Storage::open(dir.path()).unwrap(),
        );
        pool.keep_in_group_log();
        let keys: Vec<_> = (0..4)
            .map(|_| alloy_signer_local::PrivateKeySigner::random())
            .collect();
        let txs: Vec<PooledTx> = keys.iter().map(|k| transfer(k, 0)).collect();
        let hash = |i: usize| txs[i].hash;
        // A restart pooled all four, from entries 3, 4, 5 and 6.
        pool.adopt(txs.clone()).unwrap();
        let noted = Provisional::default();
        for (i, tx) in txs.iter().enumerate() {
            noted.note(3 + i as u64, [tx.hash]);
        }
        // Entry 4's is committed after all: an applied entry carries it.
        assert_eq!(noted.adopt(&pool, vec![txs[1].clone()], None).unwrap(), 0);
        assert!(!noted.holds(&hash(1)));
        // The log drops entries 4 on: entries 5 and 6's leave; entry 4's stays.
        assert_eq!(noted.withdraw_from(4, &pool), 2);
        assert!(pool.contains(&hash(0)) && pool.contains(&hash(1)));
        assert!(!pool.contains(&hash(2)) && !pool.contains(&hash(3)));
        // A snapshot replaces entries up to 6, its pool holding entry 4's: entry 3's
        // leaves, entry 4's stays.
        assert_eq!(
            noted.adopt(&pool, vec![txs[1].clone()], Some(6)).unwrap(),
            0
        );
        assert!(!pool.contains(&hash(0)) && pool.contains(&hash(1)));
        assert!(noted.is_empty());
        assert_eq!(noted.withdraw_from(0, &pool), 0);
    }
}
