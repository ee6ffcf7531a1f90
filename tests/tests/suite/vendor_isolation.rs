//! One slow vendor does not slow the others: `baton serve`'s continuous delivery keeps claiming
//! due sends while a slow vendor holds its own.

use std::sync::Arc;
use std::time::Duration;

use baton::{NewEvent, SecretValue, ServeConfig, Trigger};
use baton_tests::{Vendor, activate, customer, echo_grants, engine, welcome_campaign};

async fn wait_until(what: &str, limit: Duration, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_vendor_holds_only_its_own_sends() {
    let slow = Vendor::start().await;
    slow.set_delay_ms(5_000);
    let fast = Vendor::start().await;
    let (engine, _clock, _dir) = engine();
    activate(&engine, welcome_campaign(), serde_json::json!({}), false, &slow.url("/send"), echo_grants());
    let mut nudge = welcome_campaign();
    nudge.id = "nudge".into();
    nudge.trigger = Trigger::Event { event: "browsed".into(), filter: Default::default() };
    activate(&engine, nudge, serde_json::json!({}), false, &fast.url("/send"), echo_grants());
    engine.storage().put_secret("ECHO_TOKEN", &SecretValue::new("t"), &["127.0.0.1".into()]).unwrap();
    customer(&engine, "ada", serde_json::json!({"email": "ada@example.com", "tier": "vip"}), true);
    let engine = Arc::new(engine);

    let mut config = ServeConfig::default();
    config.loops.delivery_idle_ms = 20;
    config.loops.tick_ms = 60_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baton::serve(engine.clone(), listener, config, async {
        let _ = stopped.await;
    }));

    let trigger = |id: &'static str, name: &'static str| {
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || {
            let event = NewEvent {
                id: id.into(),
                user_id: Some("ada".into()),
                anonymous_id: None,
                name: name.into(),
                timestamp: 1,
                properties: serde_json::Map::new(),
                campaign: None,
            };
            engine.storage().ingest(&[event], 1).unwrap();
            engine.on_events(&[engine.storage().event(id).unwrap().unwrap()]).unwrap();
        })
    };
    trigger("e1", "signed_up").await.unwrap();
    wait_until("the slow vendor to get its request", Duration::from_secs(10), || slow.received().len() == 1)
        .await;

    // While the slow vendor holds its send, another campaign's send becomes due: it goes out now.
    trigger("e2", "browsed").await.unwrap();
    wait_until("the fast vendor to get its request", Duration::from_secs(4), || fast.received().len() == 1)
        .await;
    wait_until("the fast send to be recorded", Duration::from_secs(4), || {
        engine.storage().deliveries("nudge").unwrap().len() == 1
    })
    .await;
    assert!(
        engine.storage().deliveries("welcome").unwrap().is_empty(),
        "the slow vendor has not answered yet"
    );

    // Shutdown waits for the slow send in flight, which then completes.
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert_eq!(engine.storage().deliveries("welcome").unwrap().len(), 1);
}
