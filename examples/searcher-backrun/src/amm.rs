//! The AMM contract (`contracts/Amm.sol`) seen from the searcher: its calls, and its pool
//! math reproduced in integer `U256` arithmetic exactly as the contract computes it, so a
//! simulated profit is the profit the transaction will make on the same state.

use alloc::vec::Vec;

use ordo_sdk::{
    U256, abi,
    primitives::{U512, ruint::UintTryFrom},
};

/// `swap(uint256 pool, bool xForY, uint256 amountIn, uint256 minOut)`.
pub const SWAP: &str = "swap(uint256,bool,uint256,uint256)";
/// `arb(uint256 buyPool, uint256 sellPool, bool startWithX, uint256 amountIn, uint256 minProfit)`.
pub const ARB: &str = "arb(uint256,uint256,bool,uint256,uint256)";
/// `getReserves(uint256 pool) returns (uint256 x, uint256 y)`.
pub const GET_RESERVES: &str = "getReserves(uint256)";

/// Number of pools in the contract.
pub const POOLS: usize = 2;

/// One pool's reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserves {
    /// Token X in the pool.
    pub x: U256,
    /// Token Y in the pool.
    pub y: U256,
}

/// A decoded `swap(...)` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapCall {
    /// Pool index.
    pub pool: usize,
    /// X in, Y out (else Y in, X out).
    pub x_for_y: bool,
    /// Input amount.
    pub amount_in: U256,
    /// The trader's slippage bound: the swap reverts below it.
    pub min_out: U256,
}

impl SwapCall {
    /// Decodes calldata of a `swap(...)` call; `None` for anything else (another function,
    /// short data, a pool index the contract does not have, a non-0/1 bool).
    pub fn decode(calldata: &[u8]) -> Option<Self> {
        let args = abi::args_of(calldata, abi::selector(SWAP))?;
        let pool = abi::read_u256(args, 0)?;
        let pool = usize::try_from(pool).ok().filter(|&p| p < POOLS)?;
        Some(Self {
            pool,
            x_for_y: abi::read_bool(args, 1)?,
            amount_in: abi::read_u256(args, 2)?,
            min_out: abi::read_u256(args, 3)?,
        })
    }

    /// Calldata for this swap.
    pub fn encode(&self) -> Vec<u8> {
        abi::call(
            abi::selector(SWAP),
            &[
                abi::u64(self.pool as u64),
                abi::bool(self.x_for_y),
                abi::u256(self.amount_in),
                abi::u256(self.min_out),
            ],
        )
    }
}

/// An arbitrage round trip, starting and ending in X: `amount_in` X sold on `buy_pool` for
/// Y, that Y sold on `sell_pool` for X.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arb {
    /// The pool where X fetches the most Y.
    pub buy_pool: usize,
    /// The other pool.
    pub sell_pool: usize,
    /// X put in.
    pub amount_in: U256,
    /// X gained: what comes back minus `amount_in`.
    pub profit: U256,
}

impl Arb {
    /// Calldata for `arb(buy_pool, sell_pool, true, amount_in, min_profit)`.
    pub fn encode(&self, min_profit: U256) -> Vec<u8> {
        abi::call(
            abi::selector(ARB),
            &[
                abi::u64(self.buy_pool as u64),
                abi::u64(self.sell_pool as u64),
                abi::bool(true),
                abi::u256(self.amount_in),
                abi::u256(min_profit),
            ],
        )
    }
}

/// `getAmountOut`: constant product with a 0.3% fee on the input. `None` where the contract
/// reverts (overflow, division by zero).
pub fn amount_out(amount_in: U256, reserve_in: U256, reserve_out: U256) -> Option<U256> {
    let in_with_fee = amount_in.checked_mul(U256::from(997))?;
    let numerator = in_with_fee.checked_mul(reserve_out)?;
    let denominator = reserve_in
        .checked_mul(U256::from(1000))?
        .checked_add(in_with_fee)?;
    numerator.checked_div(denominator)
}

