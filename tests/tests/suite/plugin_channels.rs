//! The vendor adapters' Wasm builds through the runtime: the requests they build and how they
//! read vendor answers (the vendors themselves are not reachable from tests).

use baton::contract::{DeliveryOutcome, HttpResponse, Message};
use baton_tests::{invocation, runtime};

fn message(recipient: &str) -> Message {
    Message {
        channel: "email".into(),
        recipient: recipient.into(),
        subject: Some("Hi".into()),
        body: "Hello".into(),
        html: None,
        variant_id: None,
        data: "{}".into(),
        idempotency_key: "c-1:pr_1:e1".into(),
    }
}

#[test]
fn sendgrid_and_twilio_build_and_classify_in_wasm() {
    let (runtime, _dir) = runtime();
    let sendgrid = runtime.install(baton::first_party("channel-sendgrid").unwrap()).unwrap();
    assert_eq!(sendgrid.record().allowed_hosts, vec!["api.sendgrid.com".to_owned()]);
    let built = runtime
        .call(&sendgrid)
        .build(&invocation(r#"{"from_email": "news@shop.example"}"#), &message("ada@example.com"))
        .unwrap()
        .value;
    assert_eq!(built[0].url, "https://api.sendgrid.com/v3/mail/send");
    let body: serde_json::Value = serde_json::from_slice(&built[0].body).unwrap();
    assert_eq!(body["custom_args"]["idempotency_key"], "c-1:pr_1:e1");
    let accepted =
        HttpResponse { status: 202, headers: vec![("x-message-id".into(), "m1".into())], body: vec![] };
    let outcome = runtime.call(&sendgrid).classify(&invocation("{}"), 0, &accepted).unwrap().value;
    assert_eq!(outcome, DeliveryOutcome::Delivered(Some("m1".into())));

    let twilio = runtime.install(baton::first_party("channel-twilio-sms").unwrap()).unwrap();
    let config = r#"{"account_sid": "AC0123456789abcdef0123456789abcdef", "from": "+14155550100"}"#;
    let built = runtime.call(&twilio).build(&invocation(config), &message("+33612345678")).unwrap().value;
    assert_eq!(built[0].headers[1].1, "application/x-www-form-urlencoded");
    let refused = runtime.call(&twilio).build(&invocation(config), &message("ada@example.com")).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "plugin channel-twilio-sms@0.1.0 build: plugin error `invalid_recipient`: `ada@example.com` is not an E.164 phone number"
    );
}
