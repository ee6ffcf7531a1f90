//! The decision to send is made again at the moment of sending. A send that waits (for quiet
//! hours, for a retry, for a quarantined adapter) leaves only if the person may still be
//! messaged and the campaign still runs: an opt-out or an ended campaign cancels it with its
//! skip, an erasure takes it away, a pause holds it, and a hold spends no attempt.

use std::sync::Arc;

use baton::{CampaignState, Clock, Engine, FixedClock, ProfileUpdate, QuietHours, SkipReason};
use baton_tests::{Vendor, activate, customer, echo_grants, user_event, welcome_campaign};

const NOW: i64 = 1_750_000_000_000;
const MINUTE: i64 = 60_000;

/// An engine over `dir` (reopened after a "restart" with the same directory).
fn open(dir: &std::path::Path, config: baton::EngineConfig) -> (Arc<Engine>, Arc<FixedClock>) {
    let storage = baton_tests::open_store(dir);
    let runtime = Arc::new(baton::Runtime::new(baton_tests::test_config(), storage.clone()).unwrap());
    let clock = Arc::new(FixedClock::at(NOW));
    (Arc::new(Engine::new(storage, runtime, clock.clone(), config).unwrap()), clock)
}

fn config(edit: impl FnOnce(&mut baton::EngineConfig)) -> baton::EngineConfig {
    let mut config = baton_tests::engine_config();
    config.delivery = baton::DeliveryConfig { base_backoff_ms: MINUTE, ..baton_tests::delivery_config() };
    edit(&mut config);
    config
}

/// The welcome campaign sending to the vendor stand-in, and Ada, who opted in.
fn ready(
    dir: &std::path::Path,
    vendor: &Vendor,
    config: baton::EngineConfig,
) -> (Arc<Engine>, Arc<FixedClock>) {
    let (engine, clock) = open(dir, config);
    activate(&engine, welcome_campaign(), serde_json::json!({}), false, &vendor.url("/send"), echo_grants());
    engine.storage().put_secret("ECHO_TOKEN", &baton::SecretValue::new("t"), &["127.0.0.1".into()]).unwrap();
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    (engine, clock)
}

fn sign_up(engine: &Engine, at: i64) {
    let event = user_event("evt-1", "ada", "signed_up", at);
    engine.storage().ingest(&[event], at).unwrap();
    let stored = engine.storage().event("evt-1").unwrap().unwrap();
    assert_eq!(engine.on_events(&[stored]).unwrap().queued, 1);
}

fn ada(engine: &Engine) -> baton::ProfileId {
    engine.storage().profile_by_identity(&baton::Identity::User("ada".into())).unwrap().unwrap().id
}

/// The skips recorded at the moment of sending (not those of the first decision).
fn send_time_skips(engine: &Engine) -> Vec<(SkipReason, String)> {
    engine.storage().skips("welcome").unwrap().into_iter().map(|s| (s.reason, s.detail)).collect()
}

