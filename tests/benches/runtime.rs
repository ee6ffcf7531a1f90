//! Runtime benchmark: prints figures, asserts nothing.
//!
//! `cargo bench -p baton-tests --bench runtime`
//!
//! - install (compile) and restart (artifact load) time of a small Rust component;
//! - fresh-instance invocation overhead (instantiate + `info()`), median and p99;
//! - segment evaluation throughput through the batch contract at batch sizes 1, 100, 1,000,
//!   against the same rule compiled natively into this program: a simple attribute rule
//!   (`seg-vip`), and a condition tree with an event window (`segment-conditions`, against the
//!   SDK's own condition language, `baton_sdk::conditions`, compiled natively);
//! - how far past its deadline a runaway plugin is stopped, and when a sleeping one is.
//!
//! `cargo bench -p baton-tests --bench runtime -- instances N` runs only the fresh-instance loop,
//! N times: a steady workload to profile (`perf record`).

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use baton::contract::{Event, Subject, Value};
use baton::{Limits, Runtime, Storage};
use baton_tests::figures::{SplitMix, ms, percentiles, us};
use baton_tests::{fixture, install, invocation, subject, test_config};

fn main() {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned()))
        .unwrap_or_else(|| "?".into());
    println!(
        "machine: {cores} cores, MemTotal {memory} kB; profile: {}",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );

    let dir = tempfile::tempdir().unwrap();
    let bytes = fixture("seg-vip");
    let runtime = Runtime::new(test_config(), Storage::open(dir.path()).unwrap()).unwrap();
    let started = Instant::now();
    let plugin = runtime.install(&bytes).unwrap();
    println!(
        "install seg-vip ({} KiB, compile + info + store): {:.1} ms",
        bytes.len() / 1024,
        ms(started.elapsed())
    );
    let hash = plugin.hash();
    drop(plugin);
    drop(runtime);
    let runtime = Runtime::new(test_config(), Storage::open(dir.path()).unwrap()).unwrap();
    let started = Instant::now();
    let plugin = runtime.plugin(&hash).unwrap();
    println!("restart load seg-vip from cached artifact: {:.2} ms", ms(started.elapsed()));

    // Fresh instance per call: instantiate from InstancePre + the smallest call.
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let only_instances = match args.next().as_deref() {
        Some("instances") => Some(args.next().and_then(|n| n.parse().ok()).unwrap_or(200_000)),
        _ => None,
    };
    let rounds = only_instances.unwrap_or(2_000);
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        black_box(runtime.call(&plugin).info().unwrap());
        samples.push(started.elapsed());
    }
    let (p50, p99) = percentiles(&mut samples);
    println!(
        "fresh instance + info(): median {:.1} µs, p99 {:.1} µs (target: ≤ 10 µs median)",
        us(p50),
        us(p99)
    );
    if only_instances.is_some() {
        return;
    }

    let inv = invocation(r#"{"tier":"vip"}"#);
    for batch in [1usize, 100, 1_000] {
        let subjects: Vec<Subject> = (0..batch)
            .map(|i| {
                let tier = if i % 3 == 0 { "vip" } else { "basic" };
                subject(
                    &format!("p-{i}"),
                    &[("tier", Value::Text(tier.into())), ("lifetime_value", Value::Float(i as f64))],
                )
            })
            .collect();
        let rounds = (200_000 / batch).max(50);
        let started = Instant::now();
        for _ in 0..rounds {
            black_box(runtime.call(&plugin).evaluate(&inv, &subjects).unwrap());
        }
        let wasm_rate = (rounds * batch) as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        for _ in 0..rounds {
            black_box(native_rule(black_box(&subjects), "vip"));
        }
        let native_rate = (rounds * batch) as f64 / started.elapsed().as_secs_f64();
        println!(
            "segment evaluate, batch {batch:>5}: {:>12.0} profiles/s in Wasm, {:>12.0} native, ratio {:.1}×",
            wasm_rate,
            native_rate,
            native_rate / wasm_rate
        );
    }

    condition_tree(&runtime);

    let spin = install(&runtime, "bad-spin");
    let deadline = Duration::from_millis(10);
    let limits = Limits { fuel: u64::MAX, deadline, ..Limits::default() };
    let mut overshoot = Vec::new();
    for _ in 0..30 {
        let err = runtime.call(&spin).with_limits(limits.clone()).evaluate(&inv, &[]).unwrap_err();
        overshoot.push(err.metrics.wall_time.saturating_sub(deadline));
    }
    let (p50, p99) = percentiles(&mut overshoot);
    let max = overshoot.iter().max().copied().unwrap_or_default();
    println!(
        "runaway plugin, 10 ms deadline: stopped {:.2} ms past it (median), p99 {:.2} ms, max {:.2} ms (target: ≤ 10 ms)",
        ms(p50),
        ms(p99),
        ms(max)
    );

    // A plugin that sleeps 20 s through WASI: the wait is virtual, so the call ends as soon as
    // the wait is asked for, not at the deadline.
    let sleeper = install(&runtime, "bad-sleeper");
    let mut took = Vec::new();
    for _ in 0..30 {
        let err = runtime.call(&sleeper).with_limits(limits.clone()).evaluate(&inv, &[]).unwrap_err();
        took.push(err.metrics.wall_time);
    }
    let (p50, p99) = percentiles(&mut took);
    let max = took.iter().max().copied().unwrap_or_default();
    println!(
        "sleeping plugin (20 s through WASI), 10 ms deadline: stopped after {:.2} ms (median), p99 {:.2} ms, max {:.2} ms (target: ≤ 10 ms past the deadline)",
        ms(p50),
        ms(p99),
        ms(max)
    );
}

