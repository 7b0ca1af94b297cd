//! `round-robin`: a teaching ordering plugin. One transaction per sender in turn.
//!
//! Flow: group the candidates into per-sender queues (ascending nonce, as the host promises)
//! → line the senders up by their earliest arrival → go round the line taking each sender's
//! next transaction, until every queue is empty or out of the running. A sender leaves the
//! line when its next transaction cannot pay the base fee or does not fit the remaining block
//! gas: its later nonces could not execute without it.
//!
//! The whole plugin is this file: a type, an [`OrderingPolicy`] impl, and one `export!` line
//! (the kind, ordering, is the ordo-sdk feature in Cargo.toml; the version reported to the
//! node is the crate's). It is `no_std` because `std` on `wasm32-wasip2` would import WASI,
//! which the node refuses; `alloc` (Vec, format!) works as usual, and the prelude names it.

#![no_std]

use ordo_sdk::{ordering::GasBudget, prelude::*};

/// One transaction per sender per round.
#[derive(Debug, Clone, Copy)]
pub struct RoundRobin;

impl OrderingPolicy for RoundRobin {
    const NAME: &'static str = "round-robin";

    fn new(config: &str) -> Result<Self, Error> {
        // No settings; refusing unknown ones tells an operator about a typo at load time.
        config::none(config)?;
        Ok(RoundRobin)
    }

    fn order(&self, ctx: &BlockContext, candidates: &Candidates) -> Result<Vec<u32>, Error> {
        let arrival = |i: u32| candidates.get(i).map_or(u64::MAX, |c| c.arrival_seq());

        // The line: each sender's queue of candidate indices, earliest first arrival first.
        let mut line = candidates.sender_queues();
        line.sort_by_key(|queue| queue.iter().map(|&i| arrival(i)).min());

        // `next[s]`: how far sender `s` has got; `None` once it has left the line.
        let mut next: Vec<Option<usize>> = line.iter().map(|_| Some(0)).collect();
        let mut gas = GasBudget::new(ctx);
        let mut out = Vec::with_capacity(candidates.len());
        let mut took_any = true;
        while took_any {
            took_any = false;
            for (queue, pos) in line.iter().zip(next.iter_mut()) {
                let Some(p) = *pos else { continue };
                let Some(c) = queue.get(p).and_then(|&i| candidates.get(i)) else {
                    *pos = None; // queue done
                    continue;
                };
                if c.effective_tip(ctx.base_fee).is_none() || !gas.try_take(c.gas_limit()) {
                    *pos = None; // cannot run now, and neither can its later nonces
                    continue;
                }
                out.push(c.index());
                *pos = Some(p + 1);
                took_any = true;
            }
        }
        Ok(out)
    }
}

ordo_sdk::export!(RoundRobin);

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_sdk::testing::{self, TxSpec, address, candidates_from};

    #[test]
    fn answers_pass_the_host_checks_at_1k_candidates() {
        let set = testing::random_candidates(1_000, 1);
        let order = testing::run_ordering::<RoundRobin>("", &testing::block_context(), &set);
        assert!(!order.is_empty());
    }

    #[test]
    fn takes_one_per_sender_in_turn() {
        let set = candidates_from([
            TxSpec::new(address(1), 0).arrival(2),
            TxSpec::new(address(1), 1).arrival(3),
            TxSpec::new(address(1), 2).arrival(4),
            TxSpec::new(address(2), 0).arrival(1),
            TxSpec::new(address(2), 1).arrival(5),
        ]);
        let order = testing::run_ordering::<RoundRobin>("", &testing::block_context(), &set);
        // Sender 2 arrived first: 2, 1, 2, 1, 1.
        assert_eq!(order, [3, 0, 4, 1, 2]);
    }
}