/// One pool-side swap as the contract's `_poolSwap` does it; updates `pool` and returns the
/// output. `None` where the contract reverts (zero input, overflow, output above reserves).
pub fn pool_swap(pool: &mut Reserves, x_for_y: bool, amount_in: U256) -> Option<U256> {
    if amount_in.is_zero() {
        return None;
    }
    let (r_in, r_out) = if x_for_y {
        (&mut pool.x, &mut pool.y)
    } else {
        (&mut pool.y, &mut pool.x)
    };
    let out = amount_out(amount_in, *r_in, *r_out)?;
    *r_in = r_in.checked_add(amount_in)?;
    *r_out = r_out.checked_sub(out)?;
    Some(out)
}

/// The pools after `swap` executes, or `None` if it would revert (slippage bound included; the
/// trader's own balance is not checked: it is not in the pools).
pub fn after_swap(pools: &[Reserves; POOLS], swap: &SwapCall) -> Option<[Reserves; POOLS]> {
    let mut after = *pools;
    let out = pool_swap(&mut after[swap.pool], swap.x_for_y, swap.amount_in)?;
    (out >= swap.min_out).then_some(after)
}

/// X back from the round trip `amount_in` X → Y on `buy` → X on `sell`, exactly as `arb`
/// computes it.
pub fn round_trip(
    pools: &[Reserves; POOLS],
    buy: usize,
    sell: usize,
    amount_in: U256,
) -> Option<U256> {
    let mut p = *pools;
    let mid = pool_swap(&mut p[buy], true, amount_in)?;
    pool_swap(&mut p[sell], false, mid)
}

/// The most profitable X → Y → X round trip between the two pools, or `None` when no amount
/// makes a profit (the price gap is within the fees).
///
/// Selling `a` X on pool A (reserves xA, yA) and the Y on pool B (xB, yB) returns, with
/// γ = 997/1000,
///
/// ```text
/// back(a) = K·a / (D + E·a),   K = γ²·yA·xB,   D = xA·yB,   E = γ·(yB + γ·yA)
/// ```
///
/// so `back(a) - a` is largest where `back'(a) = K·D / (D + E·a)² = 1`:
/// `a* = (√(K·D) - D) / E`, positive only when K > D. All three are scaled by 1000² to stay
/// integers; the product K·D needs 512 bits. The profit returned is the contract's exact
/// integer result at `a*`.
pub fn best_arb(pools: &[Reserves; POOLS]) -> Option<Arb> {
    // X buys the most Y on the pool with the higher y/x: yA·xB > yB·xA.
    let wide = |v: U256| U512::from(v);
    let (buy, sell) = if wide(pools[0].y) * wide(pools[1].x) >= wide(pools[1].y) * wide(pools[0].x)
    {
        (0, 1)
    } else {
        (1, 0)
    };
    let (a, b) = (pools[buy], pools[sell]);
    let k = U512::from(997u64 * 997) * wide(a.y) * wide(b.x);
    let d = U512::from(1_000_000u64) * wide(a.x) * wide(b.y);
    let e = U512::from(997u64) * (U512::from(1000u64) * wide(b.y) + U512::from(997u64) * wide(a.y));
    if k <= d || e.is_zero() {
        return None;
    }
    // √(K·D): both below 2^(20 + 2·256), so the product fits when reserves stay below
    // 2^118 (about 3·10^35); beyond that there is no answer rather than a wrong one.
    let kd = k.checked_mul(d)?;
    let amount = (isqrt(kd).checked_sub(d)?) / e;
    let amount = U256::uint_try_from(amount).ok()?;
    let back = round_trip(pools, buy, sell, amount)?;
    let profit = back.checked_sub(amount).filter(|p| !p.is_zero())?;
    Some(Arb {
        buy_pool: buy,
        sell_pool: sell,
        amount_in: amount,
        profit,
    })
}

