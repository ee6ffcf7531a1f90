//! A child process for the batch-send crash test: opens the store at the given directory and
//! delivers everything due until the outbox is empty (or until it is killed).

use std::sync::Arc;

use baton::{Engine, Runtime, RuntimeConfig, SystemClock};

#[tokio::main]
async fn main() {
    let dir = std::env::args().nth(1).expect("usage: baton-batch-sender <dir>");
    let storage = baton_tests::child_store(&dir);
    let config = RuntimeConfig { max_instances: 32, ..RuntimeConfig::default() };
    let runtime = Arc::new(Runtime::new(config, storage.clone()).expect("runtime"));
    let engine = Arc::new(
        Engine::new(storage, runtime, Arc::new(SystemClock), baton_tests::child_engine_config())
            .expect("engine"),
    );
    while engine.storage().outbox_len() > 0 {
        let report = engine.deliver_due().await.expect("deliver");
        println!("DELIVERED {}", report.delivered);
        if report.claimed == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
