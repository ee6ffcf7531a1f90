//! The guest-side SDK for writing Baton plugins in Rust.
//!
//! A plugin is a type that implements [`Plugin`] plus the trait of its kind, registered with the
//! matching macro. Build it for `wasm32-wasip2` and the result is a component Baton can install.
//!
//! ```no_run
//! use baton_sdk::*;
//!
//! struct VipOnly;
//!
//! impl Plugin for VipOnly {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("vip-only", "1.0.0", PluginKind::SegmentRule, "Profiles whose tier is vip.")
//!             .with_needs(Needs::attributes(["tier"]))
//!     }
//! }
//!
//! impl SegmentRule for VipOnly {
//!     fn evaluate(_: Invocation, subjects: Vec<Subject>) -> Result<Vec<Membership>, PluginError> {
//!         Ok(subjects.iter().map(|s| Membership::from(s.text("tier") == Some("vip"))).collect())
//!     }
//! }
//!
//! baton_sdk::segment_rule!(VipOnly);
//! ```
//!
//! The WIT bindings are generated here and kept private: plugin authors see plain Rust types and
//! traits. This crate never depends on the host (wasmtime, tokio, sled).

// The generated export macros name paths through `baton_sdk::`, which must also resolve inside
// this crate.
extern crate self as baton_sdk;

pub mod conditions;
mod helpers;
mod kinds;
pub mod rfm;
pub mod time;

pub use helpers::log;
pub use kinds::{Accumulator, ChannelAdapter, KpiCalculator, Personalizer, Plugin, SegmentRule};

pub use __private::channel_adapter::exports::baton::plugin::channel::{
    DeliveryOutcome, HttpRequest, HttpResponse,
};
#[cfg(not(feature = "contract-0-1-0"))]
pub use __private::channel_adapter::exports::baton::plugin::channel::{
    InboundRequest, ReportKind, SignatureCheck, SignatureEncoding, SignatureKey, SignedPart, VendorReport,
};
pub use __private::kpi_calculator::exports::baton::plugin::kpi::Metric;
pub use __private::segment_rule::baton::plugin::types::{
    Attribute, ConfigError, Event, Invocation, Message, Needs, PluginError, PluginInfo, PluginKind, Subject,
    Value,
};
pub use __private::segment_rule::exports::baton::plugin::segmentation::Membership;
#[cfg(not(feature = "contract-0-1-0"))]
pub use kinds::ComputedTrait;

/// The version of the WIT contract (`baton:plugin`) this SDK builds plugins for: the newest,
/// unless the `contract-0-1-0` or `contract-0-2-0` feature pins a frozen one (for plugins not yet
/// moved on).
#[cfg(not(any(feature = "contract-0-1-0", feature = "contract-0-2-0")))]
pub const CONTRACT_VERSION: &str = "0.3.0";

/// The version of the WIT contract (`baton:plugin`) this SDK builds plugins for: 0.2.0, pinned by
/// the `contract-0-2-0` feature.
#[cfg(all(feature = "contract-0-2-0", not(feature = "contract-0-1-0")))]
pub const CONTRACT_VERSION: &str = "0.2.0";

