//! The generated component bindings. Nothing here is meant for plugin authors: the traits in
//! the kind modules are the public face, the export macros wire them to these bindings.
//!
//! `base` generates the shared `types` and `host` interfaces once, whatever features are on, so
//! the SDK's conversions and host calls exist exactly once. Each kind's world then reuses them
//! through `with` and only adds its own exports (and, for searchers, the `pre-state` imports).
//! Kind worlds sit behind their feature because a component may carry exactly one world's
//! exports.

#![allow(missing_docs, unsafe_code, clippy::all)]

/// `types` and `host`, generated independently of the enabled kind.
pub mod base {
    wit_bindgen::generate!({
        inline: r#"
            package ordo:sdk-base;
            world base {
                import ordo:plugin/types@0.1.0;
                import ordo:plugin/host@0.1.0;
            }
        "#,
        path: "../wit",
        // The records only appear in the kind worlds' signatures, not in `base`'s own.
        generate_unused_types: true,
        generate_all,
        // Tests compare whole candidate sets.
        additional_derives: [PartialEq, Eq],
        runtime_path: "ordo_sdk::__private::wit_bindgen::rt",
        type_section_suffix: "ordo-sdk-base",
    });
}

#[cfg(feature = "ordering")]
pub mod ordering {
    wit_bindgen::generate!({
        world: "ordo:plugin/ordering-plugin@0.1.0",
        path: "../wit",
        with: {
            "ordo:plugin/types@0.1.0": crate::bindings::base::ordo::plugin::types,
            "ordo:plugin/host@0.1.0": crate::bindings::base::ordo::plugin::host,
        },
        runtime_path: "ordo_sdk::__private::wit_bindgen::rt",
        export_macro_name: "__ordo_export_ordering_world",
        pub_export_macro: true,
        default_bindings_module: "ordo_sdk::__private::bindings::ordering",
    });
}

#[cfg(feature = "searcher")]
pub mod searcher {
    wit_bindgen::generate!({
        world: "ordo:plugin/searcher-plugin@0.1.0",
        path: "../wit",
        with: {
            "ordo:plugin/types@0.1.0": crate::bindings::base::ordo::plugin::types,
            "ordo:plugin/host@0.1.0": crate::bindings::base::ordo::plugin::host,
            "ordo:plugin/pre-state@0.1.0": generate,
        },
        runtime_path: "ordo_sdk::__private::wit_bindgen::rt",
        export_macro_name: "__ordo_export_searcher_world",
        pub_export_macro: true,
        default_bindings_module: "ordo_sdk::__private::bindings::searcher",
    });
}

#[cfg(feature = "compression")]
pub mod compression {
    wit_bindgen::generate!({
        world: "ordo:plugin/compression-plugin@0.1.0",
        path: "../wit",
        with: {
            "ordo:plugin/types@0.1.0": crate::bindings::base::ordo::plugin::types,
            "ordo:plugin/host@0.1.0": crate::bindings::base::ordo::plugin::host,
        },
        runtime_path: "ordo_sdk::__private::wit_bindgen::rt",
        export_macro_name: "__ordo_export_compression_world",
        pub_export_macro: true,
        default_bindings_module: "ordo_sdk::__private::bindings::compression",
    });
}

#[cfg(feature = "prover")]
pub mod prover {
    wit_bindgen::generate!({
        world: "ordo:plugin/prover-plugin@0.1.0",
        path: "../wit",
        with: {
            "ordo:plugin/types@0.1.0": crate::bindings::base::ordo::plugin::types,
            "ordo:plugin/host@0.1.0": crate::bindings::base::ordo::plugin::host,
        },
        runtime_path: "ordo_sdk::__private::wit_bindgen::rt",
        export_macro_name: "__ordo_export_prover_world",
        pub_export_macro: true,
        default_bindings_module: "ordo_sdk::__private::bindings::prover",
    });
}
