//! Attacks on identity and erasure, performed literally: a write-key holder linking a victim's
//! user id to an id of their own, and a send in flight when its person is erased.

use std::sync::Arc;

use baton::{ApiConfig, Identity, NewEvent, Role, SecretValue, Slot};
use baton_tests::{Vendor, activate, customer, echo_grants, engine, fixture, http, serve, welcome_campaign};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_known_users_are_not_merged_by_a_write_key_holder() {
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let victim = customer(&engine, "victim", serde_json::json!({"email": "victim@example.com"}), true);
    let (write_key, _) = engine.storage().create_token("web", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).basic_auth(&write_key, Some("")).json(&body).send()
    };
    // The attacker becomes a known user with a device id of their own...
    let body = serde_json::json!({"userId": "mallory", "anonymousId": "mallory-device", "traits": {"email": "m@attacker.test"}});
    assert_eq!(post("/v1/identify", body).await.unwrap().status().as_u16(), 200);
    let mallory =
        engine.storage().profile_by_identity(&Identity::User("mallory".into())).unwrap().unwrap().id;
    // ...then claims the victim's user id from that device, and aliases the two users.
    let body = serde_json::json!({"userId": "victim", "anonymousId": "mallory-device", "traits": {"email": "m@attacker.test"}});
    assert_eq!(post("/v1/identify", body).await.unwrap().status().as_u16(), 200);
    let body = serde_json::json!({"userId": "mallory", "previousId": "victim"});
    let aliased: serde_json::Value = post("/v1/alias", body).await.unwrap().json().await.unwrap();
    assert!(aliased["results"][0]["reason"].as_str().unwrap().contains("alias refused"), "{aliased}");

    let victims = engine.storage().profile(victim).unwrap().expect("the victim's profile survives");
    assert_eq!(victims.identities, vec![Identity::User("victim".into())]);
    let owner = engine.storage().profile_by_identity(&Identity::User("victim".into())).unwrap().unwrap();
    assert_eq!(owner.id, victim, "the victim's id still leads to the victim");
    let attackers = engine.storage().profile(mallory).unwrap().unwrap();
    assert!(!attackers.identities.contains(&Identity::User("victim".into())));
    let refused: Vec<_> =
        engine.storage().audit_log(50).unwrap().into_iter().filter(|r| r.action == "merge_refused").collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_history_is_still_stitched_to_its_user() {
    // The refusal is narrow: the Segment stitching every site relies on still happens.
    let (engine, _clock, _dir) = engine();
    let storage = engine.storage();
    let page = NewEvent {
        id: "p1".into(),
        user_id: None,
        anonymous_id: Some("device-1".into()),
        name: "page".into(),
        timestamp: 1,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    storage.ingest(&[page], 1).unwrap();
    let ada = storage.identify(Some("ada"), Some("device-1"), &serde_json::Map::new(), 2).unwrap();
    assert_eq!(storage.events_of(ada).unwrap().len(), 1);
    let profile = storage.profile(ada).unwrap().unwrap();
    assert_eq!(profile.identities.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_profile_is_never_messaged_by_a_send_already_in_flight() {
    let vendor = Vendor::start().await;
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    activate(&engine, welcome_campaign(), serde_json::json!({}), false, &vendor.url("/send"), echo_grants());
    // The adapter sends each message in two requests; the vendor holds its answer to the first.
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    let config = serde_json::json!({"url": vendor.url("/send"), "copies": 2});
    engine.bind("test", "welcome", Slot::Channel, channel, config, echo_grants()).unwrap();
    engine.storage().put_secret("ECHO_TOKEN", &SecretValue::new("t"), &["127.0.0.1".into()]).unwrap();
    let ada = customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    assert_eq!(engine.run_batch("test", "welcome", "r1").unwrap().queued, 1);
    vendor.hold();

    let delivering = tokio::spawn({
        let engine = engine.clone();
        async move { engine.deliver_due().await.unwrap() }
    });
    while vendor.received().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // The first request is at the vendor: the send is in flight. Now the person is erased.
    let erased = tokio::task::spawn_blocking({
        let engine = engine.clone();
        move || engine.storage().erase_profile(ada, "token:dpo", 5).unwrap()
    })
    .await
    .unwrap();
    assert!(erased.is_some());
    vendor.release();
    let report = delivering.await.unwrap();
    assert_eq!((report.claimed, report.delivered, report.rejected, report.retried), (1, 0, 0, 0));
    assert_eq!(vendor.received().len(), 1, "the second request never left");
    assert!(engine.storage().deliveries("welcome").unwrap().is_empty(), "no record of the erased person");

    // A pipeline that judged the person before the erasure cannot queue a send after it.
    let late = baton_tests::pending_send("welcome", ada, "late", 6);
    assert_eq!(engine.storage().enqueue(&[late]).unwrap(), vec![false]);
    assert_eq!(engine.storage().outbox_len(), 0);
}
