//! ordo-rpc
