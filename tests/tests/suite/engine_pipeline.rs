//! The send pipeline through the engine with real plugins: segment → policies → experiment →
//! personalize → outbox.

use baton::{
    Engine, Experiment, Grants, NewEvent, ProfileId, SkipReason, Slot, Suppression, SuppressionReason,
    Trigger, Variant,
};
use baton_tests::{activate, customer, echo_grants, engine, welcome_campaign};

fn signed_up(engine: &Engine, id: &str, user: &str) -> Vec<baton::Event> {
    let event = NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: "signed_up".into(),
        timestamp: 1_750_000_000_000,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    engine.storage().ingest(&[event], 3).unwrap();
    vec![engine.storage().event(id).unwrap().unwrap()]
}

/// An active campaign: vip segment, greeting personalizer, echo channel.
fn active(engine: &Engine, campaign: baton::Campaign) {
    let url = "http://127.0.0.1:9/send";
    activate(engine, campaign, serde_json::json!({"tier": "vip"}), true, url, echo_grants());
}

#[test]
fn a_triggering_event_queues_one_personalized_message() {
    let (engine, _clock, _dir) = engine();
    active(&engine, welcome_campaign());
    let ada = customer(
        &engine,
        "ada",
        serde_json::json!({"email": "ada@example.com", "tier": "vip", "first_name": "Ada"}),
        true,
    );

    let report = engine.on_events(&signed_up(&engine, "evt-1", "ada")).unwrap();
    assert_eq!((report.evaluated, report.audience, report.queued), (1, 1, 1));
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!(pending.len(), 1);
    let key = format!("welcome:{ada}:evt-1");
    assert_eq!(pending[0].idempotency_key, key);
    assert_eq!(pending[0].profile, ada);
    assert_eq!(
        pending[0].message,
        serde_json::json!({
            "channel": "email",
            "recipient": "ada@example.com",
            "subject": "Welcome Ada",
            "body": "Hello Ada",
            "html": null,
            "variant_id": null,
            "data": "{}",
            "idempotency_key": key,
        })
    );

    // The same trigger again (a retried ingest, a replay): no second message.
    let again = engine.on_events(&[engine.storage().event("evt-1").unwrap().unwrap()]).unwrap();
    assert_eq!((again.queued, again.duplicates), (0, 1));
    assert_eq!(engine.storage().outbox_len(), 1);
}

#[test]
fn each_policy_suppresses_with_its_reason_code() {
    let (engine, _clock, _dir) = engine();
    active(&engine, welcome_campaign());
    let vip = |email: Option<&str>| match email {
        Some(e) => serde_json::json!({"email": e, "tier": "vip"}),
        None => serde_json::json!({"tier": "vip"}),
    };
    customer(&engine, "no-consent", vip(Some("a@x.test")), false);
    customer(&engine, "no-address", vip(None), true);
    customer(&engine, "basic", serde_json::json!({"email": "b@x.test", "tier": "basic"}), true);
    for (user, reason) in [
        ("unsub", SuppressionReason::Unsubscribed),
        ("bounced", SuppressionReason::Bounced),
        ("complained", SuppressionReason::Complained),
        ("manual", SuppressionReason::Manual),
    ] {
        let id = customer(&engine, user, vip(Some("s@x.test")), true);
        engine
            .storage()
            .update_profile(id, 3, |p| {
                p.suppressions.insert("email".into(), Suppression { reason, since: 3 });
            })
            .unwrap();
    }
    let mut events = Vec::new();
    for user in ["no-consent", "no-address", "basic", "unsub", "bounced", "complained", "manual"] {
        events.extend(signed_up(&engine, &format!("e-{user}"), user));
    }
    let report = engine.on_events(&events).unwrap();
    assert_eq!((report.evaluated, report.audience, report.queued), (7, 6, 0));
    let mut codes: Vec<&str> =
        engine.storage().skips("welcome").unwrap().iter().map(|s| s.reason.code()).collect();
    codes.sort();
    assert_eq!(
        codes,
        vec!["bounced", "complained", "no_address", "no_consent", "suppressed", "unsubscribed"]
    );
    assert_eq!(report.skipped.values().sum::<usize>(), 6);
}

fn batch_campaign(control_percent: u8) -> baton::Campaign {
    let mut campaign = welcome_campaign();
    campaign.id = "winback".into();
    campaign.trigger = Trigger::Batch { every_ms: None };
    campaign.experiment = Some(Experiment {
        variants: vec![
            Variant { id: "A".into(), weight: 1, message: None },
            Variant { id: "B".into(), weight: 1, message: None },
        ],
        control_percent,
        early_stopping: None,
    });
    campaign
}

