//! Host-side bindings of the WIT contract, one module per world, sharing the `types` and `host`
//! interfaces so that a `Subject` is one Rust type whichever world it goes to.

#![allow(missing_docs, clippy::all)]

pub mod segment_rule {
    wasmtime::component::bindgen!({
        world: "segment-rule",
        path: "../wit/v0.1.0",
        // Host functions may stop the call (the log cap), which needs a trap, not a value.
        imports: { default: trappable },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });
}

pub mod personalizer {
    wasmtime::component::bindgen!({
        world: "personalizer",
        path: "../wit/v0.1.0",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        with: {
            "baton:plugin/types": crate::runtime::bindings::segment_rule::baton::plugin::types,
            "baton:plugin/host": crate::runtime::bindings::segment_rule::baton::plugin::host,
        },
    });
}

pub mod channel_adapter {
    wasmtime::component::bindgen!({
        world: "channel-adapter",
        path: "../wit/v0.1.0",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        with: {
            "baton:plugin/types": crate::runtime::bindings::segment_rule::baton::plugin::types,
            "baton:plugin/host": crate::runtime::bindings::segment_rule::baton::plugin::host,
        },
    });
}

pub mod kpi_calculator {
    wasmtime::component::bindgen!({
        world: "kpi-calculator",
        path: "../wit/v0.1.0",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
        with: {
            "baton:plugin/types": crate::runtime::bindings::segment_rule::baton::plugin::types,
            "baton:plugin/host": crate::runtime::bindings::segment_rule::baton::plugin::host,
        },
    });
}

pub use segment_rule::baton::plugin::host as host_api;
pub use segment_rule::baton::plugin::types;
