//! Saved segments kept current: built once, then judged again only for what changed and when a
//! window passes (with a controllable clock, no waiting), with entries and exits recorded as
//! events that campaigns trigger on; the incremental membership always equals a full rebuild.

use std::collections::BTreeSet;

use baton::{Engine, Identity, ProfileId, SavedSegment, SegmentDefinition, SegmentSpec, SegmentState};
use baton_tests::{engine, fixture, user_event};

const NOW: i64 = 1_750_000_000_000;
const DAY: i64 = 86_400_000;

fn spec(id: &str, plugin: baton::ContentHash, config: serde_json::Value) -> SegmentSpec {
    SegmentSpec {
        id: id.into(),
        description: String::new(),
        definition: SegmentDefinition::Rule { plugin, config },
    }
}

fn conditions(engine: &Engine) -> baton::ContentHash {
    engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap().hash()
}

fn members(engine: &Engine, id: &str) -> BTreeSet<ProfileId> {
    engine.segment_members(id, None, usize::MAX).unwrap().into_iter().map(|m| m.profile).collect()
}

fn profile(engine: &Engine, user: &str) -> ProfileId {
    engine.storage().profile_by_identity(&Identity::User(user.into())).unwrap().unwrap().id
}

/// The profile's segment events, as `(name, segment, at)`.
fn moves(engine: &Engine, id: ProfileId) -> Vec<(String, String, i64)> {
    engine
        .storage()
        .events_of(id)
        .unwrap()
        .into_iter()
        .filter(|e| e.name.starts_with("segment_"))
        .map(|e| (e.name, e.properties["segment"].as_str().unwrap().to_owned(), e.timestamp))
        .collect()
}

fn recent_buyers(plugin: baton::ContentHash) -> SegmentSpec {
    spec(
        "recent-buyers",
        plugin,
        serde_json::json!({"event": "order_completed", "count": {"op": "gte", "value": 1}, "within_ms": 30 * DAY}),
    )
}

#[test]
fn a_profile_enters_on_the_event_that_qualifies_it_and_leaves_when_the_window_passes() {
    let (engine, clock, _dir) = engine();
    let plugin = conditions(&engine);
    for user in ["ann", "bob"] {
        baton_tests::customer(&engine, user, serde_json::json!({"plan": "pro"}), false);
    }
    let (segment, created) = engine.save_segment("test", recent_buyers(plugin)).unwrap();
    assert!(created);
    assert_eq!((segment.state, segment.members, segment.version), (SegmentState::Live, 0, 1));

    // Bob's page view is nothing the segment reads: he is not even marked for it.
    engine.ingest_live(&[user_event("p1", "bob", "page_viewed", NOW)], NOW).unwrap();
    assert_eq!(engine.storage().changed_profile_count(), 0);

    engine.ingest_live(&[user_event("o1", "ann", "order_completed", NOW)], NOW).unwrap();
    assert_eq!(engine.storage().changed_profile_count(), 1);
    engine.drain_triggers().unwrap();
    let ann = profile(&engine, "ann");
    assert_eq!(members(&engine, "recent-buyers"), BTreeSet::from([ann]));
    assert_eq!(engine.segment_view("recent-buyers", 5).unwrap().segment.members, 1);
    assert_eq!(moves(&engine, ann), [("segment_entered".into(), "recent-buyers".into(), NOW)]);
    // Due the moment the order leaves the 30-day window.
    assert_eq!(engine.storage().segment_recheck("recent-buyers", ann).unwrap(), Some(NOW + 30 * DAY + 1));

    // The last moment the order is within the window: still a member, nothing judged.
    clock.set(NOW + 30 * DAY);
    assert_eq!(engine.tick().unwrap().segments.judged, 0);
    assert_eq!(members(&engine, "recent-buyers").len(), 1);
    // One millisecond later she leaves, with no new event.
    clock.set(NOW + 30 * DAY + 1);
    let tick = engine.tick().unwrap();
    assert_eq!((tick.segments.judged, tick.segments.exited), (1, 1));
    assert!(members(&engine, "recent-buyers").is_empty());
    assert_eq!(engine.segment_view("recent-buyers", 5).unwrap().segment.members, 0);
    assert_eq!(moves(&engine, ann)[1], ("segment_exited".into(), "recent-buyers".into(), NOW + 30 * DAY + 1));
    assert_eq!(engine.storage().segment_recheck("recent-buyers", ann).unwrap(), None);
    assert_eq!(engine.storage().next_segment_recheck().unwrap(), None);

    // A rebuild agrees with what upkeep kept.
    let rebuilt = engine.rebuild_segment("test", "recent-buyers").unwrap();
    assert_eq!((rebuilt.judged, rebuilt.entered, rebuilt.exited), (2, 0, 0));
}

