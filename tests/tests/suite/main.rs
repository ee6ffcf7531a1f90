//! Baton's integration tests, linked into one binary.
//!
//! Each module is one area, exercised through real parts: the real server on `127.0.0.1:0`, real
//! components built from source and a real sled directory. One binary rather than one per file
//! because every test binary statically links wasmtime: thirty links cost minutes and gigabytes
//! of disk on every build. `no_secrets_in_logs` stays a binary of its own because it installs
//! a process-wide log subscriber.

// Tests state their expectations with unwrap: a failure's message and line are the report.
#![allow(clippy::unwrap_used)]

mod api_access;
mod api_admin;
mod api_events;
mod api_schema;
mod api_segment;
mod cli;
mod client_libraries;
mod console;
mod console_browser;
mod console_flow;
mod content;
mod contract_versions;
mod demo;
mod durable_triggers;
mod engine_campaigns;
mod engine_crash;
mod engine_delivery;
mod engine_pipeline;
mod engine_policies;
mod engine_schedule;
mod install_crash;
mod journeys;
mod measurement;
mod multi_worker;
mod plugin_channel_webhook;
mod plugin_channels;
mod plugin_kpi_attribution;
mod plugin_personalize_liquid;
mod plugin_rfm_offers;
mod plugin_segment_conditions;
mod polyglot;
mod polyglot_sandbox;
mod properties;
mod quarantine;
mod runtime_hostile;
mod runtime_hostile_worlds;
mod runtime_waits;
mod runtime_worlds;
mod scaffold;
mod segments;
mod send_rate;
mod send_time;
mod store_events;
mod store_privacy;
mod store_sends;
mod trust_identity;
mod trust_input;
mod trust_network;
mod trust_secrets;
mod vendor_faults;
mod vendor_feedback;
mod vendor_isolation;
