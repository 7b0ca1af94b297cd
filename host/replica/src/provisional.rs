//! The transactions a restart pooled from log entries it did not know to be committed.
//!
//! A replica's log is its WAL: a restart pools the transactions of every entry to the log's
//! end (machine.rs `restore_pool`), since entries past what it knew committed may be
//! committed and this replica may lead before it applies them. Some may never be: a deposed
//! leader's last entries. Pooled, one of those could keep out the transaction the group did
//! commit with the same sender and nonce (an equal fee is no replacement). So each is noted
//! here with the entry that carried it, until it is known either way:
//! - an applied entry, or an installed snapshot's pool, carries it: committed after all
//!   ([`Provisional::confirm`]);
//! - the log drops its entry, truncated for another leader's (log_store.rs), or replaced
//!   by an installed snapshot: it leaves the pool ([`Provisional::take_from`],
//!   [`Provisional::take_upto`], then `Pool::withdraw`).
//!
//! Only what a restart pooled is ever noted: a transaction pooled because a committed
//! entry carried it is never withdrawn, even if a dropped entry carried it too.

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::B256;
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

    /// These were committed after all.
    pub(crate) fn confirm<'a>(&self, hashes: impl IntoIterator<Item = &'a B256>) {
        let mut noted = self.0.lock();
        if noted.is_empty() {
            return;
        }
        for hash in hashes {
            noted.remove(hash);
        }
    }

    /// Takes out those from entries at `from` or later: the log dropped them.
    pub(crate) fn take_from(&self, from: u64) -> Vec<B256> {
        self.take(|index| index >= from)
    }

    /// Takes out those from entries at `upto` or earlier: an installed snapshot replaced
    /// them (its pool holds the ones still pending).
    pub(crate) fn take_upto(&self, upto: u64) -> Vec<B256> {
        self.take(|index| index <= upto)
    }

    fn take(&self, gone: impl Fn(u64) -> bool) -> Vec<B256> {
        let mut taken = Vec::new();
        self.0.lock().retain(|hash, index| {
            let keep = !gone(*index);
            if !keep {
                taken.push(*hash);
            }
            keep
        });
        taken
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

    fn sorted(mut hashes: Vec<B256>) -> Vec<B256> {
        hashes.sort();
        hashes
    }

    #[test]
    fn a_noted_transaction_leaves_with_its_earliest_entry_unless_confirmed() {
        let (a, b, c, d) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
            B256::repeat_byte(4),
        );
        let noted = Provisional::default();
        noted.note(5, [a, b]);
        noted.note(7, [b, c, d]);
        assert_eq!(noted.len(), 4);
        // Confirmed: an applied entry carried it.
        noted.confirm(&[d]);
        // Entries 6 on dropped: c goes; b stays, entry 5 carried it too.
        assert_eq!(noted.take_from(6), vec![c]);
        // A snapshot up to 5 replaces the rest.
        assert_eq!(sorted(noted.take_upto(5)), sorted(vec![a, b]));
        assert!(noted.is_empty());
        // Nothing noted: nothing to take, whatever goes.
        assert!(noted.take_from(0).is_empty());
    }
}