/// "Ordered before, but not in the last 45 days" reads the whole order history, so no window
/// the host could see passes; the rule itself says when its verdict changes (contract 0.3.0's
/// `recheck-at`), and the customer enters on day 45 and a millisecond with no new event.
#[test]
fn a_lapsed_customer_enters_when_the_rule_says_its_verdict_changes() {
    let (engine, clock, _dir) = engine();
    let plugin = conditions(&engine);
    assert_eq!(engine.runtime().plugin(&plugin).unwrap().record().contract, "0.3.0");
    let lapsed = serde_json::json!({"all": [
        {"event": "order_completed"},
        {"event": "order_completed", "within_ms": 45 * DAY, "count": {"op": "eq", "value": 0}}
    ]});
    engine.save_segment("test", spec("lapsed", plugin, lapsed)).unwrap();
    engine.ingest_live(&[user_event("o1", "ann", "order_completed", NOW)], NOW).unwrap();
    engine.drain_triggers().unwrap();
    let ann = profile(&engine, "ann");
    assert!(members(&engine, "lapsed").is_empty());
    assert_eq!(engine.storage().segment_recheck("lapsed", ann).unwrap(), Some(NOW + 45 * DAY + 1));

    clock.set(NOW + 45 * DAY);
    engine.tick().unwrap();
    assert!(members(&engine, "lapsed").is_empty());
    clock.set(NOW + 45 * DAY + 1);
    assert_eq!(engine.tick().unwrap().segments.entered, 1);
    assert_eq!(members(&engine, "lapsed"), BTreeSet::from([ann]));
    assert_eq!(moves(&engine, ann), [("segment_entered".into(), "lapsed".into(), NOW + 45 * DAY + 1)]);
    // Nothing more can change without new data; a new order takes her out at once.
    assert_eq!(engine.storage().segment_recheck("lapsed", ann).unwrap(), None);
    let again = NOW + 50 * DAY;
    clock.set(again);
    engine.ingest_live(&[user_event("o2", "ann", "order_completed", again)], again).unwrap();
    engine.drain_triggers().unwrap();
    assert!(members(&engine, "lapsed").is_empty());
    assert_eq!(engine.storage().segment_recheck("lapsed", ann).unwrap(), Some(again + 45 * DAY + 1));
}

#[test]
fn segment_entered_triggers_a_campaign_once() {
    let (engine, _clock, _dir) = engine();
    let plugin = conditions(&engine);
    engine.save_segment("test", recent_buyers(plugin)).unwrap();
    let mut campaign = baton_tests::welcome_campaign();
    campaign.trigger = baton::Trigger::Event {
        event: "segment_entered".into(),
        filter: [("segment".to_owned(), serde_json::json!("recent-buyers"))].into(),
    };
    baton_tests::activate(
        &engine,
        campaign,
        serde_json::json!({}),
        false,
        "http://127.0.0.1:9/",
        baton_tests::echo_grants(),
    );
    baton_tests::customer(
        &engine,
        "ann",
        serde_json::json!({"email": "ann@example.com", "tier": "vip"}),
        true,
    );
    engine.ingest_live(&[user_event("o1", "ann", "order_completed", NOW)], NOW).unwrap();
    engine.drain_triggers().unwrap();
    let pending = engine.storage().pending_sends().unwrap();
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0].idempotency_key.contains(":segment_entered:recent-buyers:"),
        "{}",
        pending[0].idempotency_key
    );
    // A second order keeps her in the segment: no new entry, no second message.
    engine.ingest_live(&[user_event("o2", "ann", "order_completed", NOW)], NOW).unwrap();
    engine.drain_triggers().unwrap();
    assert_eq!(engine.storage().pending_sends().unwrap().len(), 1);
    // A source cannot fake an entry.
    let forged = engine.ingest_live(&[user_event("f1", "ann", "segment_entered", NOW)], NOW).unwrap();
    assert!(
        matches!(&forged[0], baton::IngestOutcome::Rejected { reason } if reason.contains("Baton records itself"))
    );
}

