//! Pacing policies through the engine: frequency and daily caps (in the profile's time zone),
//! quiet hours that delay rather than drop, priority, and the transactional exemption.

use std::collections::BTreeMap;

use baton::{
    Engine, EngineConfig, FixedClock, NewEvent, Policies, QuietHours, RollingCap, SkipReason, Trigger,
};
use baton_tests::{activate, customer, echo_grants, engine_with, welcome_campaign};

fn ts(text: &str) -> i64 {
    let parsed: jiff::Timestamp = text.parse().unwrap();
    parsed.as_millisecond()
}

fn policies(edit: impl FnOnce(&mut Policies)) -> EngineConfig {
    let mut config = baton_tests::engine_config();
    edit(&mut config.policies);
    config
}

/// Ingests a `signed_up` event for `user` at the clock's time and runs the triggered campaigns.
fn sign_up(engine: &Engine, clock: &FixedClock, id: &str, user: &str, at: i64) -> baton::RunReport {
    clock.set(at);
    let event = NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: "signed_up".into(),
        timestamp: at,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine.storage().ingest(&[event], at).unwrap();
    engine.on_events(&[engine.storage().event(id).unwrap().unwrap()]).unwrap()
}

fn setup(
    config: EngineConfig,
    campaigns: Vec<baton::Campaign>,
) -> (Engine, std::sync::Arc<FixedClock>, tempfile::TempDir) {
    let (engine, clock, dir) = engine_with(config);
    for campaign in campaigns {
        activate(&engine, campaign, serde_json::json!({}), false, "http://127.0.0.1:9/send", echo_grants());
    }
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    (engine, clock, dir)
}

fn skipped(report: &baton::RunReport, reason: SkipReason) -> usize {
    report.skipped.get(&reason).copied().unwrap_or(0)
}

#[test]
fn a_rolling_frequency_cap_suppresses_with_its_reason() {
    let config = policies(|p| {
        p.frequency_caps =
            BTreeMap::from([("email".into(), RollingCap { max: 1, window_ms: 7 * 86_400_000 })]);
    });
    let (engine, clock, _dir) = setup(config, vec![welcome_campaign()]);
    let t0 = ts("2025-06-10T10:00:00Z");
    assert_eq!(sign_up(&engine, &clock, "e1", "ada", t0).queued, 1);
    let second = sign_up(&engine, &clock, "e2", "ada", t0 + 86_400_000);
    assert_eq!((second.queued, skipped(&second, SkipReason::FrequencyCap)), (0, 1));
    let skip = &engine.storage().skips("welcome").unwrap()[0];
    assert_eq!(skip.detail, "1 email messages in the last 604800000 ms (cap 1)");
    // A week later the window has moved on.
    assert_eq!(sign_up(&engine, &clock, "e3", "ada", t0 + 7 * 86_400_000 + 1).queued, 1);
}

#[test]
fn the_daily_cap_counts_calendar_days_in_the_profiles_time_zone() {
    let config = policies(|p| p.daily_caps = BTreeMap::from([("email".into(), 1)]));
    let (engine, clock, _dir) = setup(config, vec![welcome_campaign()]);
    let ada = engine.storage().profile_by_identity(&baton::Identity::User("ada".into())).unwrap().unwrap().id;
    engine.storage().update_profile(ada, 3, |p| p.timezone = Some("Asia/Tokyo".into())).unwrap();

    // 23:00 in Tokyo, then 23:30 the same local day: capped.
    assert_eq!(sign_up(&engine, &clock, "e1", "ada", ts("2025-06-10T14:00:00Z")).queued, 1);
    let same_day = sign_up(&engine, &clock, "e2", "ada", ts("2025-06-10T14:30:00Z"));
    assert_eq!(skipped(&same_day, SkipReason::DailyCap), 1);
    // 00:30 the next local day (still June 10 in UTC): allowed.
    assert_eq!(sign_up(&engine, &clock, "e3", "ada", ts("2025-06-10T15:30:00Z")).queued, 1);
}

