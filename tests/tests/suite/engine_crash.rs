//! kill -9 during a batch send: after a restart, the vendor has seen every audience member's
//! idempotency key and no other, and each send is finished exactly once in the store.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use baton::{Engine, FixedClock, Runtime, SendOutcome, Trigger};
use baton_tests::{Vendor, activate, customer, echo_grants, test_config, welcome_campaign};

pub(crate) const AUDIENCE: usize = 120;

/// Prepares the store of `dir`: an active batch campaign `winback` sending to `vendor`, and
/// [`AUDIENCE`] customers queued by a run. Returns the queued sends' idempotency keys.
pub(crate) fn queue_batch(dir: &std::path::Path, vendor: &Vendor, now: i64) -> BTreeSet<String> {
    let storage = baton_tests::open_store(dir);
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let engine =
        Engine::new(storage, runtime, Arc::new(FixedClock::at(now)), baton_tests::engine_config()).unwrap();
    let mut campaign = welcome_campaign();
    campaign.id = "winback".into();
    campaign.trigger = Trigger::Batch { every_ms: None };
    activate(&engine, campaign, serde_json::json!({}), false, &vendor.url("/send"), echo_grants());
    engine.storage().put_secret("ECHO_TOKEN", &baton::SecretValue::new("t"), &["127.0.0.1".into()]).unwrap();
    for i in 0..AUDIENCE {
        customer(
            &engine,
            &format!("u{i}"),
            serde_json::json!({"email": format!("u{i}@x.test"), "tier": "vip"}),
            true,
        );
    }
    assert_eq!(engine.run_batch("test", "winback", "run-1").unwrap().queued, AUDIENCE);
    engine.storage().pending_sends().unwrap().into_iter().map(|s| s.idempotency_key).collect()
}

/// Checks the end of a batch send that a kill interrupted: the vendor saw every key in
/// `expected` and no other, and the store finished each send exactly once.
pub(crate) fn assert_batch_delivered_once(
    storage: &baton::Storage,
    vendor: &Vendor,
    expected: &BTreeSet<String>,
) {
    let received = vendor.received();
    let keys: Vec<String> =
        received.iter().map(|r| r.header("idempotency-key").unwrap().to_owned()).collect();
    let distinct: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(&distinct, expected, "every audience member reached the vendor, and nobody else");
    // Sends answered but not yet recorded at the kill are sent again, under the same key: a
    // vendor honouring idempotency keys delivers each member once. How many depends on timing at
    // the kill, so it is not asserted.
    assert!(keys.len() >= AUDIENCE);
    let deliveries = storage.deliveries("winback").unwrap();
    let delivered: Vec<&str> = deliveries
        .iter()
        .filter(|d| matches!(d.outcome, SendOutcome::Delivered { .. }))
        .map(|d| d.idempotency_key.as_str())
        .collect();
    assert_eq!(delivered.len(), AUDIENCE, "each send finished exactly once");
    assert_eq!(delivered.iter().collect::<BTreeSet<_>>().len(), AUDIENCE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_send_killed_midway_delivers_every_member_once_per_key_after_restart() {
    let vendor = Vendor::start().await;
    vendor.set_delay_ms(5);
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;

    let expected = queue_batch(dir.path(), &vendor, now);

    // Deliver in a child process and kill it with SIGKILL partway through.
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton-batch-sender"))
        .envs(baton_tests::store_url(dir.path()).map(|url| ("BATON_STORE", url)))
        .arg(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize;
    let kill_at = 20 + nanos % (AUDIENCE / 2);
    let waited = tokio::time::timeout(Duration::from_secs(120), async {
        while vendor.received().len() < kill_at {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(waited.is_ok(), "the child never reached {kill_at} requests");
    let at_kill = vendor.received().len();
    assert!(at_kill < AUDIENCE, "killed too late to test anything: {at_kill}");

    // Restart after the dead worker's leases have run out, and finish.
    let storage = baton_tests::open_store(dir.path());
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    let clock = Arc::new(FixedClock::at(now + 10 * 60_000));
    let engine =
        Arc::new(Engine::new(storage, runtime, clock.clone(), baton_tests::engine_config()).unwrap());
    // On a busy machine an adapter call can pass its deadline; such sends are retried with
    // backoff, so each round moves the clock past the longest backoff.
    let max_backoff = baton_tests::engine_config().delivery.max_backoff_ms;
    for round in 1..=20 {
        if engine.storage().outbox_len() == 0 {
            break;
        }
        engine.deliver_due().await.unwrap();
        clock.set(now + 10 * 60_000 + round * max_backoff);
    }
    assert_eq!(engine.storage().outbox_len(), 0);

    assert_batch_delivered_once(engine.storage(), &vendor, &expected);
}