/// A first attempt the vendor answers 503: the send waits a minute for its retry.
async fn waiting_for_a_retry(vendor: &Vendor, engine: &Arc<Engine>) {
    vendor.answer(&[(503, &[])]);
    sign_up(engine, NOW);
    assert_eq!(engine.deliver_due().await.unwrap().retried, 1);
    assert_eq!(vendor.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_while_a_send_waits_for_its_retry_cancels_it() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = ready(dir.path(), &vendor, config(|_| {}));
    waiting_for_a_retry(&vendor, &engine).await;

    let unsubscribe = ProfileUpdate {
        consents: [("email:marketing".to_owned(), baton::ConsentState::Denied)].into(),
        ..ProfileUpdate::default()
    };
    engine.update_profile("token:support", ada(&engine), &unsubscribe).unwrap();
    clock.set(NOW + 2 * MINUTE);
    let report = engine.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.cancelled, report.delivered), (1, 1, 0));
    assert_eq!(vendor.received().len(), 1, "nothing more reached the vendor");
    assert_eq!(engine.storage().outbox_len(), 0);
    assert_eq!(
        send_time_skips(&engine),
        vec![(SkipReason::NoConsent, "at the moment of sending: no email:marketing consent".to_owned())]
    );
    assert!(
        engine.storage().deliveries("welcome").unwrap().is_empty(),
        "no delivery record claims it was sent"
    );
    // Caps and priorities no longer count it.
    assert!(engine.storage().sends_to(ada(&engine), 0).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_during_quiet_hours_cancels_the_delayed_send_in_the_morning() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(|c| c.policies.quiet_hours = Some(QuietHours { start_hour: 21, end_hour: 8 }));
    let (engine, clock) = ready(dir.path(), &vendor, config);
    // 22:30 UTC: quiet; the send waits until 08:00.
    let evening = NOW - NOW.rem_euclid(86_400_000) + 22 * 3_600_000 + 30 * MINUTE;
    clock.set(evening);
    sign_up(&engine, evening);
    assert_eq!(engine.storage().pending_sends().unwrap().len(), 1);

    let suppress = ProfileUpdate {
        suppressions: [("email".to_owned(), Some(baton::SuppressionReason::Unsubscribed))].into(),
        ..ProfileUpdate::default()
    };
    engine.update_profile("token:support", ada(&engine), &suppress).unwrap();
    clock.set(evening + 10 * 3_600_000);
    let report = engine.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.cancelled), (1, 1));
    assert!(vendor.received().is_empty());
    let skips = send_time_skips(&engine);
    assert_eq!(skips.last().map(|s| s.0), Some(SkipReason::Unsubscribed), "{skips:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_while_a_send_waits_takes_it_away() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = ready(dir.path(), &vendor, config(|_| {}));
    waiting_for_a_retry(&vendor, &engine).await;
    engine.erase_profile("token:dpo", ada(&engine)).unwrap();
    clock.set(NOW + 2 * MINUTE);
    assert_eq!(engine.deliver_due().await.unwrap().claimed, 0);
    assert_eq!(vendor.received().len(), 1);
    assert_eq!(engine.storage().outbox_len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_holds_a_waiting_send_without_spending_attempts_and_an_end_cancels_it() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = ready(dir.path(), &vendor, config(|_| {}));
    waiting_for_a_retry(&vendor, &engine).await;
    engine.transition("token:ops", "welcome", CampaignState::Paused).unwrap();

    // Paused for ten minutes: held each time it comes due, one skip record, no attempt spent.
    for minute in 2..12 {
        clock.set(NOW + minute * MINUTE);
        let report = engine.deliver_due().await.unwrap();
        assert_eq!((report.claimed, report.held), (1, 1), "minute {minute}");
    }
    assert_eq!(vendor.received().len(), 1);
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!(pending[0].attempts, 1, "only the vendor's 503 counted");
    let skips = send_time_skips(&engine);
    assert_eq!(skips.len(), 1, "{skips:?}");
    assert_eq!(skips[0].0, SkipReason::CampaignPaused);

    // Active again: it goes out.
    engine.transition("token:ops", "welcome", CampaignState::Active).unwrap();
    clock.set(NOW + 13 * MINUTE);
    assert_eq!(engine.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(vendor.received().len(), 2);

    // A second send waits; the campaign ends: it is cancelled.
    vendor.answer(&[(503, &[])]);
    let event = user_event("evt-2", "ada", "signed_up", NOW + 14 * MINUTE);
    clock.set(NOW + 14 * MINUTE);
    engine.storage().ingest(&[event], NOW + 14 * MINUTE).unwrap();
    let stored = engine.storage().event("evt-2").unwrap().unwrap();
    assert_eq!(engine.on_events(&[stored]).unwrap().queued, 1);
    assert_eq!(engine.deliver_due().await.unwrap().retried, 1);
    engine.transition("token:ops", "welcome", CampaignState::Ended).unwrap();
    clock.set(NOW + 20 * MINUTE);
    assert_eq!(engine.deliver_due().await.unwrap().cancelled, 1);
    assert_eq!(vendor.received().len(), 3);
    assert_eq!(send_time_skips(&engine).last().map(|s| s.0), Some(SkipReason::CampaignEnded));
    assert_eq!(engine.storage().outbox_len(), 0);
}

/// A quarantined adapter holds its sends for as long as it stays quarantined (an hour here),
/// their attempts unspent, and they go out once an operator enables it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_adapters_sends_wait_an_hour_with_their_attempts_intact() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(|c| c.delivery.max_attempts = 3);
    let channel = {
        let (engine, _clock) = ready(dir.path(), &vendor, config.clone());
        sign_up(&engine, NOW);
        let channel = engine.storage().binding("welcome", &baton::Slot::Channel).unwrap().unwrap().plugin;
        // The adapter failed until the runtime quarantined it (as quarantine.rs shows); here
        // the record says so, and the restart below loads it quarantined.
        let quarantine = baton::Quarantine { since: NOW, reason: "3 failed calls in a row".into() };
        engine.storage().set_quarantine(&channel, Some(quarantine), "system", NOW).unwrap();
        channel
    };
    let (engine, clock) = open(dir.path(), config);
    for minute in 0..=60 {
        clock.set(NOW + minute * MINUTE);
        let report = engine.deliver_due().await.unwrap();
        assert_eq!((report.held, report.dead_lettered), (1, 0), "minute {minute}");
    }
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!((pending.len(), pending[0].attempts), (1, 0), "an hour held, no attempt spent");
    assert!(engine.storage().dead_letters("welcome").unwrap().is_empty());
    assert!(vendor.received().is_empty());

    engine.enable_plugin("token:ops", &channel).unwrap();
    clock.set(NOW + 62 * MINUTE);
    assert_eq!(engine.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(vendor.received().len(), 1);
}

/// Ingests `name` for Ada at the clock's time and runs the campaigns it triggers.
fn event(engine: &Engine, clock: &FixedClock, id: &str, name: &str) -> baton::RunReport {
    let at = clock.now_ms();
    let event = user_event(id, "ada", name, at);
    engine.storage().ingest(&[event], at).unwrap();
    engine.on_events(&[engine.storage().event(id).unwrap().unwrap()]).unwrap()
}

/// The frequency cap counts the sends around the moment of sending: a send that waited for its
/// retry past the cap's window, while another campaign's send was queued (legitimately, as the
/// first had fallen out of the window), is cancelled `frequency_cap`, so Ada gets one message in
/// the hour, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_waited_past_the_cap_window_is_capped_when_it_would_leave() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hourly = baton::RollingCap { max: 1, window_ms: 60 * MINUTE };
    let config = config(|c| {
        c.policies.frequency_caps = [("email".to_owned(), hourly)].into();
        c.delivery.base_backoff_ms = 90 * MINUTE;
    });
    let (engine, clock) = ready(dir.path(), &vendor, config);
    let mut promo = welcome_campaign();
    promo.id = "promo".into();
    promo.trigger = baton::Trigger::Event { event: "viewed_pricing".into(), filter: Default::default() };
    activate(&engine, promo, serde_json::json!({}), false, &vendor.url("/send"), echo_grants());
    waiting_for_a_retry(&vendor, &engine).await;

    clock.set(NOW + 61 * MINUTE);
    assert_eq!(event(&engine, &clock, "e-promo", "viewed_pricing").queued, 1);
    clock.set(NOW + 90 * MINUTE);
    let report = engine.deliver_due().await.unwrap();
    assert_eq!((report.claimed, report.delivered, report.cancelled), (2, 1, 1), "{report:?}");
    assert_eq!(engine.storage().deliveries("promo").unwrap().len(), 1);
    assert_eq!(
        send_time_skips(&engine),
        vec![(
            SkipReason::FrequencyCap,
            "at the moment of sending: 1 email messages in the last 3600000 ms (cap 1)".to_owned()
        )]
    );
}

/// Two campaigns want Ada within the arbitration window; whichever is judged first, only the
/// higher-priority one is delivered, and the other is skipped `lower_priority`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_campaigns_for_one_person_deliver_only_the_higher_priority_in_either_order() {
    for lower_first in [true, false] {
        let vendor = Vendor::start().await;
        let dir = tempfile::tempdir().unwrap();
        let config = config(|c| c.policies.arbitration_window_ms = 5 * MINUTE);
        let (engine, clock) = ready(dir.path(), &vendor, config);
        let mut promo = welcome_campaign();
        promo.id = "promo".into();
        promo.priority = 10;
        promo.trigger = baton::Trigger::Event { event: "viewed_pricing".into(), filter: Default::default() };
        activate(&engine, promo, serde_json::json!({}), false, &vendor.url("/send"), echo_grants());

        let order =
            if lower_first { ["signed_up", "viewed_pricing"] } else { ["viewed_pricing", "signed_up"] };
        for (i, name) in order.into_iter().enumerate() {
            clock.set(NOW + i as i64 * MINUTE);
            event(&engine, &clock, &format!("e{i}"), name);
            // Nothing leaves inside the window.
            assert_eq!(engine.deliver_due().await.unwrap().claimed, 0, "lower first: {lower_first}");
        }
        clock.set(NOW + 7 * MINUTE);
        engine.deliver_due().await.unwrap();
        let delivered = |campaign: &str| engine.storage().deliveries(campaign).unwrap().len();
        assert_eq!((delivered("promo"), delivered("welcome")), (1, 0), "lower first: {lower_first}");
        assert_eq!(vendor.received().len(), 1);
        let skips = engine.storage().skips("welcome").unwrap();
        assert_eq!(skips.len(), 1, "{skips:?}");
        assert_eq!(skips[0].reason, SkipReason::LowerPriority);
        assert!(skips[0].detail.contains("`promo` (priority 10)"), "{}", skips[0].detail);
    }
}

