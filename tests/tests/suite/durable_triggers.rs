//! Triggers acknowledged with their events survive a crash: queued atomically with the events,
//! run after a restart, cleared once run; history imports trigger nothing.

use std::sync::Arc;

use baton::{FixedClock, NewEvent, Runtime};
use baton_tests::{activate, customer, echo_grants, test_config, welcome_campaign};

fn signed_up(id: &str) -> NewEvent {
    NewEvent {
        id: id.into(),
        user_id: Some("ada".into()),
        anonymous_id: None,
        name: "signed_up".into(),
        timestamp: 1,
        properties: serde_json::Map::new(),
        campaign: None,
    }
}

fn open(dir: &std::path::Path) -> baton::Engine {
    let storage = baton_tests::open_store(dir);
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    baton::Engine::new(
        storage,
        runtime,
        Arc::new(FixedClock::at(1_750_000_000_000)),
        baton_tests::engine_config(),
    )
    .unwrap()
}

#[test]
fn a_trigger_acknowledged_before_a_crash_runs_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = open(dir.path());
        activate(
            &engine,
            welcome_campaign(),
            serde_json::json!({}),
            false,
            "http://127.0.0.1:9/",
            echo_grants(),
        );
        customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
        // A history import: stored, but it triggers nothing, now or later.
        engine.storage().ingest(&[signed_up("old")], 1).unwrap();
        // A live event: acknowledged, and then the process dies before the campaigns ran.
        engine.storage().ingest_and_queue_triggers(&[signed_up("live")], 1).unwrap();
        assert_eq!(engine.storage().pending_trigger_count(), 1);
        assert_eq!(engine.storage().outbox_len(), 0);
    }
    let engine = open(dir.path());
    assert_eq!(engine.storage().pending_trigger_count(), 1);
    let report = engine.process_triggers(100).unwrap();
    assert_eq!(report.queued, 1);
    assert_eq!(engine.storage().pending_trigger_count(), 0);
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].idempotency_key.ends_with(":live"), "{}", pending[0].idempotency_key);
    // Draining again finds nothing.
    assert_eq!(engine.process_triggers(100).unwrap().evaluated, 0);
}

#[test]
fn live_ingest_queues_only_events_a_campaign_or_a_suppression_reacts_to() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let named = |id: &str, name: &str| NewEvent { name: name.into(), ..signed_up(id) };
    // No active campaign yet: only the suppressing response event is queued.
    engine
        .ingest_live(&[named("e1", "page"), named("e2", "signed_up"), named("e3", "unsubscribed")], 1)
        .unwrap();
    assert_eq!(engine.storage().pending_trigger_count(), 1);

    activate(&engine, welcome_campaign(), serde_json::json!({}), false, "http://127.0.0.1:9/", echo_grants());
    engine.ingest_live(&[named("e4", "page"), named("e5", "signed_up"), named("e6", "bounced")], 1).unwrap();
    assert_eq!(engine.storage().pending_trigger_count(), 3, "signed_up and bounced, not the page view");
    assert_eq!(engine.storage().event_count(), 6, "every event is stored");
}