#[test]
fn a_batch_run_reaches_exactly_its_audience_and_holds_out_the_control_group() {
    let (engine, _clock, _dir) = engine();
    active(&engine, batch_campaign(20));
    let mut vips = Vec::new();
    for i in 0..200 {
        let tier = if i % 2 == 0 { "vip" } else { "basic" };
        let id = customer(
            &engine,
            &format!("u{i}"),
            serde_json::json!({"email": format!("u{i}@x.test"), "tier": tier}),
            true,
        );
        if tier == "vip" {
            vips.push(id);
        }
    }
    let preview = engine.preview("winback").unwrap();
    assert_eq!(engine.storage().outbox_len(), 0, "a preview sends nothing");
    assert!(engine.storage().skips("winback").unwrap().is_empty(), "a preview records nothing");

    let report = engine.run_batch("test", "winback", "run-1").unwrap();
    assert_eq!((report.evaluated, report.audience), (200, 100));
    let control = report.skipped.get(&SkipReason::ControlGroup).copied().unwrap_or(0);
    assert_eq!(report.queued + control, 100);
    assert!((10..=30).contains(&control), "about 20% held out, got {control}");
    assert_eq!(report.variants.values().sum::<usize>(), report.queued);
    // Deterministic: the preview predicted exactly this.
    assert_eq!(
        (preview.queued, preview.skipped.clone(), preview.variants.clone()),
        (report.queued, report.skipped.clone(), report.variants.clone())
    );
    assert_eq!(preview.samples.len(), 5);

    let pending = engine.storage().pending_sends().unwrap();
    let held_out: Vec<ProfileId> =
        engine.storage().skips("winback").unwrap().iter().map(|s| s.profile).collect();
    assert!(pending.iter().all(|s| vips.contains(&s.profile) && !held_out.contains(&s.profile)));
    assert!(held_out.iter().all(|p| vips.contains(p)));
    let controls: Vec<_> = engine.storage().campaign_events("winback").unwrap();
    assert_eq!(controls.len(), control, "each holdout is on the campaign's record for lift");
    assert!(controls.iter().all(|e| e.name == "control_assigned" && held_out.contains(&e.profile)));

    // Retrying the same run sends nothing twice.
    let retry = engine.run_batch("test", "winback", "run-1").unwrap();
    assert_eq!((retry.queued, retry.duplicates), (0, report.queued));
}

#[test]
fn swapping_the_segment_plugin_changes_membership_without_a_restart() {
    let (engine, _clock, _dir) = engine();
    active(&engine, batch_campaign(0));
    for i in 0..10 {
        let tier = if i < 3 { "vip" } else { "gold" };
        customer(
            &engine,
            &format!("u{i}"),
            serde_json::json!({"email": format!("u{i}@x.test"), "tier": tier}),
            true,
        );
    }
    assert_eq!(engine.run_batch("test", "winback", "run-1").unwrap().audience, 3);
    let segment = engine.storage().binding("winback", &Slot::Segment).unwrap().unwrap().plugin;
    engine
        .bind(
            "test",
            "winback",
            Slot::Segment,
            segment,
            serde_json::json!({"tier": "gold"}),
            Grants::default(),
        )
        .unwrap();
    assert_eq!(engine.run_batch("test", "winback", "run-2").unwrap().audience, 7);
}

#[test]
fn an_unsubscribe_event_suppresses_the_channel_for_later_sends() {
    let (engine, _clock, _dir) = engine();
    active(&engine, welcome_campaign());
    let ada = customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    let unsubscribed = NewEvent {
        id: "unsub-1".into(),
        user_id: Some("ada".into()),
        anonymous_id: None,
        name: "unsubscribed".into(),
        timestamp: 1_749_999_000_000,
        properties: serde_json::json!({"channel": "email"}).as_object().unwrap().clone(),
        campaign: Some("welcome".into()),
    };
    engine.storage().ingest(&[unsubscribed], 5).unwrap();
    engine.on_events(&[engine.storage().event("unsub-1").unwrap().unwrap()]).unwrap();
    let profile = engine.storage().profile(ada).unwrap().unwrap();
    assert_eq!(
        profile.suppressions["email"],
        Suppression { reason: SuppressionReason::Unsubscribed, since: 1_749_999_000_000 }
    );

    let report = engine.on_events(&signed_up(&engine, "evt-1", "ada")).unwrap();
    assert_eq!((report.queued, report.skipped.get(&SkipReason::Unsubscribed).copied()), (0, Some(1)));
}