/// Swaps the welcome campaign's channel to the first-party webhook adapter posting to `url`.
fn swap_to_webhook(engine: &Engine, url: &str, grants: baton::Grants) {
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap().hash();
    let config = serde_json::json!({ "url": url });
    engine.bind("token:ops", "welcome", baton::Slot::Channel, webhook, config, grants).unwrap();
}

/// Another vendor's host, which the queued sends were not granted.
fn another_host() -> baton::Grants {
    baton::Grants { allowed_hosts: vec!["hooks.example.com".into()], secrets: vec![] }
}

/// A campaign swapped to another vendor keeps the sends queued before the swap on the adapter,
/// config and grants they were queued with: they are delivered, not refused for the new host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_keeps_queued_sends_on_the_adapter_and_grants_they_were_queued_with() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = ready(dir.path(), &vendor, config(|_| {}));
    waiting_for_a_retry(&vendor, &engine).await;
    swap_to_webhook(&engine, "https://hooks.example.com/baton", another_host());
    clock.set(NOW + 2 * MINUTE);
    let report = engine.deliver_due().await.unwrap();
    assert_eq!((report.delivered, report.rejected), (1, 0), "{report:?}");
    assert_eq!(vendor.received().len(), 2, "the queued send went to the adapter it was queued for");
}

