//! ordo-node
