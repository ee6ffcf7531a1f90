//! `kpi-attribution` through the host: the store-wide stream lets one campaign's calculator see
//! touches from every campaign and purchases attributed to none.

use baton::{Event, Grants, ProfileId, Slot};
use baton_tests::{engine, welcome_campaign};

const DAY: i64 = 86_400_000;

fn touch(id: &str, profile: ProfileId, campaign: &str, at: i64) -> Event {
    Event {
        id: id.into(),
        profile,
        name: "message_delivered".into(),
        timestamp: at,
        properties: serde_json::json!({"channel": "email"}).as_object().unwrap().clone(),
        campaign: Some(campaign.into()),
    }
}

#[test]
fn conversions_are_credited_across_campaigns() {
    let (engine, _clock, _dir) = engine();
    let plugin = engine.runtime().install(baton::first_party("kpi-attribution").unwrap()).unwrap().hash();
    engine.create_campaign("test", welcome_campaign()).unwrap();
    engine
        .bind(
            "test",
            "welcome",
            Slot::Kpi("attribution".into()),
            plugin,
            serde_json::json!({}),
            Grants::default(),
        )
        .unwrap();
    let (ada, bob) = ada_and_bob(&engine);
    let t0 = 1_749_000_000_000;
    engine
        .storage()
        .append_events(&[
            touch("a1", ada, "welcome", t0),
            touch("a2", ada, "promo", t0 + DAY),
            touch("b1", bob, "promo", t0 + DAY),
            Event {
                id: "a-order".into(),
                profile: ada,
                name: "order_completed".into(),
                timestamp: t0 + 2 * DAY,
                properties: serde_json::json!({"revenue": 80.0}).as_object().unwrap().clone(),
                campaign: None,
            },
            // Not a declared event: never streamed to the calculator.
            Event {
                id: "a-page".into(),
                profile: ada,
                name: "page".into(),
                timestamp: t0,
                properties: Default::default(),
                campaign: None,
            },
        ])
        .unwrap();

    let snapshots = engine.compute_kpis("welcome").unwrap();
    assert_eq!(snapshots[0].events, 4, "touches and the purchase, store-wide; not the page view");
    let credit = |model: &str, campaign: &str| credited(&snapshots[0], "attributed_revenue", model, campaign);
    assert_eq!(credit("first_touch", "welcome"), 80.0);
    assert_eq!(credit("last_touch", "promo"), 80.0);
    assert_eq!((credit("linear", "welcome"), credit("linear", "promo")), (40.0, 40.0));
}

/// Two customers, Ada and Bob.
fn ada_and_bob(engine: &baton::Engine) -> (ProfileId, ProfileId) {
    let traits = serde_json::Map::new();
    let ada = engine.storage().identify(Some("ada"), None, &traits, 1).unwrap();
    (ada, engine.storage().identify(Some("bob"), None, &traits, 1).unwrap())
}

/// The credit `model` gives `campaign` in a snapshot's `metric` (conversions or revenue).
fn credited(snapshot: &baton::KpiSnapshot, metric: &str, model: &str, campaign: &str) -> f64 {
    let metrics = snapshot.metrics.as_array().unwrap();
    metrics
        .iter()
        .find(|m| m["name"] == metric && m["dimensions"][0][1] == model && m["dimensions"][1][1] == campaign)
        .map_or(0.0, |m| m["value"].as_f64().unwrap())
}

/// An event as a Segment source sends it: a spec name, no campaign tag, the campaign (if any)
/// among its properties.
fn segment_event(
    id: &str,
    user: &str,
    name: &str,
    at: i64,
    properties: serde_json::Value,
) -> baton::NewEvent {
    baton::NewEvent {
        properties: properties.as_object().unwrap().clone(),
        ..baton_tests::user_event(id, user, name, at)
    }
}

