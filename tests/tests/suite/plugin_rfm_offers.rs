//! `segment-rfm` and `personalize-offers` Wasm builds through the runtime.

use baton::contract::{Event, Message, Value};
use baton_tests::{invocation, runtime, subject};

const DAY: i64 = 86_400_000;

#[test]
fn rfm_scores_and_the_next_best_offer_in_wasm() {
    let (runtime, _dir) = runtime();
    let rfm = runtime.install(baton::first_party("segment-rfm").unwrap()).unwrap();
    let mut champion = subject("pr_1", &[("tier", Value::Text("vip".into()))]);
    let now = invocation("{}").now;
    champion.events = (0..9)
        .map(|i| Event {
            id: format!("o{i}"),
            profile_id: "pr_1".into(),
            name: "order_completed".into(),
            timestamp: now - (3 + 10 * i) * DAY,
            properties: r#"{"revenue": 120}"#.into(),
            campaign_id: None,
        })
        .collect();
    let newcomer = subject("pr_2", &[]);
    let verdicts =
        runtime.call(&rfm).evaluate(&invocation("{}"), &[champion.clone(), newcomer]).unwrap().value;
    assert_eq!(
        verdicts.iter().map(|m| (m.member, m.score)).collect::<Vec<_>>(),
        vec![(true, Some(555.0)), (false, Some(111.0))]
    );

    let offers = runtime.install(baton::first_party("personalize-offers").unwrap()).unwrap();
    let config = r#"{"offers": [{"id": "ship", "rank": 1, "title": "Free shipping"}, {"id": "vip", "rank": 9, "title": "VIP 20%", "when": {"attribute": "tier", "op": "eq", "value": "vip"}}]}"#;
    let template = Message {
        channel: "email".into(),
        recipient: "a@b.c".into(),
        subject: Some("{{offer.title}}".into()),
        body: "b".into(),
        html: None,
        variant_id: None,
        data: "{}".into(),
        idempotency_key: "k".into(),
    };
    let message = runtime.call(&offers).personalize(&invocation(config), &champion, &template).unwrap().value;
    assert_eq!(message.subject.as_deref(), Some("VIP 20%"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&message.data).unwrap()["offer"]["id"], "vip");
}
