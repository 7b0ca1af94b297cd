//! `priority-fee`: the node's native ordering policy, as a plugin.
//!
//! Flow: candidates → one queue per sender (ascending nonce) → a max-heap of the queues'
//! heads keyed by effective tip at the block's base fee (ties: earlier candidate first) →
//! pop the best head; if its gas limit fits the remaining block gas, take it and push the
//! sender's next; otherwise drop that sender's queue and keep filling with others.
//!
//! Unlike the native policy it also leaves out candidates whose fee cap is below the base fee
//! (and their sender's later nonces): they cannot execute in this block, and counting their
//! gas would crowd out transactions that can. Config: none (any key is an error).

#![no_std]

use ordo_sdk::prelude::*;

/// Highest effective tip first.
#[derive(Debug, Clone, Copy)]
pub struct PriorityFee;

impl OrderingPolicy for PriorityFee {
    const NAME: &'static str = "priority-fee";

    fn new(config: &str) -> Result<Self, Error> {
        config::none(config)?;
        Ok(PriorityFee)
    }

    fn order(&self, ctx: &BlockContext, candidates: &Candidates) -> Result<Vec<u32>, Error> {
        Ok(ordering::order_by_key(ctx, candidates, |c| {
            c.effective_tip(ctx.base_fee)
        }))
    }
}

ordo_sdk::export!(PriorityFee);

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_sdk::testing::{self, BASE_FEE, TxSpec, address, candidates_from};

    fn run(set: &Candidates) -> Vec<u32> {
        testing::run_ordering::<PriorityFee>("", &testing::block_context(), set)
    }

    #[test]
    fn answers_pass_the_host_checks_at_1k_candidates() {
        for seed in 0..5 {
            assert!(!run(&testing::random_candidates(1_000, seed)).is_empty());
        }
    }

    #[test]
    fn highest_tip_first_nonces_in_order() {
        let set = candidates_from([
            TxSpec::new(address(1), 0).tip(1),
            TxSpec::new(address(2), 0).tip(5),
            TxSpec::new(address(3), 0).tip(3),
            // Sender 4's rich nonce 1 waits for its poor nonce 0.
            TxSpec::new(address(4), 0).tip(0),
            TxSpec::new(address(4), 1).tip(9),
        ]);
        assert_eq!(run(&set), [1, 2, 0, 3, 4]);
    }

    #[test]
    fn the_best_head_of_a_random_set_goes_first() {
        let ctx = testing::block_context();
        let set = testing::random_candidates(1_000, 9);
        let best = set
            .sender_queues()
            .iter()
            .filter_map(|q| set.get(q[0])?.effective_tip(ctx.base_fee))
            .max();
        let first = set
            .get(run(&set)[0])
            .and_then(|c| c.effective_tip(ctx.base_fee));
        assert_eq!(first, best);
    }

    #[test]
    fn underpriced_and_oversized_candidates_drop_their_sender_only() {
        let set = candidates_from([
            TxSpec::new(address(1), 0).fees(BASE_FEE - 1, 1),
            TxSpec::new(address(1), 1).tip(50),
            TxSpec::new(address(2), 0).tip(40).gas(testing::GAS_LIMIT),
            TxSpec::new(address(2), 1).tip(30),
            TxSpec::new(address(3), 0)
                .tip(20)
                .gas(testing::GAS_LIMIT - 21_000),
            TxSpec::new(address(4), 0).tip(10),
        ]);
        // Sender 2's first fills the block alone: it goes, then nothing else fits.
        assert_eq!(run(&set), [2]);
        let set = candidates_from([
            TxSpec::new(address(1), 0).fees(BASE_FEE - 1, 1),
            TxSpec::new(address(1), 1).tip(50),
            TxSpec::new(address(3), 0)
                .tip(20)
                .gas(testing::GAS_LIMIT - 21_000),
            TxSpec::new(address(2), 0).tip(15).gas(50_000),
            TxSpec::new(address(2), 1).tip(30),
            TxSpec::new(address(4), 0).tip(10),
        ]);
        // 3 fills all but 21000; 2's 50k no longer fits (and takes its nonce 1 along); 4 fits.
        assert_eq!(run(&set), [2, 5]);
    }

    #[test]
    fn config_keys_are_refused() {
        assert!(PriorityFee::new("").is_ok());
        assert!(PriorityFee::new("window_ms = 5").is_err());
    }
}