/// Attribution on Segment's own spec names (`Email Opened`, `Email Link Clicked`, `Order
/// Completed`), read through `needs-for-config`, with the campaign taken from `campaign_id`.
#[test]
fn attribution_runs_on_segment_spec_events() {
    let (engine, _clock, _dir) = engine();
    let plugin = engine.runtime().install(baton::first_party("kpi-attribution").unwrap()).unwrap().hash();
    engine.create_campaign("test", welcome_campaign()).unwrap();
    let config = serde_json::json!({
        "touch_events": ["Email Opened", "Email Link Clicked"],
        "conversion_events": ["Order Completed"],
        "lookback_ms": 7 * DAY,
    });
    engine
        .bind("test", "welcome", Slot::Kpi("attribution".into()), plugin, config, Grants::default())
        .unwrap();
    let t0 = 1_749_000_000_000;
    let events = [
        segment_event("o1", "ada", "Email Opened", t0, serde_json::json!({"campaign_id": "welcome"})),
        segment_event(
            "c1",
            "ada",
            "Email Link Clicked",
            t0 + DAY,
            serde_json::json!({"campaign_id": "spring"}),
        ),
        segment_event("p1", "ada", "Order Completed", t0 + 2 * DAY, serde_json::json!({"revenue": 120.0})),
        // Another customer's click and order; and an event the config does not name.
        segment_event("c2", "bob", "Email Link Clicked", t0, serde_json::json!({"campaign_id": "welcome"})),
        segment_event("p2", "bob", "Order Completed", t0 + DAY, serde_json::json!({"revenue": 30.0})),
        segment_event("v1", "bob", "Product Viewed", t0, serde_json::json!({"campaign_id": "welcome"})),
    ];
    engine.storage().ingest(&events, t0 + 3 * DAY).unwrap();

    let snapshot = engine.compute_kpis("welcome").unwrap().remove(0);
    assert_eq!(snapshot.events, 5, "the named events, store-wide; not `Product Viewed`");
    assert!(
        snapshot.reads.starts_with(
            "`Email Opened`, `Email Link Clicked`, `Order Completed` from every campaign and none"
        ),
        "{}",
        snapshot.reads
    );
    let credit = |model: &str, campaign: &str| credited(&snapshot, "attributed_revenue", model, campaign);
    // Ada: welcome opened, then spring clicked, then 120; Bob: welcome clicked, then 30.
    assert_eq!((credit("first_touch", "welcome"), credit("first_touch", "spring")), (150.0, 0.0));
    assert_eq!((credit("last_touch", "welcome"), credit("last_touch", "spring")), (30.0, 120.0));
    assert_eq!((credit("linear", "welcome"), credit("linear", "spring")), (90.0, 60.0));
}

/// Two conversion figures side by side that do not contradict each other: a campaign's results
/// count each recipient's conversions within its window whatever else touched them; attribution
/// counts each conversion once, shared among the campaigns that touched it. With the same events
/// and a lookback equal to the window, last-touch credit is at most the results' conversions,
/// and the credits over all campaigns add up to the conversions.
#[test]
fn attribution_reconciles_with_the_conversion_definition() {
    let (engine, _clock, _dir) = engine();
    let plugin = engine.runtime().install(baton::first_party("kpi-attribution").unwrap()).unwrap().hash();
    let conversion = baton::Conversion {
        events: vec![baton::ConversionEvent {
            name: "Order Completed".into(),
            filter: Default::default(),
            value: Some("revenue".into()),
        }],
        window_ms: 3 * DAY,
    };
    for id in ["welcome", "promo"] {
        let campaign =
            baton::Campaign { id: id.into(), conversion: Some(conversion.clone()), ..welcome_campaign() };
        engine.create_campaign("test", campaign).unwrap();
    }
    let config = serde_json::json!({"conversion_events": ["Order Completed"], "lookback_ms": 3 * DAY});
    engine
        .bind("test", "welcome", Slot::Kpi("attribution".into()), plugin, config, Grants::default())
        .unwrap();
    let (ada, bob) = ada_and_bob(&engine);
    let t0 = 1_749_000_000_000;
    // The host's delivery records: both campaigns reached Ada (promo last), welcome reached Bob.
    engine
        .storage()
        .append_events(&[
            touch("w-ada", ada, "welcome", t0),
            touch("p-ada", ada, "promo", t0 + DAY),
            touch("w-bob", bob, "welcome", t0),
        ])
        .unwrap();
    engine
        .storage()
        .ingest(
            &[
                segment_event(
                    "o-ada",
                    "ada",
                    "Order Completed",
                    t0 + 2 * DAY,
                    serde_json::json!({"revenue": 100.0}),
                ),
                segment_event(
                    "o-bob",
                    "bob",
                    "Order Completed",
                    t0 + DAY,
                    serde_json::json!({"revenue": 40.0}),
                ),
            ],
            t0 + 3 * DAY,
        )
        .unwrap();

    let converted = |campaign: &str| engine.campaign_results(campaign).unwrap().groups[0].converted;
    assert_eq!(
        (converted("welcome"), converted("promo")),
        (2, 1),
        "each campaign counts each of its converted recipients"
    );
    let snapshot = engine.compute_kpis("welcome").unwrap().remove(0);
    assert!(snapshot.reads.ends_with("the campaign's results count each of its recipients' conversions within 3 days after its message, whatever else touched them."), "{}", snapshot.reads);
    let credited = |campaign: &str| credited(&snapshot, "attributed_conversions", "last_touch", campaign);
    assert_eq!(
        (credited("welcome"), credited("promo")),
        (1.0, 1.0),
        "Ada's order is promo's: it touched her last"
    );
    assert!(
        credited("welcome") <= converted("welcome") as f64 && credited("promo") <= converted("promo") as f64
    );
    assert_eq!(credited("welcome") + credited("promo"), 2.0, "every conversion credited once");
}
