//! Internal failures as the errors wallets see: storage and state failures are logged and
//! answered as internal errors; execution and pool refusals keep geth's codes and wording.

use ordo_exec::ExecError;
use ordo_pool::PoolError;
use ordo_rpc::BackendError;
use ordo_storage::StorageError;

pub(crate) fn storage_err(e: StorageError) -> BackendError {
    tracing::error!(target: "ordo::rpc", %e, "storage read failed");
    BackendError::internal("internal storage error")
}

pub(crate) fn exec_err(e: ExecError) -> BackendError {
    match e {
        ExecError::Reverted { data, reason } => BackendError::reverted(data, reason),
        ExecError::State(e) => {
            tracing::error!(target: "ordo::rpc", %e, "state read failed");
            BackendError::internal("internal state error")
        }
        ExecError::InvalidParams(m) => BackendError::invalid_params(m),
        // The read pool set the deadline that stopped it; its error names the timeout.
        ExecError::TimedOut => ordo_rpc::CallDeadline::current().map_or_else(
            || BackendError::tx("execution aborted (timeout)"),
            |d| d.error(),
        ),
        other => BackendError::tx(other.to_string()),
    }
}

pub(crate) fn pool_err(e: PoolError) -> BackendError {
    if e.is_bad_transaction() {
        BackendError::tx(e.to_string())
    } else {
        // A full account or pool, a nonce or fee the state refuses: the sender's business,
        // and under load a flood; only the node's own failures are errors.
        if e.is_internal() {
            tracing::error!(target: "ordo::rpc", %e, "pool failure");
        } else {
            tracing::debug!(target: "ordo::rpc", %e, "transaction refused");
        }
        BackendError::new(e.rpc_code() as i32, e.to_string())
    }
}