/// An adapter that queued sends or dead letters still need is removed only by an explicit
/// choice, which records the queued sends as rejected and discards the dead letters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_with_queued_sends_is_removed_only_when_asked_to_drop_them() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, _clock) = ready(dir.path(), &vendor, config(|_| {}));
    waiting_for_a_retry(&vendor, &engine).await;
    let echo = engine.storage().binding("welcome", &baton::Slot::Channel).unwrap().unwrap().plugin;
    swap_to_webhook(&engine, "https://hooks.example.com/baton", another_host());

    let err = engine.remove_plugin("token:dev", &echo, false).unwrap_err();
    assert!(err.to_string().contains("is the adapter of 1 queued sends and 0 dead letters"), "{err}");
    assert_eq!(engine.storage().outbox_len(), 1, "refused: nothing changed");
    engine.remove_plugin("token:dev", &echo, true).unwrap();
    assert_eq!(engine.storage().outbox_len(), 0);
    let deliveries = engine.storage().deliveries("welcome").unwrap();
    assert_eq!(
        deliveries[0].outcome,
        baton::SendOutcome::Rejected { reason: "its channel plugin was removed by token:dev".into() }
    );
    let audit = engine.storage().audit_log(5).unwrap();
    assert!(audit.iter().any(|r| r.action == "plugin_sends_dropped"), "{audit:?}");
}

