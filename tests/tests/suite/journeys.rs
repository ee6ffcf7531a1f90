//! Journeys with a controllable clock: profiles enter on an event, wait in delays whose timers
//! fire from the due-time index, branch on their own history, wait for events until a timeout,
//! convert on a goal, leave on an exit event, come back as their re-entry rule allows, stay on
//! the version they entered, and hold still while a journey is paused.

use std::collections::BTreeMap;

use baton::journey::{Condition, Entry, EventMatch};
use baton::{
    CampaignState, Engine, EngineError, FixedClock, JourneySpec, JourneyState, ProfileId, Reentry, Slot,
    Step, Trigger,
};
use baton_tests::{customer, engine, fixture, user_event};

const NOW: i64 = 1_750_000_000_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Active journey campaigns `ids` sending email through `chan-echo` (the sends stay in the
/// outbox: nothing here delivers).
fn journey_campaigns(engine: &Engine, ids: &[&str]) {
    journey_campaigns_to(engine, ids, "http://127.0.0.1:9/send");
}

/// [`journey_campaigns`] posting to `url`.
fn journey_campaigns_to(engine: &Engine, ids: &[&str], url: &str) {
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    for id in ids {
        let mut campaign = baton_tests::welcome_campaign();
        campaign.id = (*id).into();
        campaign.trigger = Trigger::Journey {};
        campaign.message.subject = Some((*id).to_owned());
        engine.create_campaign("test", campaign).unwrap();
        let config = serde_json::json!({"url": url});
        engine.bind("test", id, Slot::Channel, channel.clone(), config, baton_tests::echo_grants()).unwrap();
        engine.transition("test", id, CampaignState::Active).unwrap();
    }
}

fn step(value: serde_json::Value) -> Step {
    serde_json::from_value(value).unwrap()
}

/// Welcome, two days, then a thank-you if they ordered since the welcome, else a reminder (the
/// demo's journey).
fn welcome_series() -> JourneySpec {
    serde_json::from_str(include_str!("../../../examples/scenario/welcome.journey.json")).unwrap()
}

fn setup() -> (Engine, std::sync::Arc<FixedClock>, tempfile::TempDir, ProfileId, ProfileId) {
    let (engine, clock, dir) = engine();
    journey_campaigns(&engine, &["welcome-email", "reminder-offer", "thank-you"]);
    let ann =
        customer(&engine, "ann", serde_json::json!({"first_name": "Ann", "email": "ann@example.com"}), true);
    let bob =
        customer(&engine, "bob", serde_json::json!({"first_name": "Bob", "email": "bob@example.com"}), true);
    (engine, clock, dir, ann, bob)
}

fn ingest(engine: &Engine, id: &str, user: &str, name: &str, at: i64) {
    engine.ingest_live(&[user_event(id, user, name, at)], at).unwrap();
    engine.drain_triggers().unwrap();
}

/// The campaigns each profile was sent, in the order queued.
fn sent(engine: &Engine) -> BTreeMap<ProfileId, Vec<String>> {
    let mut sends = engine.storage().pending_sends().unwrap();
    sends.sort_by_key(|s| s.enqueued_at);
    let mut by_profile: BTreeMap<ProfileId, Vec<String>> = BTreeMap::new();
    for send in sends {
        by_profile.entry(send.profile).or_default().push(send.campaign);
    }
    by_profile
}

fn counts(engine: &Engine, journey: &str, version: u32) -> BTreeMap<String, baton::StepCounts> {
    engine.journey_view(journey).unwrap().counts.remove(&version).unwrap_or_default()
}

#[test]
fn a_delay_holds_profiles_until_its_timer_fires_and_the_branch_reads_their_own_history() {
    let (engine, clock, _dir, ann, bob) = setup();
    let journey = engine.save_journey("test", "welcome", welcome_series()).unwrap();
    assert_eq!((journey.state, journey.latest_version, journey.live_version), (JourneyState::Draft, 1, None));
    // A draft admits nobody.
    ingest(&engine, "s0", "ann", "signed_up", NOW);
    assert!(engine.journey_positions_of(ann).unwrap().is_empty());
    engine.publish_journey("test", "welcome", None, &BTreeMap::new()).unwrap();

    clock.set(NOW + 1);
    ingest(&engine, "s1", "ann", "signed_up", NOW + 1);
    ingest(&engine, "s2", "bob", "signed_up", NOW + 1);
    assert_eq!(
        sent(&engine),
        BTreeMap::from([(ann, vec!["welcome-email".into()]), (bob, vec!["welcome-email".into()])])
    );
    let place = &engine.journey_positions_of(ann).unwrap()[0];
    assert_eq!(
        (place.step.as_str(), place.waiting.clone()),
        ("wait", baton::Waiting::Until { until: NOW + 1 + 2 * DAY })
    );
    assert_eq!(engine.journey_view("welcome").unwrap().waiting, 2);

    // Ann orders a day in; nothing moves until the timer.
    clock.set(NOW + DAY);
    ingest(&engine, "o1", "ann", "order_completed", NOW + DAY);
    assert_eq!(engine.tick().unwrap().journey_moves, 0);
    // The last moment of the delay, then the first after it.
    clock.set(NOW + 2 * DAY);
    assert_eq!(engine.tick().unwrap().journey_moves, 0);
    clock.set(NOW + 2 * DAY + 1);
    assert_eq!(engine.tick().unwrap().journey_moves, 2);
    assert_eq!(
        sent(&engine),
        BTreeMap::from([
            (ann, vec!["welcome-email".into(), "thank-you".into()]),
            (bob, vec!["welcome-email".into(), "reminder-offer".into()]),
        ])
    );
    assert!(engine.journey_positions_of(ann).unwrap().is_empty());
    assert_eq!(engine.journey_view("welcome").unwrap().waiting, 0);
    let counts = counts(&engine, "welcome", 1);
    assert_eq!((counts["welcome"].entered, counts["welcome"].passed), (2, 2));
    assert_eq!((counts["wait"].entered, counts["wait"].waiting, counts["wait"].passed), (2, 0, 2));
    assert_eq!((counts["thanks"].passed, counts["reminder"].passed), (1, 1));
    assert_eq!(counts["done"].ended, BTreeMap::from([("completed".to_owned(), 2)]));
    // Each send's key names the journey, version, entry and step: a repeat sends nothing twice.
    let keys: Vec<String> =
        engine.storage().pending_sends().unwrap().into_iter().map(|s| s.idempotency_key).collect();
    assert!(keys.contains(&format!("thank-you:{ann}:journey:welcome:1:1:thanks")), "{keys:?}");
    // A second timer round finds nothing.
    assert_eq!(engine.tick().unwrap().journey_moves, 0);
}

#[test]
fn a_goal_converts_and_an_exit_event_takes_a_profile_out_wherever_it_waits() {
    let (engine, clock, _dir, ann, bob) = setup();
    let mut spec = welcome_series();
    spec.goal = vec![EventMatch { event: "order_completed".into(), filter: BTreeMap::new() }];
    spec.exit_on = vec![EventMatch { event: "unsubscribed".into(), filter: BTreeMap::new() }];
    engine.save_journey("test", "welcome", spec).unwrap();
    engine.publish_journey("test", "welcome", None, &BTreeMap::new()).unwrap();
    ingest(&engine, "s1", "ann", "signed_up", NOW);
    ingest(&engine, "s2", "bob", "signed_up", NOW);

    clock.set(NOW + HOUR);
    ingest(&engine, "o1", "ann", "order_completed", NOW + HOUR);
    ingest(&engine, "u1", "bob", "unsubscribed", NOW + HOUR);
    assert!(engine.journey_positions_of(ann).unwrap().is_empty());
    assert!(engine.journey_positions_of(bob).unwrap().is_empty());
    let wait = &counts(&engine, "welcome", 1)["wait"];
    assert_eq!(wait.waiting, 0);
    assert_eq!(wait.ended, BTreeMap::from([("converted".to_owned(), 1), ("exited".to_owned(), 1)]));
    assert_eq!(engine.journey_view("welcome").unwrap().waiting, 0);
    // Their timers went with them: nothing more is sent when the delay would have ended.
    clock.set(NOW + 3 * DAY);
    assert_eq!(engine.tick().unwrap().journey_moves, 0);
    assert_eq!(engine.storage().pending_sends().unwrap().len(), 2);
    // An order before the entry is not a conversion of it.
    let entry = engine.storage().journey_entry("welcome", ann).unwrap().unwrap();
    assert_eq!((entry.entries, entry.last_outcome), (1, Some(baton::Outcome::Converted)));
}

fn wait_for_order() -> JourneySpec {
    serde_json::from_value(serde_json::json!({
        "name": "Cart reminder",
        "entry": {"type": "event", "event": "cart_abandoned"},
        "start": "wait",
        "steps": {
            "wait": {"type": "wait_for_event", "event": "order_completed", "filter": {"currency": "EUR"},
                     "timeout_ms": DAY, "on_event": "thanks", "on_timeout": "reminder"},
            "thanks": {"type": "message", "campaign": "thank-you", "next": "done"},
            "reminder": {"type": "message", "campaign": "reminder-offer", "next": "done"},
            "done": {"type": "exit"}
        }
    }))
    .unwrap()
}

#[test]
fn a_wait_ends_by_its_event_or_by_its_timeout() {
    let (engine, clock, _dir, ann, bob) = setup();
    engine.save_journey("test", "cart", wait_for_order()).unwrap();
    engine.publish_journey("test", "cart", None, &BTreeMap::new()).unwrap();
    ingest(&engine, "c1", "ann", "cart_abandoned", NOW);
    ingest(&engine, "c2", "bob", "cart_abandoned", NOW);
    clock.set(NOW + HOUR);
    // An order in another currency is not the one awaited.
    let mut usd = user_event("o0", "ann", "order_completed", NOW + HOUR);
    usd.properties.insert("currency".into(), "USD".into());
    engine.ingest_live(&[usd], NOW + HOUR).unwrap();
    engine.drain_triggers().unwrap();
    assert_eq!(engine.journey_positions_of(ann).unwrap().len(), 1);
    let mut eur = user_event("o1", "ann", "order_completed", NOW + HOUR);
    eur.properties.insert("currency".into(), "EUR".into());
    engine.ingest_live(&[eur], NOW + HOUR).unwrap();
    engine.drain_triggers().unwrap();
    assert_eq!(sent(&engine), BTreeMap::from([(ann, vec!["thank-you".into()])]));

    clock.set(NOW + DAY + 1);
    assert_eq!(engine.tick().unwrap().journey_moves, 1);
    assert_eq!(sent(&engine)[&bob], ["reminder-offer"]);
    let wait = &counts(&engine, "cart", 1)["wait"];
    assert_eq!((wait.entered, wait.passed, wait.waiting), (2, 2, 0));
}

#[test]
fn reentry_follows_the_rule_and_nobody_is_in_a_journey_twice_at_once() {
    let (engine, clock, _dir, ann, _bob) = setup();
    let spec = |reentry: Reentry, window: Option<u64>| -> JourneySpec {
        let mut spec = welcome_series();
        spec.reentry = reentry;
        spec.reentry_window_ms = window;
        spec
    };
    let entries =
        |engine: &Engine, id: &str| engine.storage().journey_entry(id, ann).unwrap().map_or(0, |e| e.entries);
    for (id, reentry, window) in [
        ("once", Reentry::Once, None),
        ("always", Reentry::Always, None),
        ("weekly", Reentry::OncePerWindow, Some(7 * DAY as u64)),
    ] {
        engine.save_journey("test", id, spec(reentry, window)).unwrap();
        engine.publish_journey("test", id, None, &BTreeMap::new()).unwrap();
    }
    ingest(&engine, "s1", "ann", "signed_up", NOW);
    // Inside all three: a second sign-up admits her to none of them again.
    ingest(&engine, "s2", "ann", "signed_up", NOW + 1);
    assert_eq!([entries(&engine, "once"), entries(&engine, "always"), entries(&engine, "weekly")], [1, 1, 1]);
    // Through all three by day 3; on day 4, a sign-up admits her to `always` only.
    clock.set(NOW + 3 * DAY);
    engine.tick().unwrap();
    assert!(engine.journey_positions_of(ann).unwrap().is_empty());
    ingest(&engine, "s3", "ann", "signed_up", NOW + 3 * DAY);
    assert_eq!([entries(&engine, "once"), entries(&engine, "always"), entries(&engine, "weekly")], [1, 2, 1]);
    // A week after her first entry, `weekly` admits her again.
    clock.set(NOW + 7 * DAY);
    engine.tick().unwrap();
    ingest(&engine, "s4", "ann", "signed_up", NOW + 7 * DAY);
    assert_eq!([entries(&engine, "once"), entries(&engine, "always"), entries(&engine, "weekly")], [1, 3, 2]);
}

#[test]
fn a_new_version_leaves_profiles_on_theirs_and_a_mapping_moves_them() {
    let (engine, clock, _dir, ann, bob) = setup();
    engine.save_journey("test", "welcome", welcome_series()).unwrap();
    engine.publish_journey("test", "welcome", None, &BTreeMap::new()).unwrap();
    ingest(&engine, "s1", "ann", "signed_up", NOW);

    // Version 2 sends a reminder only, after one day.
    let mut v2 = welcome_series();
    v2.steps
        .insert("wait".into(), step(serde_json::json!({"type": "delay", "for_ms": DAY, "next": "reminder"})));
    v2.steps.remove("bought");
    v2.steps.remove("thanks");
    engine.save_journey("test", "welcome", v2.clone()).unwrap();
    engine.publish_journey("test", "welcome", Some(2), &BTreeMap::new()).unwrap();
    ingest(&engine, "s2", "bob", "signed_up", NOW);
    assert_eq!(engine.journey_positions_of(ann).unwrap()[0].version, 1);
    assert_eq!(engine.journey_positions_of(bob).unwrap()[0].version, 2);
    // Bob's day passes; Ann still waits her version's two days.
    clock.set(NOW + DAY + 1);
    assert_eq!(engine.tick().unwrap().journey_moves, 1);
    assert_eq!(sent(&engine)[&bob], ["welcome-email", "reminder-offer"]);
    assert_eq!(engine.journey_positions_of(ann).unwrap()[0].version, 1);

    // Version 3 = version 2 again, published with a mapping: Ann moves over, keeping her wait.
    engine.save_journey("test", "welcome", v2).unwrap();
    let to_wait = BTreeMap::from([("wait".to_owned(), "wait".to_owned())]);
    engine.publish_journey("test", "welcome", Some(3), &to_wait).unwrap();
    let place = &engine.journey_positions_of(ann).unwrap()[0];
    assert_eq!((place.version, place.step.as_str()), (3, "wait"));
    clock.set(NOW + 2 * DAY + 1);
    assert_eq!(engine.tick().unwrap().journey_moves, 1);
    assert_eq!(sent(&engine)[&ann], ["welcome-email", "reminder-offer"]);
    assert_eq!(counts(&engine, "welcome", 1)["wait"].ended, BTreeMap::from([("migrated".to_owned(), 1)]));

    // A mapping to a step the version does not have is refused, naming it.
    let bad = BTreeMap::from([("wait".to_owned(), "nowhere".to_owned())]);
    let err = engine.publish_journey("test", "welcome", Some(3), &bad).unwrap_err();
    assert_eq!(err.to_string(), "journey is invalid: migrate.wait: version 3 has no step \"nowhere\"");
}

#[test]
fn pause_holds_every_waiting_profile_and_resume_lets_them_go_on() {
    let (engine, clock, _dir, ann, _bob) = setup();
    engine.save_journey("test", "welcome", welcome_series()).unwrap();
    engine.publish_journey("test", "welcome", None, &BTreeMap::new()).unwrap();
    ingest(&engine, "s1", "ann", "signed_up", NOW);
    engine.set_journey_state("test", "welcome", JourneyState::Paused).unwrap();
    // Paused: the timer comes due and nothing moves; nobody enters.
    clock.set(NOW + 3 * DAY);
    assert_eq!(engine.tick().unwrap().journey_moves, 0);
    ingest(&engine, "s2", "bob", "signed_up", NOW + 3 * DAY);
    assert_eq!(engine.journey_view("welcome").unwrap().counts[&1]["welcome"].entered, 1);
    assert_eq!(engine.journey_positions_of(ann).unwrap()[0].step, "wait");

    engine.set_journey_state("test", "welcome", JourneyState::Live).unwrap();
    assert_eq!(engine.tick().unwrap().journey_moves, 1);
    assert_eq!(sent(&engine)[&ann], ["welcome-email", "reminder-offer"]);

    // Ending exits everyone inside.
    ingest(&engine, "s3", "bob", "signed_up", NOW + 3 * DAY);
    engine.set_journey_state("test", "welcome", JourneyState::Ended).unwrap();
    assert_eq!(engine.journey_view("welcome").unwrap().waiting, 0);
    assert_eq!(
        counts(&engine, "welcome", 1)["wait"].ended,
        BTreeMap::from([("journey_ended".to_owned(), 1)])
    );
    let err = engine.set_journey_state("test", "welcome", JourneyState::Live).unwrap_err();
    assert!(matches!(err, EngineError::JourneyState(_)), "{err}");
}

#[test]
fn a_split_is_the_same_for_the_same_profile_and_updates_set_attributes_and_consent() {
    let (engine, _clock, _dir, _ann, _bob) = setup();
    let spec: JourneySpec = serde_json::from_value(serde_json::json!({
        "name": "Split",
        "entry": {"type": "event", "event": "signed_up"},
        "reentry": "always",
        "start": "split",
        "steps": {
            "split": {"type": "split", "holdout_percent": 20,
                      "paths": [{"percent": 40, "next": "a"}, {"percent": 40, "next": "b"}]},
            "a": {"type": "update_profile", "set": {"arm": "a"}, "unsubscribe": ["email:marketing"], "next": "done"},
            "b": {"type": "update_profile", "set": {"arm": "b", "vip": null}, "subscribe": ["sms"], "next": "done"},
            "done": {"type": "exit"}
        }
    }))
    .unwrap();
    engine.save_journey("test", "split", spec).unwrap();
    engine.publish_journey("test", "split", None, &BTreeMap::new()).unwrap();
    let mut arms = BTreeMap::new();
    for i in 0..300 {
        let user = format!("u{i}");
        customer(&engine, &user, serde_json::json!({"vip": true}), false);
        ingest(&engine, &format!("s{i}"), &user, "signed_up", NOW);
        let profile =
            engine.storage().profile_by_identity(&baton::Identity::User(user.clone())).unwrap().unwrap();
        let arm = profile.attributes.get("arm").and_then(|a| a.as_str()).unwrap_or("held out").to_owned();
        match arm.as_str() {
            "a" => assert_eq!(profile.attributes["vip"], true),
            "b" => assert!(!profile.attributes.contains_key("vip")),
            _ => {}
        }
        // Again: the same arm.
        ingest(&engine, &format!("t{i}"), &user, "signed_up", NOW);
        let again = engine.storage().profile_by_identity(&baton::Identity::User(user)).unwrap().unwrap();
        assert_eq!(again.attributes.get("arm").and_then(|a| a.as_str()).unwrap_or("held out"), arm);
        *arms.entry(arm).or_insert(0) += 1;
    }
    // 40/40/20 within sampling error of 300 profiles.
    assert!((90..=150).contains(&arms["a"]) && (90..=150).contains(&arms["b"]), "{arms:?}");
    assert!((35..=85).contains(&arms["held out"]), "{arms:?}");
    assert_eq!(counts(&engine, "split", 1)["split"].ended["held_out"], 2 * arms["held out"] as u64);
}

#[test]
fn journeys_that_name_what_does_not_exist_are_refused_with_every_problem() {
    let (engine, _clock, _dir, _ann, _bob) = setup();
    let mut regular = baton_tests::welcome_campaign();
    regular.id = "newsletter".into();
    engine.create_campaign("test", regular).unwrap();
    let mut spec = welcome_series();
    spec.steps.insert(
        "welcome".into(),
        step(serde_json::json!({"type": "message", "campaign": "newsletter", "next": "wait"})),
    );
    spec.steps.insert(
        "reminder".into(),
        step(serde_json::json!({"type": "message", "campaign": "nope", "next": "done"})),
    );
    spec.steps.insert(
        "bought".into(),
        Step::Branch {
            condition: Condition::InSegment { segment: "ghosts".into() },
            yes: "thanks".into(),
            no: "reminder".into(),
        },
    );
    spec.entry = Entry::Segment { segment: "vips".into() };
    let err = engine.save_journey("test", "welcome", spec).unwrap_err();
    assert_eq!(
        err.to_string(),
        "journey is invalid: entry.segment: no saved segment is named `vips`; \
         steps.bought.condition.segment: no saved segment is named `ghosts`; \
         steps.reminder.campaign: no campaign is named `nope`; \
         steps.welcome.campaign: `newsletter` is not a journey campaign; give it the trigger {\"type\": \"journey\"}"
    );
    assert!(engine.journeys().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_over_the_api() {
    let (engine, clock, _dir, ann, _bob) = setup();
    let engine = std::sync::Arc::new(engine);
    let (token, _) = engine.storage().create_token("ops", baton::Role::Orchestrator, 1).unwrap();
    let (viewer, _) = engine.storage().create_token("boss", baton::Role::Viewer, 1).unwrap();
    let base = baton_tests::serve(engine.clone(), baton::ApiConfig::default()).await;
    let client = baton_tests::http();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Option<serde_json::Value>| {
        let mut request = client.request(method, format!("{base}{path}")).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default())
        }
    };
    use reqwest::Method;
    let spec = serde_json::to_value(welcome_series()).unwrap();

    // A viewer reads, never writes.
    let (status, body) = call(Method::PUT, "/v1/journeys/welcome", &viewer, Some(spec.clone())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{body}");
    let (status, body) = call(Method::PUT, "/v1/journeys/welcome", &token, Some(spec.clone())).await;
    assert_eq!(
        (status, body["state"].as_str(), body["latest_version"].as_u64()),
        (200, Some("draft"), Some(1)),
        "{body}"
    );
    // Publish with no body: the newest version.
    let response =
        client.post(format!("{base}/v1/journeys/welcome/publish")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let published: serde_json::Value = response.json().await.unwrap();
    assert_eq!((published["state"].as_str(), published["live_version"].as_u64()), (Some("live"), Some(1)));

    clock.set(NOW + 1);
    ingest(&engine, "s1", "ann", "signed_up", NOW + 1);
    let (status, view) = call(Method::GET, "/v1/journeys/welcome", &viewer, None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (view["waiting"].as_u64(), view["counts"]["1"]["wait"]["waiting"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(view["spec"]["steps"]["wait"]["for_ms"].as_u64(), Some(2 * DAY as u64));
    let (_, list) = call(Method::GET, "/v1/journeys", &viewer, None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // Where Ann is: personal data, so an orchestrator sees it and a viewer does not.
    let (status, places) = call(Method::GET, &format!("/v1/profiles/{ann}/journeys"), &token, None).await;
    assert_eq!(status, 200, "{places}");
    assert_eq!((places[0]["journey"].as_str(), places[0]["step"].as_str()), (Some("welcome"), Some("wait")));
    assert_eq!(places[0]["waiting"]["until"].as_i64(), Some(NOW + 1 + 2 * DAY));
    let (status, _) = call(Method::GET, &format!("/v1/profiles/{ann}/journeys"), &viewer, None).await;
    assert_eq!(status, 403);
    let (status, body) = call(Method::GET, "/v1/profiles/pr_00000000000f423f/journeys", &token, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("profile_not_found")), "{body}");

    for (action, state) in [("pause", "paused"), ("resume", "live")] {
        let (status, body) =
            call(Method::POST, &format!("/v1/journeys/welcome/{action}"), &token, None).await;
        assert_eq!((status, body["state"].as_str()), (200, Some(state)), "{body}");
    }
    let (status, body) = call(Method::POST, "/v1/journeys/welcome/resume", &token, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("journey_state")), "{body}");

    // Every problem at once, with the field at fault.
    let mut broken = spec.clone();
    broken["steps"]["wait"]["next"] = "nowhere".into();
    broken["steps"]["bought"]["yes"] = "thanks-typo".into();
    let (status, body) = call(Method::PUT, "/v1/journeys/welcome", &token, Some(broken)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("invalid_journey")), "{body}");
    assert_eq!(
        body["error"]["message"],
        "journey is invalid: steps.bought: leads to \"thanks-typo\", which is not a step; steps.wait: leads to \"nowhere\", which is not a step"
    );
    let mut unknown = spec.clone();
    unknown["steps"]["wait"]["for_days"] = 2.into();
    let (status, body) = call(Method::PUT, "/v1/journeys/welcome", &token, Some(unknown)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_request")), "{body}");
    let (status, body) = call(Method::GET, "/v1/journeys/nope", &viewer, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("journey_not_found")), "{body}");

    let (status, body) = call(Method::POST, "/v1/journeys/welcome/end", &token, None).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("ended")), "{body}");
    assert!(engine.journey_positions_of(ann).unwrap().is_empty());
}

#[test]
fn journeys_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("tag.journey.json");
    let spec = serde_json::json!({
        "name": "Tag new customers, then tag them again a day later",
        "entry": {"type": "event", "event": "signed_up"},
        "start": "tag",
        "steps": {
            "tag": {"type": "update_profile", "set": {"stage": "new"}, "next": "wait"},
            "wait": {"type": "delay", "for_ms": DAY, "next": "again"},
            "again": {"type": "update_profile", "set": {"stage": "settled"}, "next": "done"},
            "done": {"type": "exit"}
        }
    });
    std::fs::write(&file, spec.to_string()).unwrap();
    let run = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--output", "json"]);
        let (ok, out, err) = baton_tests::baton(&data, &args);
        (ok, serde_json::from_str::<serde_json::Value>(&out).unwrap_or_default(), err)
    };
    let (ok, saved, err) = run(&["journey", "save", "tag", "--file", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!((saved["state"].as_str(), saved["latest_version"].as_u64()), (Some("draft"), Some(1)));
    let (ok, published, err) = run(&["journey", "publish", "tag"]);
    assert!(ok, "{err}");
    assert_eq!(published["state"], "live");
    for (action, state) in [("pause", "paused"), ("resume", "live")] {
        let (ok, answer, err) = run(&["journey", action, "tag"]);
        assert!(ok, "{err}");
        assert_eq!(answer["state"], state);
    }
    let (ok, list, _) = run(&["journey", "list"]);
    assert!(ok);
    assert_eq!(list[0]["id"], "tag");
    let (ok, view, _) = run(&["journey", "show", "tag"]);
    assert!(ok);
    assert_eq!(view["spec"]["start"], "tag");

    // What a user gets wrong is named, and nothing panics.
    let (ok, _, err) = run(&["journey", "publish", "tag", "--migrate", "wait"]);
    assert!(!ok);
    assert!(err.contains("--migrate \"wait\": write OLD=NEW"), "{err}");
    let (ok, _, err) = run(&["journey", "show", "nope"]);
    assert!(!ok);
    assert!(err.contains("no journey is named `nope`"), "{err}");
    std::fs::write(&file, "{\"name\": \"x\"}").unwrap();
    let (ok, _, err) = run(&["journey", "save", "tag", "--file", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("is not a journey"), "{err}");
    let (ok, calendar, err) = run(&["calendar", "--from", "2025-06-15", "--to", "2025-06-16"]);
    assert!(ok, "{err}");
    assert_eq!(
        (calendar["from"].as_str(), calendar["truncated"].as_bool()),
        (Some("2025-06-15"), Some(false))
    );
    let (ok, _, err) = run(&["calendar", "--from", "June"]);
    assert!(!ok);
    assert!(err.contains("`June` is not a day"), "{err}");
    let (ok, ended, err) = run(&["journey", "end", "tag"]);
    assert!(ok, "{err}");
    assert_eq!(ended["state"], "ended");
}

/// How many people go through [`prepare_two_reminders`]'s journey.
pub(crate) const REMINDED: usize = 80;

/// An engine over the store of `dir` (this suite's backend) at a fixed time.
pub(crate) fn engine_at(
    dir: &std::path::Path,
    at: i64,
) -> (std::sync::Arc<Engine>, std::sync::Arc<FixedClock>) {
    use std::sync::Arc;
    let storage = baton_tests::open_store(dir);
    let runtime = Arc::new(baton::Runtime::new(baton_tests::test_config(), storage.clone()).unwrap());
    let clock = Arc::new(FixedClock::at(at));
    (Arc::new(Engine::new(storage, runtime, clock.clone(), baton_tests::engine_config()).unwrap()), clock)
}

/// Publishes journey `two` (wait, message, wait, message, exit) sending to `vendor`, and lets
/// [`REMINDED`] people in at `now`, each waiting on the first timer. Returns them and the
/// idempotency keys their two messages go out under.
pub(crate) fn prepare_two_reminders(
    engine: &Engine,
    vendor: &baton_tests::Vendor,
    now: i64,
) -> (Vec<ProfileId>, std::collections::BTreeSet<String>) {
    let spec: JourneySpec = serde_json::from_value(serde_json::json!({
        "name": "Two reminders",
        "entry": {"type": "event", "event": "signed_up"},
        "start": "first-wait",
        "steps": {
            "first-wait": {"type": "delay", "for_ms": 1, "next": "first"},
            "first": {"type": "message", "campaign": "reminder-offer", "next": "second-wait"},
            "second-wait": {"type": "delay", "for_ms": 1, "next": "second"},
            "second": {"type": "message", "campaign": "thank-you", "next": "done"},
            "done": {"type": "exit"}
        }
    }))
    .unwrap();
    journey_campaigns_to(engine, &["reminder-offer", "thank-you"], &vendor.url("/send"));
    engine.storage().put_secret("ECHO_TOKEN", &baton::SecretValue::new("t"), &["127.0.0.1".into()]).unwrap();
    engine.save_journey("test", "two", spec).unwrap();
    engine.publish_journey("test", "two", None, &BTreeMap::new()).unwrap();
    let mut profiles = Vec::new();
    let mut events = Vec::new();
    for i in 0..REMINDED {
        let user = format!("u{i}");
        profiles.push(customer(engine, &user, serde_json::json!({"email": format!("{user}@x.test")}), true));
        events.push(user_event(&format!("s{i}"), &user, "signed_up", now));
    }
    engine.ingest_live(&events, now).unwrap();
    engine.drain_triggers().unwrap();
    assert_eq!(engine.journey_view("two").unwrap().waiting, REMINDED);
    let expected = profiles
        .iter()
        .flat_map(|p| {
            [
                format!("reminder-offer:{p}:journey:two:1:1:first"),
                format!("thank-you:{p}:journey:two:1:1:second"),
            ]
        })
        .collect();
    (profiles, expected)
}

/// Whether everyone has left journey `two` and every message went out.
pub(crate) fn two_reminders_finished(engine: &Engine) -> bool {
    engine.storage().outbox_len() == 0
        && engine.journey_view("two").unwrap().waiting == 0
        && ["reminder-offer", "thank-you"]
            .iter()
            .map(|c| engine.storage().deliveries(c).unwrap().len())
            .sum::<usize>()
            >= 2 * REMINDED
}

/// Checks the end of journey `two` after a kill: every profile passed every step, the vendor has
/// seen each step's idempotency key for each profile and no other, and each send finished
/// exactly once.
pub(crate) fn assert_two_reminders_done(
    engine: &Engine,
    vendor: &baton_tests::Vendor,
    profiles: &[ProfileId],
    expected: &std::collections::BTreeSet<String>,
) {
    use std::collections::BTreeSet;
    for profile in profiles {
        assert!(engine.journey_positions_of(*profile).unwrap().is_empty(), "{profile} is still inside");
    }
    let counts = counts(engine, "two", 1);
    assert_eq!(counts["done"].ended, BTreeMap::from([("completed".to_owned(), REMINDED as u64)]));
    for step in ["first-wait", "first", "second-wait", "second"] {
        assert_eq!((counts[step].entered, counts[step].passed), (REMINDED as u64, REMINDED as u64), "{step}");
    }
    assert_eq!(counts["first-wait"].waiting + counts["second-wait"].waiting, 0);
    let received: BTreeSet<String> =
        vendor.received().iter().map(|r| r.header("idempotency-key").unwrap().to_owned()).collect();
    assert_eq!(&received, expected, "each step's message reached the vendor for everyone, and nothing else");
    let mut finished = Vec::new();
    for campaign in ["reminder-offer", "thank-you"] {
        for delivery in engine.storage().deliveries(campaign).unwrap() {
            assert!(matches!(delivery.outcome, baton::SendOutcome::Delivered { .. }), "{delivery:?}");
            finished.push(delivery.idempotency_key);
        }
    }
    assert_eq!(finished.len(), 2 * REMINDED, "each send finished exactly once");
    assert_eq!(&finished.into_iter().collect::<BTreeSet<_>>(), expected);
}

/// kill -9 while timers fire and their messages go out: after a restart, every profile has
/// passed every step, the vendor has seen each step's idempotency key for each profile and no
/// other, and each send finished exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_timers_fire_loses_no_step_and_sends_nothing_twice() {
    let vendor = baton_tests::Vendor::start().await;
    vendor.set_delay_ms(3);
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let (profiles, expected) = prepare_two_reminders(&engine_at(dir.path(), now).0, &vendor, now);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_baton-journey-runner"))
        .envs(baton_tests::store_url(dir.path()).map(|url| ("BATON_STORE", url)))
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize;
    let kill_at = 10 + nanos % REMINDED;
    let waited = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while vendor.received().len() < kill_at {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(waited.is_ok(), "the child never reached {kill_at} requests");
    assert!(vendor.received().len() < 2 * REMINDED, "killed too late to test anything");

    // Restart after the dead worker's leases ran out; fire and deliver until nothing is left.
    let later = now + 10 * 60_000;
    let (engine, clock) = engine_at(dir.path(), later);
    let max_backoff = baton_tests::engine_config().delivery.max_backoff_ms;
    for round in 1..=40 {
        let ticked = engine.tick().unwrap().journey_moves;
        engine.deliver_due().await.unwrap();
        if ticked == 0 && two_reminders_finished(&engine) {
            break;
        }
        clock.set(later + round * max_backoff);
    }
    assert_two_reminders_done(&engine, &vendor, &profiles, &expected);
}

#[test]
fn delays_until_a_time_of_day_in_the_profiles_zone_and_relative_to_a_date_attribute() {
    let (engine, clock, _dir, ann, bob) = setup();
    // Ann lives in Tokyo (UTC+9), Bob has no zone: the engine's default (UTC in the tests).
    engine.storage().update_profile(ann, NOW, |p| p.timezone = Some("Asia/Tokyo".into())).unwrap();
    engine
        .storage()
        .update_profile(bob, NOW, |p| {
            p.attributes.insert("renewal_date".into(), "2025-06-20".into());
        })
        .unwrap();
    let spec: JourneySpec = serde_json::from_value(serde_json::json!({
        "name": "Morning, then three days before renewal",
        "entry": {"type": "event", "event": "signed_up"},
        "start": "morning",
        "steps": {
            "morning": {"type": "delay", "until_time_of_day": "09:00", "next": "hello"},
            "hello": {"type": "message", "campaign": "welcome-email", "next": "renewal"},
            "renewal": {"type": "delay", "relative_to": {"attribute": "renewal_date", "offset_ms": -3 * DAY}, "next": "remind"},
            "remind": {"type": "message", "campaign": "reminder-offer", "next": "done"},
            "done": {"type": "exit"}
        }
    }))
    .unwrap();
    engine.save_journey("test", "timed", spec).unwrap();
    engine.publish_journey("test", "timed", None, &BTreeMap::new()).unwrap();
    // NOW is 2025-06-15T15:06:40Z: 00:06 on the 16th in Tokyo.
    ingest(&engine, "s1", "ann", "signed_up", NOW);
    ingest(&engine, "s2", "bob", "signed_up", NOW);
    let due = |profile: ProfileId| engine.journey_positions_of(profile).unwrap()[0].waiting.due().unwrap();
    let tokyo_nine = jiff::Timestamp::from_second(1_750_032_000).unwrap().as_millisecond(); // 2025-06-16T00:00Z
    assert_eq!(due(ann), tokyo_nine, "09:00 in Tokyo on the 16th is midnight UTC");
    let utc_nine = jiff::Timestamp::from_second(1_750_064_400).unwrap().as_millisecond(); // 2025-06-16T09:00Z
    assert_eq!(due(bob), utc_nine, "09:00 UTC today has passed: tomorrow's");

    clock.set(utc_nine);
    assert_eq!(engine.tick().unwrap().journey_moves, 2);
    // Bob waits until three days before 2025-06-20: the 17th, midnight UTC. Ann has no renewal
    // date: her delay is skipped, counted, and she goes on.
    assert_eq!(due(bob), jiff::Timestamp::from_second(1_750_118_400).unwrap().as_millisecond());
    assert!(engine.journey_positions_of(ann).unwrap().is_empty());
    assert_eq!(sent(&engine)[&ann], ["welcome-email", "reminder-offer"]);
    assert_eq!(counts(&engine, "timed", 1)["renewal"].skipped, BTreeMap::from([("no_date".to_owned(), 1)]));
    // A renewal date already within three days goes on at once.
    clock.set(NOW + 5 * DAY);
    assert_eq!(engine.tick().unwrap().journey_moves, 1);
    assert_eq!(sent(&engine)[&bob], ["welcome-email", "reminder-offer"]);
}

#[test]
fn a_segment_entry_admits_and_branches_read_membership_and_segment_rules() {
    let (engine, _clock, _dir, ann, bob) = setup();
    let conditions =
        engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash();
    let buyers = baton::SegmentSpec {
        id: "buyers".into(),
        description: String::new(),
        definition: baton::SegmentDefinition::Rule {
            plugin: conditions.clone(),
            config: serde_json::json!({"event": "order_completed", "count": {"op": "gte", "value": 1}}),
        },
    };
    engine.save_segment("test", buyers).unwrap();
    let vip = serde_json::json!({"attribute": "tier", "op": "eq", "value": "vip"});
    let spec: JourneySpec = serde_json::from_value(serde_json::json!({
        "name": "New buyers",
        "entry": {"type": "segment", "segment": "buyers"},
        "start": "vip",
        "steps": {
            "vip": {"type": "branch", "condition": {"type": "rule", "plugin": conditions.to_string(), "config": vip},
                    "yes": "thanks", "no": "member"},
            "member": {"type": "branch", "condition": {"type": "in_segment", "segment": "buyers"},
                       "yes": "reminder", "no": "done"},
            "thanks": {"type": "message", "campaign": "thank-you", "next": "done"},
            "reminder": {"type": "message", "campaign": "reminder-offer", "next": "done"},
            "done": {"type": "exit"}
        }
    }))
    .unwrap();
    engine.save_journey("test", "buyers", spec).unwrap();
    engine.publish_journey("test", "buyers", None, &BTreeMap::new()).unwrap();
    engine
        .storage()
        .update_profile(ann, NOW, |p| {
            p.attributes.insert("tier".into(), "vip".into());
        })
        .unwrap();
    // Ordering makes each a member; the entry admits them in the same drain.
    ingest(&engine, "o1", "ann", "order_completed", NOW);
    ingest(&engine, "o2", "bob", "order_completed", NOW);
    assert_eq!(
        sent(&engine),
        BTreeMap::from([(ann, vec!["thank-you".into()]), (bob, vec!["reminder-offer".into()])])
    );
    // A second order is no second entry into the segment: nothing more.
    ingest(&engine, "o3", "bob", "order_completed", NOW + 1);
    assert_eq!(sent(&engine)[&bob].len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calendar_shows_scheduled_runs_and_journey_waits_by_day() {
    let (engine, _clock, _dir, _ann, _bob) = setup();
    let mut daily = baton_tests::welcome_campaign();
    daily.id = "daily-digest".into();
    daily.trigger = Trigger::Batch { every_ms: Some(DAY as u64) };
    baton_tests::activate(
        &engine,
        daily,
        serde_json::json!({}),
        false,
        "http://127.0.0.1:9/send",
        baton_tests::echo_grants(),
    );
    engine.save_journey("test", "welcome", welcome_series()).unwrap();
    engine.publish_journey("test", "welcome", None, &BTreeMap::new()).unwrap();
    // NOW is 2025-06-15T15:06:40Z: both wait until the 17th.
    ingest(&engine, "s1", "ann", "signed_up", NOW);
    ingest(&engine, "s2", "bob", "signed_up", NOW);

    let calendar = engine.calendar(Some("2025-06-15"), Some("2025-06-18")).unwrap();
    assert!(!calendar.truncated);
    let dates: Vec<&str> = calendar.days.iter().map(|d| d.date.as_str()).collect();
    assert_eq!(dates, ["2025-06-15", "2025-06-16", "2025-06-17", "2025-06-18"]);
    for day in &calendar.days {
        assert_eq!(day.campaign_runs.len(), 1, "{day:?}");
        assert_eq!((day.campaign_runs[0].campaign.as_str(), day.campaign_runs[0].runs), ("daily-digest", 1));
    }
    let seventeenth = &calendar.days[2];
    assert_eq!(seventeenth.journey_steps.len(), 1);
    let due = &seventeenth.journey_steps[0];
    assert_eq!((due.journey.as_str(), due.version, due.step.as_str(), due.due), ("welcome", 1, "wait", 2));
    assert_eq!(due.then, ["bought (branch)"]);
    assert!(calendar.days.iter().filter(|d| d.date != "2025-06-17").all(|d| d.journey_steps.is_empty()));

    // A range that ends before it starts is empty; a longer one than 366 days is cut, and says so.
    assert!(engine.calendar(Some("2025-06-18"), Some("2025-06-15")).unwrap().days.is_empty());
    let long = engine.calendar(Some("2025-01-01"), Some("2027-01-01")).unwrap();
    assert_eq!((long.truncated, long.to.as_str(), long.days.len()), (true, "2026-01-01", 366));
    let err = engine.calendar(Some("2025-02-30"), Some("2025-03-01")).unwrap_err();
    assert_eq!(err.to_string(), "`2025-02-30` is not a day: write YYYY-MM-DD, for example 2025-06-30");

    // Over the API, for any reader.
    let engine = std::sync::Arc::new(engine);
    let (viewer, _) = engine.storage().create_token("boss", baton::Role::Viewer, 1).unwrap();
    let base = baton_tests::serve(engine.clone(), baton::ApiConfig::default()).await;
    let answer = baton_tests::http()
        .get(format!("{base}/v1/calendar?from=2025-06-17&to=2025-06-17"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["days"][0]["journey_steps"][0]["due"], 2, "{body}");
    let answer = baton_tests::http()
        .get(format!("{base}/v1/calendar?from=2025-13-01"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_walks_one_person_on_a_simulated_clock_and_writes_nothing() {
    let (engine, _clock, _dir, ann, _bob) = setup();
    engine.save_journey("test", "welcome", welcome_series()).unwrap();
    // A draft: the dry run walks the newest version.
    let run = engine.dry_run_journey("welcome", ann, None, 30).unwrap();
    let notes: Vec<(i64, &str, &str)> =
        run.steps.iter().map(|s| (s.at - NOW, s.step.as_str(), s.note.as_str())).collect();
    assert_eq!(
        notes,
        [
            (0, "welcome", "enters"),
            (0, "welcome", "would send welcome-email: welcome-email"),
            (0, "welcome", "goes on to wait"),
            (0, "wait", "waits until 2025-06-17T15:06:40Z"),
            (2 * DAY, "wait", "goes on to bought"),
            (2 * DAY, "bought", "goes on to reminder"),
            (2 * DAY, "reminder", "would send reminder-offer: reminder-offer"),
            (2 * DAY, "reminder", "goes on to done"),
            (2 * DAY, "done", "leaves the journey: completed"),
        ]
    );
    assert_eq!((run.outcome, run.waiting.clone()), (Some(baton::Outcome::Completed), None));
    // Nothing was written or sent.
    assert!(engine.storage().pending_sends().unwrap().is_empty());
    assert!(engine.journey_positions_of(ann).unwrap().is_empty());
    assert!(engine.journey_view("welcome").unwrap().counts.is_empty());
    // A horizon shorter than the delay leaves the person waiting, and says where.
    let short = engine.dry_run_journey("welcome", ann, None, 1).unwrap();
    assert_eq!((short.outcome, short.waiting), (None, Some(("wait".to_owned(), NOW + 2 * DAY))));
    let err = engine.dry_run_journey("welcome", ann, None, 0).unwrap_err();
    assert_eq!(err.to_string(), "days: 0 is not 1 to 366");

    // Over the API, by email; an unknown person is a 404 that names them.
    let engine = std::sync::Arc::new(engine);
    let (token, _) = engine.storage().create_token("ops", baton::Role::Orchestrator, 1).unwrap();
    let base = baton_tests::serve(engine.clone(), baton::ApiConfig::default()).await;
    let client = baton_tests::http();
    let answer = client
        .post(format!("{base}/v1/journeys/welcome/dry-run"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"who": "ANN@example.com", "days": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        (body["outcome"].as_str(), body["steps"].as_array().map(Vec::len)),
        (Some("completed"), Some(9)),
        "{body}"
    );
    let answer = client
        .post(format!("{base}/v1/journeys/welcome/dry-run"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"who": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 404);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["message"], "no profile has the user id `nobody`");
}

#[test]
fn a_scheduled_entry_admits_a_segments_members_once_per_slot() {
    let (engine, clock, _dir, ann, bob) = setup();
    let manual = baton::SegmentSpec {
        id: "vips".into(),
        description: String::new(),
        definition: baton::SegmentDefinition::Manual {},
    };
    engine.save_segment("test", manual).unwrap();
    engine.edit_segment_members("test", "vips", &["ann".to_owned(), "bob".to_owned()], &[]).unwrap();
    for (id, reentry) in [("daily-once", "once"), ("daily-always", "always")] {
        let spec: JourneySpec = serde_json::from_value(serde_json::json!({
            "name": "A daily round over the VIPs",
            "entry": {"type": "schedule", "segment": "vips", "every_ms": DAY},
            "reentry": reentry,
            "start": "mark",
            "steps": {
                "mark": {"type": "update_profile", "set": {"greeted": true}, "next": "done"},
                "done": {"type": "exit"}
            }
        }))
        .unwrap();
        engine.save_journey("test", id, spec).unwrap();
        engine.publish_journey("test", id, None, &BTreeMap::new()).unwrap();
    }
    let entries =
        |id: &str, who: ProfileId| engine.storage().journey_entry(id, who).unwrap().map_or(0, |e| e.entries);
    assert_eq!(engine.tick().unwrap().journey_moves, 4);
    assert_eq!([entries("daily-once", ann), entries("daily-always", bob)], [1, 1]);
    // The same day's slot runs once, however often the clock ticks.
    clock.set(NOW + HOUR);
    assert_eq!(engine.tick().unwrap().journey_moves, 0);
    // The next day: `always` admits them again, `once` does not.
    clock.set(NOW + DAY);
    assert_eq!(engine.tick().unwrap().journey_moves, 2);
    assert_eq!(
        [entries("daily-once", ann), entries("daily-always", ann), entries("daily-always", bob)],
        [1, 2, 2]
    );
    let greeted = engine.storage().profile(ann).unwrap().unwrap().attributes["greeted"].clone();
    assert_eq!(greeted, true);
    // The calendar shows each day's slot and the step they enter at.
    let calendar = engine.calendar(Some("2025-06-16"), Some("2025-06-16")).unwrap();
    let entries = &calendar.days[0].journey_entries;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        (entries[0].segment.as_str(), entries[0].runs, entries[0].start.as_str()),
        ("vips", 1, "mark (update_profile)")
    );
    assert_eq!(entries[0].first_at, jiff::Timestamp::from_second(1_750_032_000).unwrap().as_millisecond());
    // A schedule more often than once a minute is refused.
    let mut fast = welcome_series();
    fast.entry = Entry::Schedule { segment: "vips".into(), every_ms: 1_000 };
    let err = engine.save_journey("test", "fast", fast).unwrap_err();
    assert_eq!(err.to_string(), "journey is invalid: entry.every_ms: at least 60000 (a minute)");
}