/// The version of the WIT contract (`baton:plugin`) this SDK builds plugins for: 0.1.0, pinned by
/// the `contract-0-1-0` feature.
#[cfg(feature = "contract-0-1-0")]
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Generates the bindings of one contract version: one module per world, sharing the `types` and
/// `host` interfaces so that a `Subject` is one Rust type whichever world it goes to.
macro_rules! worlds {
    ($wit:literal, $types:literal, $host:literal) => {
        pub mod segment_rule {
            wit_bindgen::generate!({
                world: "segment-rule",
                path: $wit,
                pub_export_macro: true,
                export_macro_name: "__export_segment_rule",
                default_bindings_module: "baton_sdk::__private::segment_rule",
                runtime_path: "baton_sdk::__private::wit_bindgen::rt",
                additional_derives: [PartialEq],
            });
        }

        pub mod personalizer {
            wit_bindgen::generate!({
                world: "personalizer",
                path: $wit,
                pub_export_macro: true,
                export_macro_name: "__export_personalizer",
                default_bindings_module: "baton_sdk::__private::personalizer",
                runtime_path: "baton_sdk::__private::wit_bindgen::rt",
                additional_derives: [PartialEq],
                with: {
                    $types: baton_sdk::__private::segment_rule::baton::plugin::types,
                    $host: baton_sdk::__private::segment_rule::baton::plugin::host,
                },
            });
        }

        pub mod channel_adapter {
            wit_bindgen::generate!({
                world: "channel-adapter",
                path: $wit,
                pub_export_macro: true,
                export_macro_name: "__export_channel_adapter",
                default_bindings_module: "baton_sdk::__private::channel_adapter",
                runtime_path: "baton_sdk::__private::wit_bindgen::rt",
                additional_derives: [PartialEq],
                with: {
                    $types: baton_sdk::__private::segment_rule::baton::plugin::types,
                    $host: baton_sdk::__private::segment_rule::baton::plugin::host,
                },
            });
        }

        pub mod kpi_calculator {
            wit_bindgen::generate!({
                world: "kpi-calculator",
                path: $wit,
                pub_export_macro: true,
                export_macro_name: "__export_kpi_calculator",
                default_bindings_module: "baton_sdk::__private::kpi_calculator",
                runtime_path: "baton_sdk::__private::wit_bindgen::rt",
                additional_derives: [PartialEq],
                with: {
                    $types: baton_sdk::__private::segment_rule::baton::plugin::types,
                    $host: baton_sdk::__private::segment_rule::baton::plugin::host,
                },
            });
        }
    };
}

/// Generates the computed-trait world's bindings (contract 0.2.0 on), sharing `types` and `host`.
#[cfg(not(feature = "contract-0-1-0"))]
macro_rules! computed_trait_world {
    ($wit:literal, $types:literal, $host:literal) => {
        pub mod computed_trait {
            wit_bindgen::generate!({
                world: "computed-trait",
                path: $wit,
                pub_export_macro: true,
                export_macro_name: "__export_computed_trait",
                default_bindings_module: "baton_sdk::__private::computed_trait",
                runtime_path: "baton_sdk::__private::wit_bindgen::rt",
                additional_derives: [PartialEq],
                with: {
                    $types: baton_sdk::__private::segment_rule::baton::plugin::types,
                    $host: baton_sdk::__private::segment_rule::baton::plugin::host,
                },
            });
        }
    };
}

/// Re-exported for the macros; not part of the public API.
#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod __private {
    pub use wit_bindgen;

    pub use crate::kinds::AccumulatorCell;

    #[cfg(feature = "contract-0-1-0")]
    worlds!("wit/v0.1.0", "baton:plugin/types@0.1.0", "baton:plugin/host@0.1.0");

    #[cfg(all(feature = "contract-0-2-0", not(feature = "contract-0-1-0")))]
    worlds!("wit/v0.2.0", "baton:plugin/types@0.2.0", "baton:plugin/host@0.2.0");
    #[cfg(all(feature = "contract-0-2-0", not(feature = "contract-0-1-0")))]
    computed_trait_world!("wit/v0.2.0", "baton:plugin/types@0.2.0", "baton:plugin/host@0.2.0");

    #[cfg(not(any(feature = "contract-0-1-0", feature = "contract-0-2-0")))]
    worlds!("wit/v0.3.0", "baton:plugin/types@0.3.0", "baton:plugin/host@0.3.0");
    #[cfg(not(any(feature = "contract-0-1-0", feature = "contract-0-2-0")))]
    computed_trait_world!("wit/v0.3.0", "baton:plugin/types@0.3.0", "baton:plugin/host@0.3.0");
}