/// A delivered marketing message carries its recipient's signed unsubscribe link; the one-click
/// POST a mail provider sends for the recipient (RFC 8058) records the opt-out with the link as
/// its source, and the next marketing send is skipped `no_consent`. A tampered or expired link
/// unsubscribes nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_click_unsubscribe_from_a_delivered_message_stops_the_next_marketing_send() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (engine, clock) = ready(dir.path(), &vendor, config(|_| {}));
    let base = baton_tests::serve(engine.clone(), baton::ApiConfig::default()).await;
    engine.set_public_url(&base);
    // The webhook adapter posts the message's data, where the link is.
    swap_to_webhook(&engine, &vendor.url("/hook"), echo_grants());
    sign_up(&engine, NOW);
    assert_eq!(engine.deliver_due().await.unwrap().delivered, 1);
    let sent: serde_json::Value = serde_json::from_str(&vendor.received()[0].body).unwrap();
    let url = sent["data"]["unsubscribe_url"].as_str().unwrap_or_else(|| panic!("{sent}")).to_owned();
    assert!(url.starts_with(&format!("{base}/u/")), "{url}");

    let client = baton_tests::http();
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Unsubscribe from all email"));
    // Ada edits her own link to name Bob, keeping her signature; or bends the signature.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    customer(&engine, "bob", serde_json::json!({"email": "bob@example.com"}), true);
    let bob = engine.storage().profile_by_identity(&baton::Identity::User("bob".into())).unwrap().unwrap().id;
    let (prefix, token) = url.rsplit_once('/').unwrap();
    let (payload, mac) = token.split_once('.').unwrap();
    let payload = String::from_utf8(b64.decode(payload).unwrap()).unwrap();
    let (_, rest) = payload.split_once('|').unwrap();
    let for_bob = format!("{prefix}/{}.{mac}", b64.encode(format!("{bob}|{rest}")));
    let mut bent = mac.as_bytes().to_vec();
    bent[3] = if bent[3] == b'A' { b'B' } else { b'A' };
    let bent = format!("{prefix}/{}.{}", b64.encode(&payload), String::from_utf8(bent).unwrap());
    for forged in [for_bob, bent] {
        let answer = post_form(&client, &forged, "List-Unsubscribe=One-Click").await;
        assert_eq!(answer, 404, "{forged}");
    }
    for person in [ada(&engine), bob] {
        let profile = engine.storage().profile(person).unwrap().unwrap();
        assert_eq!(profile.consent("email", "marketing"), Some(baton::ConsentState::Granted));
    }

    let clicked = post_form(&client, &url, "List-Unsubscribe=One-Click").await;
    assert_eq!(clicked, 200);
    let profile = engine.storage().profile(ada(&engine)).unwrap().unwrap();
    assert_eq!(profile.consent("email", "marketing"), Some(baton::ConsentState::Denied));
    assert_eq!(profile.consent_history.last().unwrap().source, "unsubscribe_link");

    let report = event(&engine, &clock, "evt-2", "signed_up");
    assert_eq!(report.skipped.get(&SkipReason::NoConsent), Some(&1), "{report:?}");

    // The page's second button leaves the whole channel; a field a browser or provider adds
    // does not stand in the way.
    let everything = post_form(&client, &url, "scope=channel&submit=1").await;
    assert_eq!(everything, 200);
    let profile = engine.storage().profile(ada(&engine)).unwrap().unwrap();
    assert!(profile.suppressions.contains_key("email"), "{profile:?}");
    let audit = engine.storage().audit_log(10).unwrap();
    assert_eq!(audit.iter().filter(|r| r.action == "unsubscribed" && r.actor == "recipient").count(), 2);

    // A link works for ninety days, not for ever.
    clock.set(NOW + baton::LINK_VALID_MS + 1);
    assert_eq!(client.get(&url).send().await.unwrap().status().as_u16(), 404);
}

/// Posts a form as a browser or a mail provider does; the answer's status.
async fn post_form(client: &reqwest::Client, url: &str, form: &'static str) -> u16 {
    let request = client.post(url).header("content-type", "application/x-www-form-urlencoded").body(form);
    request.send().await.unwrap().status().as_u16()
}