#[test]
fn a_manual_segment_takes_members_by_user_id() {
    let (engine, _clock, _dir) = engine();
    for user in ["ann", "bob"] {
        baton_tests::customer(&engine, user, serde_json::json!({}), false);
    }
    let manual = SegmentSpec {
        id: "press-list".into(),
        description: "Journalists we brief".into(),
        definition: SegmentDefinition::Manual {},
    };
    engine.save_segment("test", manual.clone()).unwrap();
    let edit = engine
        .edit_segment_members("test", "press-list", &["ann".into(), "bob".into(), "nobody".into()], &[])
        .unwrap();
    assert_eq!((edit.added, edit.removed, edit.unknown.clone()), (2, 0, vec!["nobody".to_owned()]));
    assert_eq!(engine.segment_view("press-list", 1).unwrap().segment.members, 2);
    let edit = engine.edit_segment_members("test", "press-list", &["ann".into()], &["bob".into()]).unwrap();
    assert_eq!((edit.added, edit.removed), (0, 1), "ann was in already");
    let bob = profile(&engine, "bob");
    assert_eq!(
        moves(&engine, bob).iter().map(|m| m.0.as_str()).collect::<Vec<_>>(),
        ["segment_entered", "segment_exited"]
    );
    // An email names every profile that has it (as lists from other tools are), in any case.
    for user in ["cat", "cat-work"] {
        baton_tests::customer(&engine, user, serde_json::json!({"email": "Cat@Example.com"}), false);
    }
    let edit = engine
        .edit_segment_members(
            "test",
            "press-list",
            &[" cat@example.com".into(), "nobody@example.com".into()],
            &[],
        )
        .unwrap();
    assert_eq!((edit.added, edit.unknown), (2, vec!["nobody@example.com".to_owned()]));
    engine.edit_segment_members("test", "press-list", &[], &["CAT@example.com".into()]).unwrap();
    // The number of saved segments is a setting, not an accident.
    let (limited, _clock2, _dir2) = baton_tests::engine_with(baton::EngineConfig {
        max_saved_segments: 1,
        ..baton_tests::engine_config()
    });
    limited.save_segment("test", manual.clone()).unwrap();
    limited.save_segment("test", manual.clone()).unwrap(); // saving it again is no new segment
    let err =
        limited.save_segment("test", SegmentSpec { id: "second".into(), ..manual.clone() }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "1 saved segments exist, the most `engine.max_saved_segments` allows: delete one, or raise the limit (each adds to the cost of every event it reads)"
    );
    // A manual segment has no rule to rebuild, and cannot become one without being recreated.
    let err = engine.rebuild_segment("test", "press-list").unwrap_err();
    assert!(err.to_string().contains("is manual"), "{err}");
    let plugin = conditions(&engine);
    let err = engine
        .save_segment(
            "test",
            spec("press-list", plugin, serde_json::json!({"attribute": "x", "op": "exists"})),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "segment `press-list` is manual and cannot become rule-based: delete it and create it again"
    );
    // Erasing a member takes them out, with no event left behind.
    let ann = profile(&engine, "ann");
    engine.erase_profile("test", ann).unwrap();
    assert!(members(&engine, "press-list").is_empty());
    assert_eq!(engine.segment_view("press-list", 1).unwrap().segment.members, 0);
}

