//! ordo-pool