#[test]
fn quiet_hours_delay_the_send_rather_than_drop_it() {
    let config = policies(|p| p.quiet_hours = Some(QuietHours { start_hour: 21, end_hour: 8 }));
    let (engine, clock, _dir) = setup(config, vec![welcome_campaign()]);
    let ada = engine.storage().profile_by_identity(&baton::Identity::User("ada".into())).unwrap().unwrap().id;
    engine.storage().update_profile(ada, 3, |p| p.timezone = Some("Europe/Paris".into())).unwrap();

    // 22:30 in Paris.
    let report = sign_up(&engine, &clock, "e1", "ada", ts("2025-06-10T20:30:00Z"));
    assert_eq!((report.queued, skipped(&report, SkipReason::QuietHours)), (1, 1));
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!(pending.len(), 1, "delayed, not dropped");
    assert_eq!(pending[0].next_attempt_at, ts("2025-06-11T06:00:00Z"), "08:00 in Paris");
    assert!(engine.storage().claim_due(ts("2025-06-11T05:59:59Z"), 10, 1_000).unwrap().is_empty());
    assert_eq!(engine.storage().claim_due(ts("2025-06-11T06:00:00Z"), 10, 1_000).unwrap().len(), 1);
}

#[test]
fn the_higher_priority_campaign_wins_a_profile_and_transactional_is_exempt() {
    let mut welcome = welcome_campaign();
    welcome.priority = 10;
    let mut nudge = welcome_campaign();
    nudge.id = "nudge".into();
    nudge.priority = 1;
    let mut receipt = welcome_campaign();
    receipt.id = "receipt".into();
    receipt.transactional = true;
    receipt.purpose = "transactional".into();
    receipt.trigger = Trigger::Event { event: "signed_up".into(), filter: BTreeMap::new() };
    let config = policies(|p| {
        p.frequency_caps = BTreeMap::from([("email".into(), RollingCap { max: 1, window_ms: 86_400_000 })]);
        p.quiet_hours = Some(QuietHours { start_hour: 0, end_hour: 23 });
    });
    let (engine, clock, _dir) = setup(config, vec![nudge, welcome, receipt]);

    // One event triggers all three. Priority 10 goes first, at 12:00 UTC (inside quiet hours):
    // delayed. The priority-1 campaign is then outranked. The transactional receipt ignores
    // caps, priority and quiet hours and is due now.
    let report = sign_up(&engine, &clock, "e1", "ada", ts("2025-06-10T12:00:00Z"));
    assert_eq!(report.queued, 2);
    assert_eq!(skipped(&report, SkipReason::QuietHours), 1);
    let skips = engine.storage().skips("nudge").unwrap();
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0].reason, SkipReason::LowerPriority);
    assert_eq!(skips[0].detail, "campaign `welcome` (priority 10) messaged this profile first");
    let pending = engine.storage().pending_sends().unwrap();
    let receipt = pending.iter().find(|s| s.campaign == "receipt").unwrap();
    assert_eq!(receipt.next_attempt_at, ts("2025-06-10T12:00:00Z"));
}

#[test]
fn invalid_policies_are_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let storage = baton_tests::open_store(dir.path());
    let runtime =
        std::sync::Arc::new(baton::Runtime::new(baton_tests::test_config(), storage.clone()).unwrap());
    let config = policies(|p| {
        p.default_timezone = "Mars/Olympus".into();
        p.quiet_hours = Some(QuietHours { start_hour: 25, end_hour: 8 });
    });
    let err = Engine::new(storage, runtime, std::sync::Arc::new(FixedClock::at(0)), config).err().unwrap();
    assert_eq!(
        err.to_string(),
        "policies are invalid: default_timezone `Mars/Olympus` is not an IANA time zone; \
         quiet_hours: hours are 0 to 23 and start differs from end"
    );
}
