//! The export macros: one line at the end of a plugin's `lib.rs` turns a trait impl into a
//! component.
//!
//! Each expands, in the plugin crate, to:
//! - a compile-time check that `NAME` is `[a-z0-9-]`;
//! - on wasm32: a type owning the plugin instance (built on first call from the host's
//!   config string), the wit-bindgen exports of the kind's world, and the `ordo:plugin-api`
//!   custom section holding the WIT package version. Expanding these in the plugin crate,
//!   not in the SDK, is what keeps them in the link: nothing references them by name.

#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_export {
    ($kind:ident, $world:ident, $world_macro:ident, $ty:ty) => {
        const _: () = ::core::assert!(
            $crate::__private::valid_name(<$ty as $crate::$kind>::NAME),
            "a plugin's NAME must be non-empty and only contain a-z, 0-9 and '-'"
        );

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __OrdoExport;

            impl $crate::__private::Export for __OrdoExport {
                type Plugin = $ty;

                fn instance() -> ::core::result::Result<&'static $ty, $crate::Error> {
                    static INSTANCE: $crate::__private::Instance<$ty> =
                        $crate::__private::Instance::new();
                    INSTANCE.get_or_init(|| <$ty as $crate::$kind>::new(&$crate::config::config()))
                }
            }

            $crate::__private::bindings::$world::$world_macro!(
                __OrdoExport with_types_in $crate::__private::bindings::$world
            );

            #[used]
            #[unsafe(link_section = "ordo:plugin-api")]
            static __ORDO_PLUGIN_API: $crate::__private::PluginApi = $crate::__private::PLUGIN_API;
        };
    };
}

/// Exports an [`OrderingPolicy`](crate::OrderingPolicy) as the plugin's ordering policy.
/// Needs ordo-sdk's `ordering` feature.
///
/// ```ignore
/// ordo_sdk::export_ordering!(MyPolicy);
/// ```
#[macro_export]
macro_rules! export_ordering {
    ($ty:ty) => {
        $crate::__ordo_require_feature_ordering!();
        $crate::__ordo_export!(OrderingPolicy, ordering, __ordo_export_ordering_world, $ty);
    };
}

/// Exports a [`Searcher`](crate::Searcher) as the plugin's searcher. Needs ordo-sdk's
/// `searcher` feature.
///
/// ```ignore
/// ordo_sdk::export_searcher!(MyBot);
/// ```
#[macro_export]
macro_rules! export_searcher {
    ($ty:ty) => {
        $crate::__ordo_require_feature_searcher!();
        $crate::__ordo_export!(Searcher, searcher, __ordo_export_searcher_world, $ty);
    };
}

/// Exports a [`Compressor`](crate::Compressor) as the plugin's batch codec. Needs ordo-sdk's
/// `compression` feature.
///
/// ```ignore
/// ordo_sdk::export_compression!(MyCodec);
/// ```
#[macro_export]
macro_rules! export_compression {
    ($ty:ty) => {
        $crate::__ordo_require_feature_compression!();
        $crate::__ordo_export!(
            Compressor,
            compression,
            __ordo_export_compression_world,
            $ty
        );
    };
}

/// Exports a [`ProverHook`](crate::ProverHook) as the plugin's prover hook. Needs ordo-sdk's
/// `prover` feature.
///
/// ```ignore
/// ordo_sdk::export_prover!(MyProver);
/// ```
#[macro_export]
macro_rules! export_prover {
    ($ty:ty) => {
        $crate::__ordo_require_feature_prover!();
        $crate::__ordo_export!(ProverHook, prover, __ordo_export_prover_world, $ty);
    };
}

// A missing feature would otherwise surface as "could not find `ordering` in `bindings`".
macro_rules! feature_gate {
    ($feature:literal, $name:ident) => {
        #[cfg(feature = $feature)]
        #[doc(hidden)]
        #[macro_export]
        macro_rules! $name {
            () => {};
        }

        #[cfg(not(feature = $feature))]
        #[doc(hidden)]
        #[macro_export]
        macro_rules! $name {
            () => {
                ::core::compile_error!(::core::concat!(
                    "this export needs ordo-sdk's `",
                    $feature,
                    "` feature: ordo-sdk = { path = \"...\", features = [\"",
                    $feature,
                    "\"] }"
                ));
            };
        }
    };
}

feature_gate!("ordering", __ordo_require_feature_ordering);
feature_gate!("searcher", __ordo_require_feature_searcher);
feature_gate!("compression", __ordo_require_feature_compression);
feature_gate!("prover", __ordo_require_feature_prover);
