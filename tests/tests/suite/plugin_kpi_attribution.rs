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
    let traits = serde_json::Map::new();
    let ada = engine.storage().identify(Some("ada"), None, &traits, 1).unwrap();
    let bob = engine.storage().identify(Some("bob"), None, &traits, 1).unwrap();
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
    let metrics = snapshots[0].metrics.as_array().unwrap();
    let credit = |model: &str, campaign: &str| {
        metrics
            .iter()
            .find(|m| {
                m["name"] == "attributed_revenue"
                    && m["dimensions"][0][1] == model
                    && m["dimensions"][1][1] == campaign
            })
            .map_or(0.0, |m| m["value"].as_f64().unwrap())
    };
    assert_eq!(credit("first_touch", "welcome"), 80.0);
    assert_eq!(credit("last_touch", "promo"), 80.0);
    assert_eq!((credit("linear", "welcome"), credit("linear", "promo")), (40.0, 40.0));
}
