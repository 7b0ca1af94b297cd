//! Ordering policies: which candidates go into a block, and in which order.

use alloc::{collections::BinaryHeap, vec, vec::Vec};
use core::cmp::Reverse;

use crate::{BlockContext, Candidate, Candidates, Error};

/// An ordering policy. Export it with [`export!`](crate::export) and
/// ordo-sdk's `ordering` feature; the version it reports is its crate's `version`.
///
/// ```
/// use ordo_sdk::prelude::*;
///
/// /// Cheapest gas first, for the sake of an example.
/// struct SmallFirst;
///
/// impl OrderingPolicy for SmallFirst {
///     const NAME: &'static str = "small-first";
///
///     fn new(config: &str) -> Result<Self, Error> {
///         config::none(config)?;
///         Ok(SmallFirst)
///     }
///
///     fn order(&self, ctx: &BlockContext, set: &Candidates) -> Result<Vec<u32>, Error> {
///         Ok(ordo_sdk::ordering::order_by_key(ctx, set, |c| Some(std::cmp::Reverse(c.gas_limit()))))
///     }
/// }
/// ```
pub trait OrderingPolicy: Sized + 'static {
    /// Short name, `[a-z0-9-]`, shown in block provenance, logs and metrics.
    const NAME: &'static str;

    /// Builds the policy from the operator's config string (empty when none was given). Runs
    /// once per loaded instance, before the first call; an error fails every call.
    fn new(config: &str) -> Result<Self, Error>;

    /// Returns indices into `candidates`, in block order: a subset, each index at most once,
    /// each sender's nonces ascending, the sum of their gas limits within `ctx.gas_limit`.
    /// The host checks all of it and orders the block natively when the answer is wrong.
    fn order(&self, ctx: &BlockContext, candidates: &Candidates) -> Result<Vec<u32>, Error>;
}

/// The block's gas, spent as transactions are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasBudget {
    remaining: u64,
}

impl GasBudget {
    /// The whole block's gas.
    pub fn new(ctx: &BlockContext) -> Self {
        Self {
            remaining: ctx.gas_limit,
        }
    }

    /// Spends `gas` if it fits; says whether it did.
    pub fn try_take(&mut self, gas: u64) -> bool {
        match self.remaining.checked_sub(gas) {
            Some(left) => {
                self.remaining = left;
                true
            }
            None => false,
        }
    }

    /// Gas not yet spent.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }
}

/// The workhorse of key-based policies: merges the senders' nonce queues, always taking the
/// head with the greatest key (ties: lower candidate index first).
///
/// A head whose key is `None`, or whose gas limit no longer fits the block, is dropped together
/// with the rest of its sender's queue: later nonces cannot run without it. Other senders'
/// smaller transactions may still fill the remaining gas. The answer always satisfies the
/// host's rules.
pub fn order_by_key<K: Ord>(
    ctx: &BlockContext,
    candidates: &Candidates,
    mut key: impl FnMut(&Candidate<'_>) -> Option<K>,
) -> Vec<u32> {
    let queues = candidates.sender_queues();
    let mut next = vec![0usize; queues.len()];
    let mut heap = BinaryHeap::with_capacity(queues.len());
    let mut push_head = |queue: usize, next: &mut [usize], heap: &mut BinaryHeap<_>| {
        let Some(&index) = queues[queue].get(next[queue]) else {
            return;
        };
        next[queue] += 1;
        if let Some(c) = candidates.get(index)
            && let Some(k) = key(&c)
        {
            heap.push((k, Reverse(index), queue));
        }
    };
    for queue in 0..queues.len() {
        push_head(queue, &mut next, &mut heap);
    }
    let mut gas = GasBudget::new(ctx);
    let mut out = Vec::with_capacity(candidates.len());
    while let Some((_, Reverse(index), queue)) = heap.pop() {
        let fits = candidates
            .get(index)
            .is_some_and(|c| gas.try_take(c.gas_limit()));
        if fits {
            out.push(index);
            push_head(queue, &mut next, &mut heap);
        }
    }
    out
}

#[cfg(feature = "ordering")]
#[doc(hidden)]
pub mod __export {
    use alloc::vec::Vec;

    use super::OrderingPolicy;
    use crate::{
        __private::{Export, metadata},
        BlockContext, Candidates,
        bindings::ordering::{Guest, exports::ordo::plugin::ordering::Guest as OrderingGuest},
        wire::{PluginError, WireBlockContext, WireCandidateSet, WireMetadata, WirePluginKind},
    };

    impl<E> Guest for E
    where
        E: Export,
        E::Plugin: OrderingPolicy,
    {
        fn metadata() -> WireMetadata {
            metadata(
                <E::Plugin as OrderingPolicy>::NAME,
                E::VERSION,
                WirePluginKind::Ordering,
            )
        }
    }

    impl<E> OrderingGuest for E
    where
        E: Export,
        E::Plugin: OrderingPolicy,
    {
        fn order(
            ctx: WireBlockContext,
            candidates: WireCandidateSet,
        ) -> Result<Vec<u32>, PluginError> {
            let policy = E::instance()?;
            let ctx = BlockContext::from(ctx);
            let candidates = Candidates::from_wire(candidates);
            Ok(policy.order(&ctx, &candidates)?)
        }
    }
}
