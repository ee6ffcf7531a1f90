//! Contracts 0.1.0, 0.2.0 and 0.3.0 side by side: the fixtures stay on the frozen 0.1.0, the
//! polyglot Rust twins on the frozen 0.2.0, the first-party plugins move to 0.3.0, and one host
//! runs them all in one set of campaigns. And what only 0.2.0 on has: computed traits that follow
//! ingest, and a segment on them.

use baton::{CampaignState, Grants, NewEvent, Slot};
use baton_tests::{customer, echo_grants, engine, fixture, welcome_campaign};

fn event(id: &str, user: &str, name: &str) -> NewEvent {
    NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: name.into(),
        timestamp: 1_750_000_000_000 - 1_000,
        properties: serde_json::Map::new(),
        campaign: None,
    }
}

/// The body of the one pending send to `profile`, if there is exactly one.
fn body_sent_to(engine: &baton::Engine, profile: baton::ProfileId) -> Vec<String> {
    engine
        .storage()
        .pending_sends()
        .unwrap()
        .into_iter()
        .filter(|send| send.profile == profile)
        .map(|send| send.message["body"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn plugins_built_against_0_1_0_and_0_2_0_run_side_by_side_in_one_campaign_set() {
    let (engine, _clock, _dir) = engine();
    let install = |bytes: &[u8]| engine.runtime().install(bytes).unwrap();
    let old_segment = install(&fixture("seg-vip"));
    let old_personalizer = install(&fixture("pers-greeting"));
    let old_channel = install(&fixture("chan-echo"));
    let new_segment = install(baton::first_party("segment-conditions").unwrap());
    let new_personalizer = install(baton::first_party("personalize-liquid").unwrap());
    let frozen_segment =
        install(&baton_tests::polyglot::component("segment-high-value", baton_tests::polyglot::Lang::Rust));
    for (plugin, contract) in [
        (&old_segment, "0.1.0"),
        (&old_personalizer, "0.1.0"),
        (&old_channel, "0.1.0"),
        (&frozen_segment, "0.2.0"),
        (&new_segment, "0.3.0"),
        (&new_personalizer, "0.3.0"),
    ] {
        assert_eq!(plugin.record().contract, contract, "{}", plugin.label());
    }

    // A 0.2.0 rule judges through its own bindings (and says nothing of when to judge again).
    let subject = baton_tests::subject("p1", &[("lifetime_value", baton::contract::Value::Float(900.0))]);
    let config = r#"{"min_ltv": 500, "min_orders": 0}"#;
    let verdicts = engine
        .runtime()
        .call(&frozen_segment)
        .evaluate(&baton_tests::invocation(config), &[subject])
        .unwrap();
    assert_eq!(
        verdicts.value,
        [baton::contract::Membership { member: true, score: Some(900.0), recheck_at: None }]
    );

    // One campaign on the 0.1.0 plugins, one on the 0.3.0 ones, reacting to the same event.
    let vip = baton::Campaign { id: "vip-welcome".into(), ..welcome_campaign() };
    let pro = baton::Campaign { id: "pro-welcome".into(), ..welcome_campaign() };
    let url = serde_json::json!({ "url": "http://127.0.0.1:9/" });
    engine.create_campaign("test", vip).unwrap();
    engine
        .bind(
            "test",
            "vip-welcome",
            Slot::Segment,
            old_segment.hash(),
            serde_json::json!({}),
            Grants::default(),
        )
        .unwrap();
    engine
        .bind(
            "test",
            "vip-welcome",
            Slot::Personalizer,
            old_personalizer.hash(),
            serde_json::json!({}),
            Grants::default(),
        )
        .unwrap();
    engine
        .bind("test", "vip-welcome", Slot::Channel, old_channel.hash(), url.clone(), echo_grants())
        .unwrap();
    engine.create_campaign("test", pro).unwrap();
    let tree = serde_json::json!({"attribute": "plan", "op": "eq", "value": "pro"});
    engine.bind("test", "pro-welcome", Slot::Segment, new_segment.hash(), tree, Grants::default()).unwrap();
    let liquid = serde_json::json!({"subject": "Hi {{ profile.first_name }}", "body": "Welcome aboard, {{ profile.first_name }}"});
    engine
        .bind("test", "pro-welcome", Slot::Personalizer, new_personalizer.hash(), liquid, Grants::default())
        .unwrap();
    engine.bind("test", "pro-welcome", Slot::Channel, old_channel.hash(), url, echo_grants()).unwrap();
    for id in ["vip-welcome", "pro-welcome"] {
        engine.transition("test", id, CampaignState::Active).unwrap();
    }

    let contact = |name: &str| format!("{}@example.com", name.to_lowercase());
    let ada = customer(
        &engine,
        "ada",
        serde_json::json!({"email": contact("ada"), "first_name": "Ada", "tier": "vip"}),
        true,
    );
    let bob = customer(
        &engine,
        "bob",
        serde_json::json!({"email": contact("bob"), "first_name": "Bob", "plan": "pro"}),
        true,
    );
    let cat =
        customer(&engine, "cat", serde_json::json!({"email": contact("cat"), "first_name": "Cat"}), true);
    engine
        .ingest_live(
            &[
                event("s1", "ada", "signed_up"),
                event("s2", "bob", "signed_up"),
                event("s3", "cat", "signed_up"),
            ],
            1,
        )
        .unwrap();
    let report = engine.process_triggers(100).unwrap();
    assert_eq!(report.queued, 2, "{report:?}");
    assert_eq!(
        body_sent_to(&engine, ada),
        vec!["Hello Ada"],
        "the 0.1.0 campaign, rendered by the 0.1.0 personalizer"
    );
    assert_eq!(
        body_sent_to(&engine, bob),
        vec!["Welcome aboard, Bob"],
        "the 0.3.0 campaign, rendered by Liquid"
    );
    assert!(body_sent_to(&engine, cat).is_empty());

    // A 0.1.0 adapter has no feedback call: asking for one is refused with what to do, and the
    // plugin is not blamed for it.
    let err = engine.runtime().call(&old_channel).verification("{}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin chan-echo@1.0.0 verification: has no `verification`: it was built against contract 0.1.0; rebuild it against 0.3.0"
    );
    assert!(old_channel.quarantined().is_none());
}

#[test]
fn a_lead_score_follows_ingest_and_a_segment_on_it_reacts_to_the_event_that_moved_it() {
    let (engine, _clock, _dir) = engine();
    let scorer = engine.runtime().install(baton::first_party("trait-lead-score").unwrap()).unwrap();
    assert_eq!(scorer.record().provides, vec!["lead_score"]);
    let points = serde_json::json!({"events": {"page": 1, "demo_requested": 30}});
    engine.bind_trait("test", "lead-score", &scorer.hash(), points).unwrap();

    // Hot leads get a message on their next page view.
    let segment = engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap();
    let campaign = baton::Campaign {
        id: "hot-leads".into(),
        trigger: baton::Trigger::Event { event: "page".into(), filter: Default::default() },
        ..welcome_campaign()
    };
    engine.create_campaign("test", campaign).unwrap();
    let hot = serde_json::json!({"attribute": "lead_score", "op": "gte", "value": 30});
    engine.bind("test", "hot-leads", Slot::Segment, segment.hash(), hot, Grants::default()).unwrap();
    engine
        .bind(
            "test",
            "hot-leads",
            Slot::Channel,
            channel.hash(),
            serde_json::json!({ "url": "http://127.0.0.1:9/" }),
            echo_grants(),
        )
        .unwrap();
    engine.transition("test", "hot-leads", CampaignState::Active).unwrap();

    let ada = customer(&engine, "ada", serde_json::json!({"email": "ada@example.com"}), true);
    // Bob's client claims a score of 1000: a source cannot write a computed trait.
    let bob =
        customer(&engine, "bob", serde_json::json!({"email": "bob@example.com", "lead_score": 1000}), true);

    engine.ingest_live(&[event("a1", "ada", "demo_requested"), event("b1", "bob", "page")], 1).unwrap();
    engine.process_triggers(100).unwrap();
    let score = |id| engine.storage().profile(id).unwrap().unwrap().computed.get("lead_score").cloned();
    assert_eq!(score(ada), Some(serde_json::json!(30.0)));
    assert_eq!(score(bob), Some(serde_json::json!(1.0)));
    assert!(
        engine.storage().pending_sends().unwrap().is_empty(),
        "ada has not viewed a page since; bob is not hot"
    );

    // Ada's page view moves her score to 31, and the campaign it triggers sees the new score.
    engine.ingest_live(&[event("a2", "ada", "page")], 1).unwrap();
    let report = engine.process_triggers(100).unwrap();
    assert_eq!((report.evaluated, report.queued), (1, 1), "{report:?}");
    assert_eq!(score(ada), Some(serde_json::json!(31.0)));
    let sends = engine.storage().pending_sends().unwrap();
    assert_eq!(sends.iter().map(|s| s.profile).collect::<Vec<_>>(), vec![ada]);

    // History imported without triggers is scored by a bulk recompute, over every profile.
    let cat = customer(&engine, "cat", serde_json::json!({"email": "cat@example.com"}), true);
    engine.storage().ingest(&[event("c1", "cat", "demo_requested"), event("c2", "cat", "page")], 1).unwrap();
    assert_eq!(score(cat), None);
    let report = engine.recompute_traits("test", "lead-score").unwrap();
    assert_eq!((report.evaluated, report.changed), (3, 1), "{report:?}");
    assert_eq!(score(cat), Some(serde_json::json!(31.0)));
    assert_eq!(score(bob), Some(serde_json::json!(1.0)), "recomputing is idempotent");

    // A trait binding pins its plugin; an unknown name is a clear error.
    let err = engine.remove_plugin("test", &scorer.hash(), false).unwrap_err();
    assert!(err.to_string().contains("computes the traits of binding `lead-score`"), "{err}");
    assert_eq!(
        engine.recompute_traits("test", "nope").unwrap_err().to_string(),
        "no trait binding is named `nope`; `GET /v1/traits` lists them"
    );
    let err = engine.bind_trait("test", "wrong", &segment.hash(), serde_json::json!({})).unwrap_err();
    assert!(err.to_string().contains("computed-trait"), "{err}");
}

#[test]
fn rfm_traits_are_computed_in_bulk_and_a_segment_reads_them_like_any_attribute() {
    let (engine, _clock, _dir) = engine();
    let rfm = engine.runtime().install(baton::first_party("trait-rfm").unwrap()).unwrap();
    engine.bind_trait("test", "rfm", &rfm.hash(), serde_json::json!({})).unwrap();
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com"}), true);
    customer(&engine, "bob", serde_json::json!({"email": "bob@example.com"}), true);
    let day = 86_400_000;
    let orders: Vec<NewEvent> = (0..9)
        .map(|i| NewEvent {
            timestamp: 1_750_000_000_000 - (3 + i * 10) * day,
            properties: serde_json::json!({"revenue": 120}).as_object().unwrap().clone(),
            ..event(&format!("o{i}"), "ada", "order_completed")
        })
        .collect();
    engine.storage().ingest(&orders, 1).unwrap();
    let report = engine.recompute_traits("test", "rfm").unwrap();
    assert_eq!((report.evaluated, report.changed), (2, 2));
    let ada = engine.storage().profile_by_identity(&baton::Identity::User("ada".into())).unwrap().unwrap();
    assert_eq!(ada.computed["rfm_segment"], "champions");
    assert_eq!(ada.computed["rfm_cell"], 555);

    let segment = engine.runtime().install(baton::first_party("segment-conditions").unwrap()).unwrap();
    let champions = serde_json::json!({"attribute": "rfm_segment", "op": "eq", "value": "champions"});
    let audience = engine.audience(&segment.hash(), &champions, 10, true).unwrap();
    assert_eq!((audience.evaluated, audience.count), (2, 1));
    assert_eq!(audience.members.unwrap()[0].profile, ada.id);
}

/// Personalizers chain: `personalizer` runs first, then each `personalizer:<name>` in name
/// order on the message the one before returned. Here the next-best offer picks an offer and
/// fills its placeholder, then Liquid renders the rest; a link that fails skips the send and says
/// which link it was.
#[test]
fn personalizers_chain_in_slot_order() {
    let (engine, _clock, _dir) = engine();
    let install = |name: &str| engine.runtime().install(baton::first_party(name).unwrap()).unwrap().hash();
    let (segment, offers, liquid) =
        (install("segment-conditions"), install("personalize-offers"), install("personalize-liquid"));
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    let mut campaign = welcome_campaign();
    campaign.message.subject = Some("Welcome, {{ profile.first_name }}".into());
    campaign.message.body = "Hi {{ profile.first_name }}: {{offer.title}}".into();
    engine.create_campaign("test", campaign).unwrap();
    let everyone = serde_json::json!({"bucket": {"percent": 100}});
    engine.bind("test", "welcome", Slot::Segment, segment, everyone, Grants::default()).unwrap();
    let vip_only = serde_json::json!({"offers": [
        {"id": "vip-20", "rank": 100, "title": "20% off", "when": {"attribute": "tier", "op": "eq", "value": "vip"}}
    ], "required": true});
    engine.bind("test", "welcome", Slot::Personalizer, offers, vip_only, Grants::default()).unwrap();
    let chained = Slot::ChainedPersonalizer("liquid".into());
    assert_eq!(chained.key(), "personalizer:liquid");
    assert_eq!("personalizer:liquid".parse::<Slot>(), Ok(chained.clone()));
    engine.bind("test", "welcome", chained, liquid, serde_json::json!({}), Grants::default()).unwrap();
    let url = serde_json::json!({ "url": "http://127.0.0.1:9/" });
    engine.bind("test", "welcome", Slot::Channel, channel, url, echo_grants()).unwrap();

    customer(
        &engine,
        "ada",
        serde_json::json!({"email": "ada@example.com", "first_name": "Ada", "tier": "vip"}),
        true,
    );
    customer(&engine, "bob", serde_json::json!({"email": "bob@example.com", "first_name": "Bob"}), true);
    let preview = engine.preview("welcome").unwrap();
    assert_eq!(preview.queued, 1, "{preview:?}");
    let sample = &preview.samples[0];
    assert_eq!(sample.body, "Hi Ada: 20% off");
    let data: serde_json::Value = serde_json::from_str(&sample.data).unwrap();
    assert_eq!(data["offer"]["id"], "vip-20", "the first link's data reaches the second and the send");
    // Bob has no eligible offer and the offer is required: the first link fails, named.
    assert_eq!(preview.skipped.get(&baton::SkipReason::PluginFailed), Some(&1), "{preview:?}");

    engine.transition("test", "welcome", CampaignState::Active).unwrap();
    engine.ingest_live(&[event("s1", "bob", "signed_up")], 1).unwrap();
    engine.process_triggers(10).unwrap();
    let skips = engine.skips("welcome").unwrap();
    assert_eq!(skips.len(), 1, "{skips:?}");
    assert!(skips[0].detail.starts_with("personalizer: "), "{:?}", skips[0].detail);
    assert!(skips[0].detail.contains("no_eligible_offer"), "{:?}", skips[0].detail);
}
