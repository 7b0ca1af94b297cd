//! The export macro: one line at the end of a plugin's `lib.rs`, [`export!`](crate::export),
//! turns a trait impl into a component of the kind whose cargo feature the plugin enables.
//!
//! The kind is declared once, as the ordo-sdk feature in the plugin's `Cargo.toml`; the SDK is
//! compiled with that feature, so which `__ordo_export_kind!` below exists picks the kind's
//! trait and world. The expansion, in the plugin crate, holds:
//! - a compile-time check that `NAME` is `[a-z0-9-]` (and that the type implements the kind's
//!   trait);
//! - on wasm32: a type owning the plugin instance (built on first call from the host's
//!   config string) and carrying the plugin's version (its `CARGO_PKG_VERSION`, read where the
//!   macro expands), the wit-bindgen exports of the kind's world, and the `ordo:plugin-api`
//!   custom section holding the WIT package version. Expanding these in the plugin crate,
//!   not in the SDK, is what keeps them in the link: nothing references them by name.

/// Exports the plugin type `T` as the component's plugin. Its kind is the ordo-sdk feature the
/// plugin enables (`ordering`, `searcher`, `compression` or `prover`: exactly one), and `T`
/// implements that kind's trait ([`OrderingPolicy`](crate::OrderingPolicy),
/// [`Searcher`](crate::Searcher), [`Compressor`](crate::Compressor) or
/// [`ProverHook`](crate::ProverHook)). The version reported in `metadata()` is the plugin
/// crate's `version` from its `Cargo.toml`.
///
/// ```ignore
/// ordo_sdk::export!(MyPolicy);
/// ```
#[macro_export]
macro_rules! export {
    ($ty:ty) => {
        $crate::__ordo_export_kind!($ty);
    };
}

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
                const VERSION: &'static str = ::core::env!("CARGO_PKG_VERSION");

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

// Exactly one kind feature: that kind.

#[cfg(all(
    feature = "ordering",
    not(any(feature = "searcher", feature = "compression", feature = "prover"))
))]
#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_export_kind {
    ($ty:ty) => {
        $crate::__ordo_export!(OrderingPolicy, ordering, __ordo_export_ordering_world, $ty);
    };
}

#[cfg(all(
    feature = "searcher",
    not(any(feature = "ordering", feature = "compression", feature = "prover"))
))]
#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_export_kind {
    ($ty:ty) => {
        $crate::__ordo_export!(Searcher, searcher, __ordo_export_searcher_world, $ty);
    };
}

#[cfg(all(
    feature = "compression",
    not(any(feature = "ordering", feature = "searcher", feature = "prover"))
))]
#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_export_kind {
    ($ty:ty) => {
        $crate::__ordo_export!(
            Compressor,
            compression,
            __ordo_export_compression_world,
            $ty
        );
    };
}

#[cfg(all(
    feature = "prover",
    not(any(feature = "ordering", feature = "searcher", feature = "compression"))
))]
#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_export_kind {
    ($ty:ty) => {
        $crate::__ordo_export!(ProverHook, prover, __ordo_export_prover_world, $ty);
    };
}

// No kind feature: say which to enable (it would otherwise surface as "could not find
// `ordering` in `bindings`").

#[cfg(not(any(
    feature = "ordering",
    feature = "searcher",
    feature = "compression",
    feature = "prover"
)))]
#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_export_kind {
    ($ty:ty) => {
        ::core::compile_error!(
            "ordo_sdk::export! needs the plugin's kind as an ordo-sdk feature, exactly one of \
             ordering, searcher, compression, prover: \
             ordo-sdk = { path = \"...\", features = [\"ordering\"] }"
        );
    };
}

// Several kind features. Cargo unifies features across the packages of one invocation, so a
// native build or test of a workspace holding plugins of different kinds gets here: nothing
// is exported natively, so check the name through whichever kind trait the type implements.
// A component can carry only one world, so on wasm32 this is an error.

#[cfg(any(
    all(feature = "ordering", feature = "searcher"),
    all(feature = "ordering", feature = "compression"),
    all(feature = "ordering", feature = "prover"),
    all(feature = "searcher", feature = "compression"),
    all(feature = "searcher", feature = "prover"),
    all(feature = "compression", feature = "prover")
))]
#[doc(hidden)]
#[macro_export]
macro_rules! __ordo_export_kind {
    ($ty:ty) => {
        const _: () = ::core::assert!(
            $crate::__private::valid_name($crate::__private::name_of::<$ty, _>()),
            "a plugin's NAME must be non-empty and only contain a-z, 0-9 and '-'"
        );

        #[cfg(target_arch = "wasm32")]
        ::core::compile_error!(
            "ordo-sdk is built with more than one kind feature, and a component carries exactly \
             one plugin world: enable one kind per plugin, and in a workspace build each kind \
             in its own cargo invocation (cargo unifies features across the packages it builds)"
        );
    };
}
