//! `fcfs`: first come, first served.
//!
//! Flow: candidates → one queue per sender (ascending nonce) → a heap of the queues' heads
//! keyed by earliest arrival (`arrival_seq`) → take the earliest head whose gas limit fits the
//! remaining block gas, then the sender's next. A later nonce that arrived before an earlier
//! one waits for it (nonce order beats arrival order). A head that does not fit, or whose fee
//! cap is below the base fee (it cannot execute), drops the rest of its sender's queue.
//! Config: none (any key is an error).

#![no_std]

use core::cmp::Reverse;

use ordo_sdk::prelude::*;

/// Arrival order.
#[derive(Debug, Clone, Copy)]
pub struct Fcfs;

impl OrderingPolicy for Fcfs {
    const NAME: &'static str = "fcfs";

    fn new(config: &str) -> Result<Self, Error> {
        config::none(config)?;
        Ok(Fcfs)
    }

    fn order(&self, ctx: &BlockContext, candidates: &Candidates) -> Result<Vec<u32>, Error> {
        Ok(ordering::order_by_key(ctx, candidates, |c| {
            c.effective_tip(ctx.base_fee)?;
            Some(Reverse(c.arrival_seq()))
        }))
    }
}

ordo_sdk::export!(Fcfs);

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_sdk::testing::{self, TxSpec, address, candidates_from};

    fn run(set: &Candidates) -> Vec<u32> {
        testing::run_ordering::<Fcfs>("", &testing::block_context(), set)
    }

    #[test]
    fn answers_pass_the_host_checks_at_1k_candidates() {
        for seed in 0..5 {
            assert!(!run(&testing::random_candidates(1_000, seed)).is_empty());
        }
    }

    #[test]
    fn follows_arrival_whatever_the_tip() {
        let set = candidates_from([
            TxSpec::new(address(1), 0).tip(9).arrival(3),
            TxSpec::new(address(2), 0).tip(1).arrival(1),
            TxSpec::new(address(3), 0).tip(5).arrival(2),
        ]);
        assert_eq!(run(&set), [1, 2, 0]);
    }

    #[test]
    fn a_late_nonce_gap_holds_back_the_later_nonce() {
        let set = candidates_from([
            TxSpec::new(address(1), 0).arrival(5),
            TxSpec::new(address(1), 1).arrival(2),
            TxSpec::new(address(2), 0).arrival(3),
        ]);
        assert_eq!(run(&set), [2, 0, 1]);
    }

    #[test]
    fn with_room_for_all_each_pick_is_the_earliest_head() {
        let mut ctx = testing::block_context();
        ctx.gas_limit = u64::MAX;
        let set = testing::random_candidates(1_000, 4);
        let answer = testing::run_ordering::<Fcfs>("", &ctx, &set);
        let payable = |i: u32| set.get(i).unwrap().effective_tip(ctx.base_fee).is_some();
        let mut queues = set.sender_queues();
        for queue in &mut queues {
            // What can run: the prefix that pays the base fee.
            let keep = queue.iter().take_while(|&&i| payable(i)).count();
            queue.truncate(keep);
            queue.reverse();
        }
        for &pick in &answer {
            let earliest = queues
                .iter()
                .filter_map(|q| q.last())
                .min_by_key(|&&i| set.get(i).unwrap().arrival_seq())
                .copied();
            assert_eq!(Some(pick), earliest);
            queues.iter_mut().for_each(|q| q.retain(|&i| i != pick));
        }
        assert!(
            queues.iter().all(|q| q.is_empty()),
            "everything payable fits"
        );
    }
}
