//! `eth_getLogs` (range and result caps) and the event feed behind filters and subscriptions.

use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};
use ordo_primitives::alloy_eips::BlockNumberOrTag;
use ordo_rpc::{BackendError, BackendResult, ChainEvent, EthLogs};
use tokio::sync::broadcast;

use crate::{NodeApi, chain::MAX_LOG_RANGE, convert::block_logs, errors::storage_err};

impl EthLogs for NodeApi {
    fn logs(&self, filter: &Filter) -> BackendResult<Vec<Log>> {
        let head = self.head().number();
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = self
                    .storage
                    .block_number(&hash)
                    .map_err(storage_err)?
                    .ok_or_else(|| BackendError::resource_not_found("unknown block"))?;
                (n, n)
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                // geth's answers: a range past the head, or one that ends before it
                // starts, is an invalid argument.
                if let Some(BlockNumberOrTag::Number(n)) = to_block
                    && n > head
                {
                    return Err(BackendError::invalid_params(
                        "block range extends beyond current head block",
                    ));
                }
                let resolve = |tag: Option<BlockNumberOrTag>| -> u64 {
                    self.resolve_tag(tag.unwrap_or_default(), head)
                };
                (resolve(from_block), resolve(to_block))
            }
        };
        if from > to {
            return Err(BackendError::invalid_params("invalid block range params"));
        }
        if to - from >= MAX_LOG_RANGE {
            return Err(BackendError::limit_exceeded(format!(
                "query exceeds max block range {MAX_LOG_RANGE}"
            )));
        }
        let max = match self
            .max_log_results
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            0 => usize::MAX,
            max => max,
        };
        let mut out = Vec::new();
        for n in from..=to {
            let Some(block) = self.storage.shared_block(n).map_err(storage_err)? else {
                continue;
            };
            if !filter.matches_bloom(block.header.logs_bloom) {
                continue;
            }
            let receipts = self
                .storage
                .receipts(n)
                .map_err(storage_err)?
                .unwrap_or_default();
            out.extend(
                block_logs(&block, &receipts)
                    .into_iter()
                    .filter(|l| filter.matches(&l.inner)),
            );
            // Stop collecting as soon as the answer is too big: the client must narrow the
            // range (the message is the one Infura and reth clients already handle).
            if out.len() > max {
                return Err(BackendError::limit_exceeded(format!(
                    "query returned more than {max} results"
                )));
            }
        }
        Ok(out)
    }

    fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }
}
