//! A child process for the journey crash test: opens the store at the given directory and, as
//! `baton serve` does, fires journey timers as they come due and delivers what they send, until
//! nothing is left (or until it is killed).

use std::sync::Arc;

use baton::{Engine, Runtime, RuntimeConfig, SystemClock};

#[tokio::main]
async fn main() {
    let dir = std::env::args().nth(1).expect("usage: baton-journey-runner <dir>");
    let storage = baton_tests::child_store(&dir);
    let config = RuntimeConfig { max_instances: 32, ..RuntimeConfig::default() };
    let runtime = Arc::new(Runtime::new(config, storage.clone()).expect("runtime"));
    let engine = Arc::new(
        Engine::new(storage, runtime, Arc::new(SystemClock), baton_tests::child_engine_config())
            .expect("engine"),
    );
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(120) {
        let engine_for_tick = engine.clone();
        let tick =
            tokio::task::spawn_blocking(move || engine_for_tick.tick()).await.expect("join").expect("tick");
        let delivered = engine.deliver_due().await.expect("deliver");
        println!("MOVED {} DELIVERED {}", tick.journey_moves, delivered.delivered);
        if tick.journey_moves == 0 && delivered.claimed == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