#[test]
fn one_profile_that_makes_the_rule_trap_does_not_stop_the_others() {
    let (engine, _clock, _dir) = engine();
    let poison = engine.runtime().install(&fixture("bad-poison")).unwrap().hash();
    let mut poisoned = None;
    for i in 0..40 {
        let traits = serde_json::json!({"tier": "vip", "poison": i == 7});
        let id = baton_tests::customer(&engine, &format!("u{i}"), traits, false);
        if i == 7 {
            poisoned = Some(id);
        }
    }
    let (segment, _) = engine.save_segment("test", spec("vips", poison, serde_json::json!({}))).unwrap();
    assert_eq!(segment.members, 39);
    assert!(!members(&engine, "vips").contains(&poisoned.unwrap()));
    // Upkeep too: a change to the poisoned profile and a good one, judged in one batch.
    let traits = serde_json::json!({"tier": "vip"}).as_object().unwrap().clone();
    engine.storage().identify(Some("u7"), None, &traits, NOW).unwrap();
    engine
        .storage()
        .identify(Some("u8"), None, &serde_json::json!({"tier": "gold"}).as_object().unwrap().clone(), NOW)
        .unwrap();
    let upkeep = engine.keep_segments_current().unwrap();
    assert_eq!((upkeep.judged, upkeep.failed, upkeep.exited), (2, 1, 1));
    assert_eq!(members(&engine, "vips").len(), 38);
}

/// A tiny deterministic generator, so a failing history can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// The property: whatever happens (orders, page views, plan changes, merges of anonymous
/// visitors, erasures, hours passing), the membership upkeep keeps equals judging everyone
/// again, at every checkpoint.
#[test]
fn incremental_membership_equals_a_full_rebuild_over_a_randomized_history() {
    for seed in [1_u64, 7, 42] {
        let (engine, clock, _dir) = engine();
        let plugin = conditions(&engine);
        let definitions = [
            (
                "pro-repeat",
                serde_json::json!({"all": [
                    {"attribute": "plan", "op": "eq", "value": "pro"},
                    {"event": "order_completed", "count": {"op": "gte", "value": 2}, "within_ms": 14 * DAY}
                ]}),
            ),
            (
                "browsers-or-vips",
                serde_json::json!({"any": [
                    {"event": "page_viewed", "count": {"op": "gte", "value": 1}, "within_ms": 3 * DAY},
                    {"attribute": "vip", "op": "eq", "value": true}
                ]}),
            ),
            (
                "lapsed-pros",
                serde_json::json!({"all": [
                    {"event": "order_completed"},
                    {"event": "order_completed", "within_ms": 5 * DAY, "count": {"op": "eq", "value": 0}},
                    {"any": [{"attribute": "plan", "op": "eq", "value": "pro"}, {"event": "page_viewed", "within_ms": DAY}]}
                ]}),
            ),
            (
                "big-spenders",
                serde_json::json!(
                    {"event": "order_completed", "where": {"total": {"op": "gte", "value": 100}}, "count": {"op": "gte", "value": 1}, "within_ms": 10 * DAY}
                ),
            ),
        ];
        for (id, config) in &definitions {
            engine.save_segment("test", spec(id, plugin.clone(), config.clone())).unwrap();
        }
        let mut rng = Lcg(seed);
        let mut now = NOW;
        // The largest membership seen: the history must fill the segments, or the property
        // says little.
        let mut largest = 0;
        for step in 0..400 {
            now += i64::try_from(rng.below(12 * 3_600_000)).unwrap();
            clock.set(now);
            let user = format!("u{}", rng.below(25));
            match rng.below(10) {
                0..=3 => {
                    let mut order = user_event(&format!("o{step}"), &user, "order_completed", now);
                    order.properties.insert("total".into(), serde_json::json!(rng.below(200)));
                    engine.ingest_live(&[order], now).unwrap();
                }
                4..=5 => {
                    engine
                        .ingest_live(&[user_event(&format!("p{step}"), &user, "page_viewed", now)], now)
                        .unwrap();
                }
                6..=7 => {
                    let plan = if rng.below(2) == 0 { "pro" } else { "free" };
                    let traits = serde_json::json!({"plan": plan, "vip": rng.below(5) == 0});
                    engine.storage().identify(Some(&user), None, traits.as_object().unwrap(), now).unwrap();
                }
                8 => {
                    // An anonymous visitor browses, then signs in: two profiles become one.
                    let anon = format!("anon-{step}");
                    let mut view = user_event(&format!("a{step}"), &user, "page_viewed", now);
                    view.user_id = None;
                    view.anonymous_id = Some(anon.clone());
                    engine.ingest_live(&[view], now).unwrap();
                    engine.drain_triggers().unwrap();
                    let empty = serde_json::Map::new();
                    engine.storage().identify(Some(&user), Some(&anon), &empty, now).unwrap();
                }
                _ => {
                    if rng.below(4) == 0
                        && let Some(p) =
                            engine.storage().profile_by_identity(&Identity::User(user.clone())).unwrap()
                    {
                        engine.erase_profile("test", p.id).unwrap();
                    }
                }
            }
            if rng.below(3) == 0 {
                engine.drain_triggers().unwrap();
                engine.tick().unwrap();
            }
            if step % 50 == 49 {
                engine.drain_triggers().unwrap();
                engine.tick().unwrap();
                for (id, config) in &definitions {
                    let judged = engine.audience(&plugin, config, 0, true).unwrap();
                    let expected: BTreeSet<ProfileId> =
                        judged.members.unwrap().into_iter().map(|m| m.profile).collect();
                    assert_eq!(members(&engine, id), expected, "seed {seed}, step {step}, segment {id}");
                    let stored: SavedSegment = engine.segment_view(id, 0).unwrap().segment;
                    assert_eq!(stored.members as usize, expected.len(), "seed {seed}, step {step}, {id}");
                    largest = largest.max(expected.len());
                }
            }
        }
        // Orders only ever add to `big-spenders`: each exit from it is a window passing.
        let by_clock = engine
            .storage()
            .scan_events()
            .map(Result::unwrap)
            .filter(|e| e.name == "segment_exited" && e.properties["segment"] == "big-spenders")
            .count();
        assert!(
            by_clock >= 5 && largest >= 5,
            "seed {seed}: {by_clock} exits by the clock, at most {largest} members"
        );
        for (id, _) in &definitions {
            let rebuilt = engine.rebuild_segment("test", id).unwrap();
            assert_eq!((rebuilt.entered, rebuilt.exited), (0, 0), "seed {seed}, {id}");
        }
    }
}