/// ⌊√n⌋ by Newton's method.
pub fn isqrt(n: U512) -> U512 {
    if n.is_zero() {
        return n;
    }
    // Start at a power of two at or above √n; the iteration then decreases monotonically.
    let mut x = U512::from(1u64) << n.bit_len().div_ceil(2);
    loop {
        let y = (x + n / x) >> 1;
        if y >= x {
            return x;
        }
        x = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e18(n: u64) -> U256 {
        U256::from(n) * U256::from(10u64).pow(U256::from(18))
    }

    fn balanced() -> [Reserves; POOLS] {
        let r = Reserves {
            x: e18(1_000_000),
            y: e18(1_000_000),
        };
        [r, r]
    }

    #[test]
    fn isqrt_is_exact_floor() {
        for n in [0u64, 1, 2, 3, 4, 15, 16, 17, 99, 100, 101, u64::MAX] {
            let r = isqrt(U512::from(n));
            let n = U512::from(n);
            assert!(
                r * r <= n && (r + U512::from(1)) * (r + U512::from(1)) > n,
                "{n}"
            );
        }
        let big = U512::MAX;
        let r = isqrt(big);
        assert!(r.checked_mul(r).is_some_and(|sq| sq <= big));
        assert!((r + U512::from(1)).checked_mul(r + U512::from(1)).is_none());
    }

    #[test]
    fn amount_out_matches_the_contract_formula() {
        // 1000 in against 1e6/1e6: 997000 * 1e6 / (1e9 + 997000) = 996.00...
        assert_eq!(
            amount_out(
                U256::from(1000),
                U256::from(1_000_000),
                U256::from(1_000_000)
            ),
            Some(U256::from(996))
        );
        assert_eq!(amount_out(U256::MAX, U256::from(1), U256::from(1)), None);
        assert_eq!(amount_out(U256::ZERO, U256::ZERO, U256::ZERO), None);
    }

    #[test]
    fn swap_calls_round_trip() {
        let s = SwapCall {
            pool: 1,
            x_for_y: false,
            amount_in: e18(5),
            min_out: U256::from(7),
        };
        assert_eq!(SwapCall::decode(&s.encode()), Some(s));
        let mut bad = s.encode();
        bad[4 + 31] = 2; // pool 2 does not exist
        assert_eq!(SwapCall::decode(&bad), None);
        assert_eq!(SwapCall::decode(&s.encode()[..100]), None);
    }

    #[test]
    fn balanced_pools_have_no_arb() {
        assert_eq!(best_arb(&balanced()), None);
    }

    #[test]
    fn closed_form_is_the_optimum() {
        let swap = SwapCall {
            pool: 0,
            x_for_y: true,
            amount_in: e18(50_000),
            min_out: U256::ZERO,
        };
        let pools = after_swap(&balanced(), &swap).unwrap();
        let arb = best_arb(&pools).unwrap();
        // X got cheap on pool 0, so X sells for most Y on pool 1.
        assert_eq!((arb.buy_pool, arb.sell_pool), (1, 0));
        assert!(arb.profit > e18(100), "profit {}", arb.profit);
        let profit_at = |a: U256| {
            round_trip(&pools, 1, 0, a)
                .and_then(|b| b.checked_sub(a))
                .unwrap_or_default()
        };
        for delta in [e18(1), e18(100), e18(1_000)] {
            assert!(profit_at(arb.amount_in + delta) <= arb.profit);
            assert!(profit_at(arb.amount_in - delta) <= arb.profit);
        }
        // Y dumped on pool 1 makes X dear there: again sell X on pool 1, buy it back on pool 0.
        let swap = SwapCall {
            pool: 1,
            x_for_y: false,
            amount_in: e18(50_000),
            min_out: U256::ZERO,
        };
        let arb = best_arb(&after_swap(&balanced(), &swap).unwrap()).unwrap();
        assert_eq!((arb.buy_pool, arb.sell_pool), (1, 0));
    }

    #[test]
    fn slippage_bound_is_respected() {
        let swap = SwapCall {
            pool: 0,
            x_for_y: true,
            amount_in: e18(1),
            min_out: e18(1), // 1:1 minus fee can't give a full 1e18 back
        };
        assert_eq!(after_swap(&balanced(), &swap), None);
    }
}
