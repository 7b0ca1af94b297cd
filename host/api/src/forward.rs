//! A follower's writes that go to the leader as the calls they came as: the follower asks
//! the leader's public JSON-RPC the same call and answers with the leader's answer, result
//! or error, unchanged (a blob transaction, or any transaction when the leader is an older
//! build without `/forward/txs`; others go decoded, in batches, over the replication
//! listeners: see `ordo_replica::Replica::forward_tx`). When no leader is known, or it does
//! not answer, the caller gets a retryable error, never a success the leader did not give.

use std::time::Duration;

use ordo_rpc::{BackendError, BackendResult};
use ordo_rpc_client::{ClientError, RpcClient};
use serde_json::Value;

/// Longest a forwarded call waits for the leader.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// Clients of the leaders this replica has forwarded to, by replica id.
#[derive(Debug, Default)]
pub(crate) struct Forwarder {
    clients: parking_lot::Mutex<std::collections::HashMap<u64, RpcClient>>,
}

impl Forwarder {
    /// On a follower (`replica` not leading): the leader's answer to `method(params)`.
    /// `None` on the leader and on a single node (`replica` None), which answer themselves.
    pub(crate) async fn forward_if_following(
        &self,
        replica: Option<&ordo_replica::Replica>,
        method: &str,
        params: Value,
    ) -> Option<BackendResult<Value>> {
        let replica = replica?;
        if replica.is_leader() {
            return None;
        }
        let Some((leader, addr)) = replica.leader_rpc() else {
            return Some(Err(BackendError::tx(
                "no replica leads right now (an election is under way); retry",
            )));
        };
        let client = {
            let mut clients = self.clients.lock();
            match clients.get(&leader) {
                Some(client) => client.clone(),
                None => {
                    let built = RpcClient::builder(&format!("http://{addr}"))
                        .timeout(FORWARD_TIMEOUT)
                        .build();
                    match built {
                        Ok(client) => {
                            clients.insert(leader, client.clone());
                            client
                        }
                        Err(e) => {
                            return Some(Err(BackendError::internal(format!(
                                "cannot reach the leader (replica {leader}): {e}"
                            ))));
                        }
                    }
                }
            }
        };
        metrics::counter!("ordo_rpc_forwarded_total", "method" => method.to_string()).increment(1);
        Some(match client.call(method, params).await {
            Ok(result) => Ok(result),
            Err(ClientError::Rpc(e)) => {
                let error = BackendError::new(e.code as i32, e.message);
                Err(match e.data {
                    Some(data) => error.with_data(data),
                    None => error,
                })
            }
            // The leader may or may not have taken it: the caller retries (a second send of
            // the same transaction is answered "already known", not included twice).
            Err(e) => Err(BackendError::tx(format!(
                "the leader (replica {leader}) did not answer ({e}); retry"
            ))),
        })
    }
}