/// Over HTTP against the real server: save, show, page through and export members, and the
/// errors a first-time user meets, each with its code; a Segment `identify` that makes someone
/// a VIP shows in the count without anyone asking for a rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_over_the_api() {
    let (engine, _clock, _dir) = engine();
    let engine = std::sync::Arc::new(engine);
    for i in 0..3 {
        baton_tests::customer(&engine, &format!("u{i}"), serde_json::json!({"tier": "vip"}), false);
    }
    baton_tests::customer(&engine, "u3", serde_json::json!({"tier": "gold"}), false);
    let rule = engine.runtime().install(&fixture("seg-vip")).unwrap().hash().to_string();
    let (token, _) = engine.storage().create_token("ops", baton::Role::Orchestrator, 1).unwrap();
    let base = baton_tests::serve(engine.clone(), baton::ApiConfig::default()).await;
    let client = baton_tests::http();
    let call = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = client.request(method, format!("{base}{path}")).bearer_auth(&token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let (status, link) = (response.status().as_u16(), response.headers().get("link").cloned());
            let text = response.text().await.unwrap();
            (status, link, text)
        }
    };
    let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    use reqwest::Method;

    let definition = serde_json::json!({"definition": {"rule": {"plugin": rule, "config": {}}}});
    let (status, _, body) = call(Method::PUT, "/v1/segments/vips", Some(definition.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((json(&body)["members"].as_u64(), json(&body)["state"].as_str()), (Some(3), Some("live")));
    let (status, _, body) = call(Method::GET, "/v1/segments", None).await;
    assert_eq!((status, json(&body).as_array().unwrap().len()), (200, 1));

    // A page of one, and the link to the next.
    let (status, link, body) = call(Method::GET, "/v1/segments/vips/members?limit=2", None).await;
    assert_eq!((status, json(&body).as_array().unwrap().len()), (200, 2));
    let next = link.unwrap().to_str().unwrap().to_owned();
    let next = next.trim_start_matches('<').split('>').next().unwrap().to_owned();
    let (_, link, body) = call(Method::GET, &next, None).await;
    assert_eq!((json(&body).as_array().unwrap().len(), link), (1, None));
    let (status, _, csv) = call(Method::GET, "/v1/segments/vips/members?format=csv", None).await;
    assert_eq!((status, csv.lines().count()), (200, 4), "{csv}");
    assert_eq!(csv.lines().next(), Some("profile_id,since,score"));

    // A Segment identify over HTTP: u3 becomes a VIP and joins without a rebuild.
    let (write_key, _) = engine.storage().create_token("shop", baton::Role::Connector, 1).unwrap();
    let identify = serde_json::json!({"userId": "u3", "traits": {"tier": "vip"}});
    let sent =
        client.post(format!("{base}/v1/identify")).bearer_auth(&write_key).json(&identify).send().await;
    assert_eq!(sent.unwrap().status().as_u16(), 200);
    let mut count = 0;
    for _ in 0..200 {
        let (_, _, body) = call(Method::GET, "/v1/segments/vips", None).await;
        count = json(&body)["members"].as_u64().unwrap();
        if count == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(count, 4);

    // What a first-time user gets wrong.
    let cases = [
        (Method::PUT, "/v1/segments/Big%20Spenders", Some(definition.clone()), 422, "invalid_segment"),
        (Method::GET, "/v1/segments/nope", None, 404, "segment_not_found"),
        (
            Method::PUT,
            "/v1/segments/x",
            Some(
                serde_json::json!({"definition": {"rule": {"plugin": format!("sha256:{}", "0".repeat(64))}}}),
            ),
            404,
            "plugin_not_found",
        ),
        (
            Method::PUT,
            "/v1/segments/x",
            Some(serde_json::json!({"definition": {"everyone": {}}})),
            422,
            "invalid_request",
        ),
        (
            Method::POST,
            "/v1/segments/vips/members",
            Some(serde_json::json!({"add": ["u1"]})),
            409,
            "segment_wrong_kind",
        ),
        (Method::GET, "/v1/segments/vips/members?cursor=zz", None, 400, "invalid_query"),
        (Method::GET, "/v1/segments/vips/members?limit=0", None, 400, "invalid_query"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, _, text) = call(method.clone(), path, body).await;
        assert_eq!(
            (got, json(&text)["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {text}"
        );
    }
    let (status, _, body) = call(Method::DELETE, "/v1/segments/vips", None).await;
    assert_eq!((status, json(&body)["deleted"].as_str()), (200, Some("vips")));
    assert_eq!(engine.storage().segment_members("vips", None, 10).unwrap(), []);
}

/// A campaign whose audience is a saved segment judges its stored members only: a preview and a
/// batch run reach the members without judging anyone else, a triggered send goes only to a
/// member, and the segment cannot be deleted from under the campaign.
#[test]
fn a_campaign_sends_to_a_saved_segment_from_stored_membership() {
    let (engine, _clock, _dir) = engine();
    let plugin = conditions(&engine);
    for i in 0..6 {
        let traits = serde_json::json!({"email": format!("u{i}@example.com")});
        baton_tests::customer(&engine, &format!("u{i}"), traits, true);
    }
    engine.save_segment("test", recent_buyers(plugin)).unwrap();
    let orders: Vec<_> =
        (0..2).map(|i| user_event(&format!("o{i}"), &format!("u{i}"), "order_completed", NOW)).collect();
    engine.ingest_live(&orders, NOW).unwrap();
    engine.drain_triggers().unwrap();

    let mut thanks = baton_tests::welcome_campaign();
    thanks.id = "thanks".into();
    thanks.trigger = baton::Trigger::Batch { every_ms: None };
    thanks.audience = Some("recent-buyers".into());
    engine.create_campaign("test", thanks).unwrap();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    let url = serde_json::json!({"url": "http://127.0.0.1:9/"});
    engine.bind("test", "thanks", baton::Slot::Channel, channel, url, baton_tests::echo_grants()).unwrap();
    engine.transition("test", "thanks", baton::CampaignState::Active).unwrap();

    let preview = engine.preview("thanks").unwrap();
    assert_eq!((preview.evaluated, preview.audience), (2, 2), "the two members, no one else judged");
    let run = engine.run_batch("test", "thanks", "run-1").unwrap();
    assert_eq!((run.evaluated, run.queued), (2, 2));

    // Triggered: a page view reaches a member only.
    let mut browse = baton_tests::welcome_campaign();
    browse.id = "browse".into();
    browse.trigger = baton::Trigger::Event { event: "page_viewed".into(), filter: Default::default() };
    browse.audience = Some("recent-buyers".into());
    engine.create_campaign("test", browse).unwrap();
    let url = serde_json::json!({"url": "http://127.0.0.1:9/"});
    engine.bind("test", "browse", baton::Slot::Channel, channel, url, baton_tests::echo_grants()).unwrap();
    engine.transition("test", "browse", baton::CampaignState::Active).unwrap();
    let views = [user_event("v0", "u0", "page_viewed", NOW), user_event("v5", "u5", "page_viewed", NOW)];
    engine.ingest_live(&views, NOW).unwrap();
    engine.drain_triggers().unwrap();
    let browsed: Vec<ProfileId> = engine
        .storage()
        .pending_sends()
        .unwrap()
        .into_iter()
        .filter(|s| s.campaign == "browse")
        .map(|s| s.profile)
        .collect();
    assert_eq!(browsed, [profile(&engine, "u0")]);

    let err = engine.delete_segment("test", "recent-buyers").unwrap_err();
    assert_eq!(
        err.to_string(),
        "segment `recent-buyers` is the audience of campaign `browse`, `thanks`: end the campaign or give it another audience first"
    );
    // Without a segment rule or an audience, a campaign is not ready.
    let mut lost = baton_tests::welcome_campaign();
    lost.id = "lost".into();
    lost.audience = Some("nobody-here".into());
    engine.create_campaign("test", lost).unwrap();
    let url = serde_json::json!({"url": "http://127.0.0.1:9/"});
    engine.bind("test", "lost", baton::Slot::Channel, channel, url, baton_tests::echo_grants()).unwrap();
    let err = engine.transition("test", "lost", baton::CampaignState::Active).unwrap_err();
    assert_eq!(
        err.to_string(),
        "campaign `lost` cannot be activated: audience: no saved segment is named `nobody-here`"
    );
}

/// An event acknowledged just before a crash still moves the segments: the mark that says what
/// changed was written with the event, and upkeep after the restart answers it.
#[test]
fn a_change_acknowledged_before_a_crash_is_judged_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let storage = baton_tests::open_store(dir.path());
        let runtime =
            std::sync::Arc::new(baton::Runtime::new(baton_tests::test_config(), storage.clone()).unwrap());
        let clock = std::sync::Arc::new(baton::FixedClock::at(NOW));
        baton::Engine::new(storage, runtime, clock, baton_tests::engine_config()).unwrap()
    };
    {
        let engine = open();
        let plugin = conditions(&engine);
        engine.save_segment("test", recent_buyers(plugin)).unwrap();
        engine.ingest_live(&[user_event("o1", "ann", "order_completed", NOW)], NOW).unwrap();
        // The process dies here, before any drain.
        assert_eq!(engine.storage().changed_profile_count(), 1);
    }
    let engine = open();
    assert_eq!(engine.storage().changed_profile_count(), 1);
    let upkeep = engine.keep_segments_current().unwrap();
    assert_eq!((upkeep.changed, upkeep.entered), (1, 1));
    assert_eq!(members(&engine, "recent-buyers"), BTreeSet::from([profile(&engine, "ann")]));
    assert_eq!(engine.storage().changed_profile_count(), 0);
}

/// Ad-hoc audience questions scan every profile, so only `api.max_concurrent_scans` run at
/// once; one over the limit is refused with 429 `busy` and what to do instead. At 0 none run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_hoc_scans_wait_behind_their_limit() {
    let (engine, _clock, _dir) = engine();
    let engine = std::sync::Arc::new(engine);
    let rule = engine.runtime().install(&fixture("seg-vip")).unwrap().hash().to_string();
    let (token, _) = engine.storage().create_token("analyst", baton::Role::Analyst, 1).unwrap();
    let question = serde_json::json!({"plugin": rule, "config": {}});
    for (limit, status) in [(0, 429), (1, 200)] {
        let config = baton::ApiConfig { max_concurrent_scans: limit, ..Default::default() };
        let base = baton_tests::serve(engine.clone(), config).await;
        let response = baton_tests::http()
            .post(format!("{base}/v1/audiences"))
            .bearer_auth(&token)
            .json(&question)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body: serde_json::Value = response.json().await.unwrap();
        if status == 429 {
            assert_eq!(body["error"]["code"], "busy");
            assert_eq!(
                body["error"]["message"],
                "ad-hoc scans are off (`api.max_concurrent_scans` is 0): save the segment (PUT /v1/segments/{id}) and read its stored count"
            );
        }
    }
}

/// Retention deletes old events, and a rule over the whole history ("ever ordered") notices: the
/// purge marks the profiles whose events it removed, and they leave in the same tick.
#[test]
fn events_purged_by_retention_take_their_profiles_out() {
    let mut config = baton_tests::engine_config();
    config.keep_events_ms = Some(365 * DAY);
    let (engine, clock, _dir) = baton_tests::engine_with(config);
    let plugin = conditions(&engine);
    engine
        .save_segment("test", spec("ever-ordered", plugin, serde_json::json!({"event": "order_completed"})))
        .unwrap();
    let old = NOW - 300 * DAY;
    engine.ingest_live(&[user_event("o1", "ann", "order_completed", old)], NOW).unwrap();
    engine.drain_triggers().unwrap();
    assert_eq!(members(&engine, "ever-ordered").len(), 1);
    clock.set(NOW + 100 * DAY);
    let tick = engine.tick().unwrap();
    assert_eq!((tick.purged_events, tick.segments.exited), (1, 1));
    assert!(members(&engine, "ever-ordered").is_empty());
}

/// A plugin that judges a saved segment cannot be removed from under it.
#[test]
fn a_segment_rule_in_use_cannot_be_removed() {
    let (engine, _clock, _dir) = engine();
    let plugin = conditions(&engine);
    engine.save_segment("test", recent_buyers(plugin)).unwrap();
    let err = engine.remove_plugin("test", &plugin, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "plugin {plugin} is the rule of saved segment `recent-buyers`; delete the segment or give it another rule first (PUT /v1/segments/recent-buyers)"
        )
    );
    engine.delete_segment("test", "recent-buyers").unwrap();
    engine.remove_plugin("test", &plugin, false).unwrap();
}