/// `segment-conditions` over subjects with six events each, against the same tree evaluated by the
/// same code (`baton_sdk::conditions`) compiled natively.
fn condition_tree(runtime: &Runtime) {
    const NOW: i64 = 1_750_000_000_000;
    const DAY: i64 = 86_400_000;
    const KINDS: [&str; 6] =
        ["page", "product_viewed", "added_to_cart", "order_completed", "email_opened", "email_clicked"];
    let plugin = runtime.install(baton::first_party("segment-conditions").unwrap()).unwrap();
    let tree = serde_json::json!({
        "all": [
            { "attribute": "tier", "op": "in", "value": ["vip", "gold"] },
            { "event": "order_completed", "count": { "op": "gte", "value": 1 }, "within_ms": 30 * DAY }
        ]
    });
    let inv = baton::contract::Invocation { now: NOW, ..invocation(&tree.to_string()) };
    let native_tree = baton_sdk::conditions::parse(&tree, "").unwrap();
    let mut rng = SplitMix(11);
    for batch in [1usize, 100, 1_000] {
        let subjects: Vec<Subject> = (0..batch)
            .map(|i| {
                let tier = ["vip", "gold", "basic", "basic", "basic"][i % 5];
                let mut s = subject(&format!("p-{i}"), &[("tier", Value::Text(tier.into()))]);
                s.events = (0..6)
                    .map(|n| {
                        let name = KINDS[(rng.next() % 6) as usize];
                        let properties = if name == "order_completed" {
                            format!(r#"{{"revenue":{}}}"#, rng.next() % 200)
                        } else {
                            format!(r#"{{"path":"/p/{}"}}"#, rng.next() % 500)
                        };
                        Event {
                            id: format!("e-{i}-{n}"),
                            profile_id: format!("p-{i}"),
                            name: name.into(),
                            timestamp: NOW - (rng.next() % (90 * DAY as u64)) as i64,
                            properties,
                            campaign_id: None,
                        }
                    })
                    .collect();
                s
            })
            .collect();
        let native_subjects: Vec<baton_sdk::Subject> =
            subjects.iter().map(baton_tests::native::subject).collect();
        let rounds = (100_000 / batch).max(50);
        let started = Instant::now();
        let mut wasm_members = 0;
        for _ in 0..rounds {
            let out = runtime.call(&plugin).evaluate(&inv, &subjects).unwrap();
            wasm_members = out.value.iter().filter(|m| m.member).count();
        }
        let wasm_rate = (rounds * batch) as f64 / started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut native_members = 0;
        for _ in 0..rounds {
            native_members =
                black_box(&native_subjects).iter().filter(|s| native_tree.matches(s, NOW).unwrap()).count();
        }
        let native_rate = (rounds * batch) as f64 / started.elapsed().as_secs_f64();
        assert_eq!(wasm_members, native_members, "Wasm and native disagree");
        println!(
            "condition tree with a 30-day event window, batch {batch:>5}: {:>10.0} profiles/s in Wasm, {:>10.0} native, ratio {:.1}× ({wasm_members} members)",
            wasm_rate,
            native_rate,
            native_rate / wasm_rate
        );
    }
}

/// The seg-vip rule in native Rust over the same host-side types.
fn native_rule(subjects: &[Subject], tier: &str) -> Vec<(bool, Option<f64>)> {
    subjects
        .iter()
        .map(|s| {
            let attr = |name: &str| s.attributes.iter().find(|a| a.name == name).map(|a| &a.value);
            let member = matches!(attr("tier"), Some(Value::Text(t)) if t == tier);
            let score = match attr("lifetime_value") {
                Some(Value::Float(f)) => Some(*f),
                Some(Value::Integer(i)) => Some(*i as f64),
                _ => None,
            };
            (member, score)
        })
        .collect()
}
