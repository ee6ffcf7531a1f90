//! Polyglot benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p baton-tests --bench polyglot`
//!
//! For the `segment-high-value` example in each language (Rust, C, JavaScript with a
//! StarlingMonkey engine inside, Python with CPython inside), built from source as the tests do:
//! - install time: validate, compile with Cranelift, call `info()`, store component and artifact,
//!   into an empty store; then of a second plugin in the same language (`channel-json-post`),
//!   whose compile reuses the compile cache's functions (the same engine inside);
//! - restart time: a new runtime loads the cached artifact instead of compiling;
//! - fresh instance + `info()`: median and p99 of the per-call overhead every call pays;
//! - `evaluate` throughput at a batch of 1,000 subjects.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use baton::contract::{Subject, Value};
use baton::{Runtime, Storage};
use baton_tests::figures::{ms, percentiles, us};
use baton_tests::polyglot::{Lang, component};
use baton_tests::{invocation, subject, test_config};

fn main() {
    // The install log line breaks the install time down (compile, info, store).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("baton::runtime::install=info"))
        .with_target(false)
        .without_time()
        .init();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("machine: {cores} cores; profile: {}", if cfg!(debug_assertions) { "debug" } else { "release" });
    let subjects = crowd(1_000);
    let config = invocation("{\"min_ltv\": 150, \"min_orders\": 1, \"exclude_tier\": \"staff\"}");
    println!(
        "{:<7} {:>9} {:>10} {:>10} {:>10} {:>12} {:>12} {:>14}",
        "lang",
        "size KiB",
        "install ms",
        "2nd inst ms",
        "restart ms",
        "fresh p50 µs",
        "fresh p99 µs",
        "evaluate /s"
    );
    for lang in [Lang::Rust, Lang::C, Lang::Js, Lang::Python] {
        let bytes = component("segment-high-value", lang);
        let dir = tempfile::tempdir().unwrap();

        let runtime = Runtime::new(test_config(), Storage::open(dir.path()).unwrap()).unwrap();
        let started = Instant::now();
        let plugin = runtime.install(&bytes).unwrap();
        let install = started.elapsed();
        let hash = plugin.hash();
        drop(plugin);
        let second = component("channel-json-post", lang);
        let started = Instant::now();
        runtime.install(&second).unwrap();
        let second_install = started.elapsed();
        drop(runtime);

        let runtime = Runtime::new(test_config(), Storage::open(dir.path()).unwrap()).unwrap();
        let started = Instant::now();
        let plugin = runtime.plugin(&hash).unwrap();
        let restart = started.elapsed();
        assert_eq!(runtime.stats().compilations, 0, "the restart must load the artifact");

        let rounds = 300;
        let mut samples = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            black_box(runtime.call(&plugin).info().unwrap());
            samples.push(started.elapsed());
        }
        let (p50, p99) = percentiles(&mut samples);

        let batches = 20;
        let started = Instant::now();
        for _ in 0..batches {
            black_box(runtime.call(&plugin).evaluate(&config, &subjects).unwrap());
        }
        let rate = (batches * subjects.len()) as f64 / started.elapsed().as_secs_f64();

        println!(
            "{:<7} {:>9} {:>10.0} {:>10.0} {:>10.1} {:>12.0} {:>12.0} {:>14.0}",
            lang.dir(),
            bytes.len() / 1024,
            ms(install),
            ms(second_install),
            ms(restart),
            us(p50),
            us(p99),
            rate
        );
    }
}

/// Profiles with varied attribute shapes and a few events each.
fn crowd(count: usize) -> Vec<Subject> {
    (0..count)
        .map(|i| {
            let ltv = match i % 4 {
                0 => Value::Integer((i * 7 % 400) as i64),
                1 => Value::Float((i * 13 % 40_000) as f64 / 100.0),
                2 => Value::Text("n/a".into()),
                _ => Value::Null,
            };
            let tier = Value::Text(["gold", "staff", "vip"][i % 3].into());
            let mut subject = subject(&format!("p-{i}"), &[("lifetime_value", ltv), ("tier", tier)]);
            subject.events = (0..i % 3)
                .map(|n| baton::contract::Event {
                    id: format!("e-{i}-{n}"),
                    profile_id: format!("p-{i}"),
                    name: "order_completed".into(),
                    timestamp: 1_700_000_000_000,
                    properties: "{}".into(),
                    campaign_id: None,
                })
                .collect();
            subject
        })
        .collect()
}