/// The builder's live count at scale: a uniform sample by profile id, an estimate whose 95%
/// interval holds the true count, the same estimate for the same tree, and the whole count when
/// the store is no bigger than twice the sample. Erased profiles leave gaps among the ids,
/// which the estimate of the store's size accounts for.
#[test]
fn an_audience_estimated_from_a_sample_brackets_the_true_count() {
    let (engine, _clock, _dir) = engine();
    let plugin = conditions(&engine);
    let plans = ["free", "pro", "team"];
    let traits: Vec<serde_json::Map<String, serde_json::Value>> = (0..3000)
        .map(|n| serde_json::json!({"plan": plans[(n * 7 + n / 11) % 3]}).as_object().unwrap().clone())
        .collect();
    let users: Vec<String> = (0..3000).map(|n| format!("u{n}")).collect();
    let rows: Vec<_> = users.iter().zip(&traits).map(|(u, t)| (Some(u.as_str()), None, t)).collect();
    let ids = engine.storage().identify_many(&rows, 1, &|_, _| {}).unwrap();
    // 300 profiles erased: their ids are gaps.
    for id in ids.iter().step_by(10) {
        engine.erase_profile("test", *id).unwrap();
    }
    let config = serde_json::json!({"attribute": "plan", "op": "eq", "value": "pro"});
    let truth = engine.audience(&plugin, &config, 0, false).unwrap();
    assert_eq!(truth.evaluated, 2700);

    let estimate = engine.audience_estimate(&plugin, &config, 600, 5).unwrap();
    assert!(!estimate.exact);
    assert_eq!(estimate.judged, 600);
    assert!((2500..=2900).contains(&estimate.profiles), "{estimate:?}");
    let [low, high] = estimate.interval;
    assert!(low <= truth.count as u64 && truth.count as u64 <= high, "{truth:?} outside {estimate:?}");
    assert!(low <= estimate.count && estimate.count <= high);
    assert_eq!(estimate.sample.len(), 5);
    assert_eq!(
        engine.audience_estimate(&plugin, &config, 600, 5).unwrap(),
        estimate,
        "the same tree, the same sample"
    );

    // A store no bigger than twice the sample is judged whole.
    let whole = engine.audience_estimate(&plugin, &config, 1400, 5).unwrap();
    assert!(whole.exact);
    assert_eq!(
        (whole.count, whole.interval, whole.judged),
        (truth.count as u64, [truth.count as u64; 2], 2700)
    );
}
