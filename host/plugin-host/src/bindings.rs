//! Host bindings for the plugin worlds, generated from `wit/` at build time.
//!
//! The ordering world generates the shared `types` and `host` interfaces; the other worlds
//! reuse them through `with:` so one Rust type exists per WIT type and one `Host` impl
//! serves every world.

// The generated code builds typed functions with `TypedFunc::new_unchecked` after its own
// type check; that `unsafe` is wasmtime's, confined to this module.
#![allow(missing_docs, unsafe_code, clippy::all)]

/// `ordering-plugin`: also the home of the shared `types` and `host` modules.
pub mod ordering {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "ordering-plugin",
    });
}

/// `compression-plugin`.
pub mod compression {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "compression-plugin",
        with: {
            "ordo:plugin/types": crate::bindings::ordering::ordo::plugin::types,
            "ordo:plugin/host": crate::bindings::ordering::ordo::plugin::host,
        },
    });
}

/// `prover-plugin`.
pub mod prover {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "prover-plugin",
        with: {
            "ordo:plugin/types": crate::bindings::ordering::ordo::plugin::types,
            "ordo:plugin/host": crate::bindings::ordering::ordo::plugin::host,
        },
    });
}

/// `searcher-plugin`: adds the `pre-state` imports and the `searcher` export.
pub mod searcher {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "searcher-plugin",
        with: {
            "ordo:plugin/types": crate::bindings::ordering::ordo::plugin::types,
            "ordo:plugin/host": crate::bindings::ordering::ordo::plugin::host,
        },
    });
}

pub use ordering::ordo::plugin::{host, types};
pub use searcher::ordo::plugin::pre_state;
