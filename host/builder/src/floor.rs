//! The inclusion floor: a transaction the ordering policy keeps leaving out is placed by the
//! host once it has waited `floor` blocks. Policies order; they cannot censor.
//!
//! Waiting is measured with the pool's arrival sequence, so the builder keeps one number per
//! block instead of one per transaction: block N records the highest sequence any candidate
//! of block N (or before) had. A candidate whose sequence is at or below the mark of block
//! N - floor was in the pool `floor` blocks ago, and is overdue at block N.

use std::collections::{HashMap, VecDeque};

use ordo_primitives::{Candidate, alloy_primitives::Address};

/// Blocks a transaction may wait while the policy leaves it out, unless the operator says
/// otherwise (`[builder] inclusion_floor_blocks`).
pub const DEFAULT_INCLUSION_FLOOR: u64 = 10;

/// The per-block arrival marks.
#[derive(Debug, Default)]
pub(crate) struct FloorMarks {
    /// `(block, highest arrival sequence offered up to it)`, oldest first.
    marks: VecDeque<(u64, u64)>,
}

impl FloorMarks {
    /// Records block `number`'s candidates and answers, per candidate, whether it is
    /// overdue under `floor` (0: no floor). A sender's candidates before an overdue one are
    /// overdue too: they must land first for it to land at all.
    pub(crate) fn overdue(
        &mut self,
        number: u64,
        floor: u64,
        candidates: &[Candidate],
    ) -> Vec<bool> {
        let seen = candidates.iter().map(|c| c.arrival_seq).max();
        let before = self.marks.back().map(|&(_, m)| m);
        // A block number that goes back (a block taken back, a new leader) starts over.
        while self.marks.back().is_some_and(|&(b, _)| b >= number) {
            self.marks.pop_back();
        }
        if let Some(mark) = seen.max(before) {
            self.marks.push_back((number, mark));
        }
        while self.marks.len() as u64 > floor.saturating_add(1) {
            self.marks.pop_front();
        }
        let mut overdue = vec![false; candidates.len()];
        if floor == 0 {
            return overdue;
        }
        let Some(limit) = self
            .marks
            .iter()
            .rev()
            .find(|&&(b, _)| b.saturating_add(floor) <= number)
            .map(|&(_, m)| m)
        else {
            return overdue;
        };
        // The last overdue candidate of each sender; everything of that sender up to it.
        let mut last: HashMap<Address, usize> = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            if c.arrival_seq <= limit {
                last.insert(c.sender, i);
            }
        }
        for (i, c) in candidates.iter().enumerate() {
            overdue[i] = last.get(&c.sender).is_some_and(|&upto| i <= upto);
        }
        overdue
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_signer::SignerSync;
    use alloy_signer_local::PrivateKeySigner;
    use ordo_primitives::{PooledTx, alloy_primitives::TxKind};

    use super::*;

    fn candidate(key: &PrivateKeySigner, nonce: u64, seq: u64) -> Candidate {
        let tx = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10,
            to: TxKind::Call(Address::ZERO),
            ..Default::default()
        };
        let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
        let pooled = PooledTx::from_signed(TxEnvelope::Eip1559(tx.into_signed(sig))).unwrap();
        Candidate {
            tx: Arc::new(pooled),
            arrival_seq: seq,
            arrival_ms: 0,
        }
    }

    #[test]
    fn a_candidate_is_overdue_once_it_has_waited_the_floor() {
        let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let mut marks = FloorMarks::default();
        let early = candidate(&a, 0, 1);
        // Blocks 1 and 2 offer `early`; with a floor of 2 it is overdue at block 3, not before.
        assert_eq!(
            marks.overdue(1, 2, std::slice::from_ref(&early)),
            vec![false]
        );
        assert_eq!(
            marks.overdue(2, 2, std::slice::from_ref(&early)),
            vec![false]
        );
        let late = candidate(&b, 0, 7);
        assert_eq!(
            marks.overdue(3, 2, &[early.clone(), late.clone()]),
            vec![true, false]
        );
        // `late` arrived after block 2's mark: overdue at block 5.
        assert_eq!(
            marks.overdue(4, 2, std::slice::from_ref(&late)),
            vec![false]
        );
        assert_eq!(marks.overdue(5, 2, std::slice::from_ref(&late)), vec![true]);
        // No floor, nothing overdue.
        assert_eq!(
            marks.overdue(6, 0, std::slice::from_ref(&late)),
            vec![false]
        );
    }

    #[test]
    fn an_overdue_transaction_brings_its_senders_earlier_nonces() {
        let a = PrivateKeySigner::random();
        let mut marks = FloorMarks::default();
        let first = candidate(&a, 1, 5);
        marks.overdue(1, 1, std::slice::from_ref(&first));
        // Nonce 0 arrived later (it filled the gap); nonce 1 waited: both are due.
        let gap = candidate(&a, 0, 9);
        assert_eq!(marks.overdue(2, 1, &[gap, first]), vec![true, true]);
    }
}
