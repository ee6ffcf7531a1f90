//! Scheduled work through `tick`: batch campaigns with an interval run once per slot, judged by
//! parallel workers; KPIs are recomputed on their own schedule.

use baton::{EngineConfig, Grants, Slot, Trigger};
use baton_tests::{activate, customer, echo_grants, engine_with, fixture, welcome_campaign};

const HOUR: i64 = 3_600_000;

#[test]
fn scheduled_batches_and_kpis_run_once_per_slot() {
    let config = EngineConfig { kpi_every_ms: Some(HOUR), batch_workers: 2, ..baton_tests::engine_config() };
    let (engine, clock, _dir) = engine_with(config);
    let mut campaign = welcome_campaign();
    campaign.id = "digest".into();
    campaign.trigger = Trigger::Batch { every_ms: Some(HOUR as u64) };
    activate(&engine, campaign, serde_json::json!({}), false, "http://127.0.0.1:9/send", echo_grants());
    let kpi = engine.runtime().install(&fixture("kpi-count")).unwrap().hash();
    engine
        .bind("test", "digest", Slot::Kpi("counts".into()), kpi, serde_json::json!({}), Grants::default())
        .unwrap();
    // More than one segment batch (500), so both workers judge.
    for i in 0..700 {
        let tier = if i % 7 == 0 { "basic" } else { "vip" };
        customer(
            &engine,
            &format!("u{i}"),
            serde_json::json!({"email": format!("u{i}@x.test"), "tier": tier}),
            true,
        );
    }

    let t0 = 1_750_000_000_000 / HOUR * HOUR + 60_000;
    clock.set(t0);
    let first = engine.tick().unwrap();
    let run = &first.batch_runs["digest"];
    assert_eq!((run.evaluated, run.audience, run.queued), (700, 600, 600));
    assert_eq!(first.kpis, vec!["digest".to_owned()]);
    let slot = t0 / HOUR;
    let keys: Vec<String> =
        engine.storage().pending_sends().unwrap().into_iter().map(|s| s.idempotency_key).collect();
    assert!(keys.iter().all(|k| k.ends_with(&format!(":every-{slot}"))));

    // Later in the same hour: nothing is due.
    clock.set(t0 + 30 * 60_000);
    assert_eq!(engine.tick().unwrap(), baton::TickReport::default());

    // The next hour: a new run for the whole audience, and fresh KPIs.
    clock.set(t0 + HOUR);
    let next = engine.tick().unwrap();
    assert_eq!(next.batch_runs["digest"].queued, 600);
    assert_eq!(next.kpis, vec!["digest".to_owned()]);
    assert_eq!(engine.storage().outbox_len(), 1_200);
    assert_eq!(engine.storage().kpi_snapshots("digest").unwrap().len(), 2);
}
