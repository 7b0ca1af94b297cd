//! `fair`: arrival windows, highest tip first inside a window (time-boost-like).
//!
//! Flow: each candidate falls in window `arrival_ms / window_ms` → one queue per sender
//! (ascending nonce) → a heap of the queues' heads keyed by (earliest window, highest
//! effective tip, earliest arrival) → take the best head whose gas limit fits the remaining
//! block gas, then the sender's next. Paying more moves a transaction ahead of its window
//! peers but never ahead of an earlier window, so nobody can buy their way past transactions
//! that arrived a window earlier. A head that does not fit, or whose fee cap is below the base
//! fee, drops the rest of its sender's queue.
//!
//! Config: `window_ms = 250` (default; must be at least 1).

#![no_std]

use core::cmp::Reverse;

use ordo_sdk::prelude::*;

/// Default arrival window.
pub const DEFAULT_WINDOW_MS: u64 = 250;

/// Arrival windows of `window_ms`, tip order inside each.
#[derive(Debug, Clone, Copy)]
pub struct Fair {
    window_ms: u64,
}

impl OrderingPolicy for Fair {
    const NAME: &'static str = "fair";

    fn new(config: &str) -> Result<Self, Error> {
        let cfg = config::parse_kv(config)?;
        cfg.deny_unknown(&["window_ms"])?;
        let window_ms = cfg.get_or("window_ms", DEFAULT_WINDOW_MS)?;
        if window_ms == 0 {
            return Err(Error::new("config: window_ms must be at least 1"));
        }
        Ok(Fair { window_ms })
    }

    fn order(&self, ctx: &BlockContext, candidates: &Candidates) -> Result<Vec<u32>, Error> {
        Ok(ordering::order_by_key(ctx, candidates, |c| {
            let tip = c.effective_tip(ctx.base_fee)?;
            let window = c.arrival_ms() / self.window_ms;
            Some((Reverse(window), tip, Reverse(c.arrival_seq())))
        }))
    }
}

ordo_sdk::export!(Fair);

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_sdk::testing::{self, TxSpec, address, candidates_from};

    fn run(config: &str, set: &Candidates) -> Vec<u32> {
        testing::run_ordering::<Fair>(config, &testing::block_context(), set)
    }

    #[test]
    fn answers_pass_the_host_checks_at_1k_candidates() {
        for (seed, config) in [
            (0, ""),
            (1, "window_ms = 100"),
            (2, "window_ms=1"),
            (3, "window_ms = 60_000"),
        ] {
            assert!(!run(config, &testing::random_candidates(1_000, seed)).is_empty());
        }
    }

    #[test]
    fn earlier_windows_first_tips_inside_a_window() {
        // The test epoch is a multiple of 250 ms, so windows are [0, 250), [250, 500), ...
        let set = candidates_from([
            TxSpec::new(address(1), 0).tip(1).arrival(1).arrival_ms(10),
            TxSpec::new(address(2), 0).tip(7).arrival(2).arrival_ms(200),
            TxSpec::new(address(3), 0)
                .tip(99)
                .arrival(3)
                .arrival_ms(260),
            TxSpec::new(address(4), 0).tip(3).arrival(4).arrival_ms(240),
        ]);
        assert_eq!(run("", &set), [1, 3, 0, 2]);
        // One big window: pure tip order.
        assert_eq!(run("window_ms = 10000", &set), [2, 1, 3, 0]);
        // 1 ms windows: pure arrival order.
        assert_eq!(run("window_ms = 1", &set), [0, 1, 3, 2]);
    }

    #[test]
    fn windows_never_decrease_when_senders_are_independent() {
        let mut ctx = testing::block_context();
        ctx.gas_limit = u64::MAX;
        let set = candidates_from((0..300u64).map(|i| {
            TxSpec::new(address(i), 0)
                .tip((i * 7919) % 13)
                .arrival(i + 1)
                .arrival_ms(i * 37)
        }));
        let answer = testing::run_ordering::<Fair>("window_ms = 500", &ctx, &set);
        let windows: Vec<u64> = answer
            .iter()
            .map(|&i| set.get(i).unwrap().arrival_ms() / 500)
            .collect();
        assert!(windows.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(answer.len(), 300);
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(Fair::new("window_ms = 0").is_err());
        assert!(Fair::new("window_ms = soon").is_err());
        assert!(Fair::new("windowms = 5").is_err());
        assert_eq!(Fair::new("").unwrap().window_ms, DEFAULT_WINDOW_MS);
    }
}
