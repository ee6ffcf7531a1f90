//! Vendor feedback over HTTP: SendGrid's signed Event Webhook, signed in the test as SendGrid
//! signs it (ECDSA P-256 over the timestamp and the body), posted to the real server. A request
//! whose signature fails is refused before any plugin runs; a verified one becomes events on the
//! profiles the messages went to, attributed to their campaign, and a bounce suppresses the
//! channel.

use std::sync::Arc;

use base64::Engine as _;
use baton::{ApiConfig, Clock, Role, SendOutcome};
use baton_tests::{customer, engine, http, pending_send, serve, welcome_campaign};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

/// DER prefix of a P-256 SubjectPublicKeyInfo: what SendGrid's console shows is this plus the point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

struct SendGridSigner {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl SendGridSigner {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        SendGridSigner { pair, rng }
    }

    /// The verification key as SendGrid's mail settings show it.
    fn public_key(&self) -> String {
        let spki = [&P256_SPKI_PREFIX[..], self.pair.public_key().as_ref()].concat();
        base64::engine::general_purpose::STANDARD.encode(spki)
    }

    /// The signature header SendGrid sends for `body` signed at `timestamp` (seconds).
    fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let signed = [timestamp.as_bytes(), body].concat();
        base64::engine::general_purpose::STANDARD.encode(self.pair.sign(&self.rng, &signed).unwrap())
    }
}

async fn post_webhook(
    base: &str,
    timestamp: &str,
    signature: Option<&str>,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut request = http()
        .post(format!("{base}/v1/feedback/sendgrid"))
        .header("content-type", "application/json")
        .header("x-twilio-email-event-webhook-timestamp", timestamp);
    if let Some(signature) = signature {
        request = request.header("x-twilio-email-event-webhook-signature", signature);
    }
    let response = request.body(body.to_vec()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// Messages of `campaign` the vendor accepted, with the message ids it answered; their keys.
fn delivered(engine: &baton::Engine, campaign: &str, sent: &[(baton::ProfileId, &str)]) -> Vec<String> {
    let mut keys = Vec::new();
    for (profile, receipt) in sent {
        let (send, sent_to) = pending_send(campaign, *profile, "signup", 100);
        engine.storage().enqueue(&[(send.clone(), sent_to)]).unwrap();
        let outcome = SendOutcome::Delivered { receipt: Some((*receipt).into()) };
        assert!(engine.storage().finish_send(&send.idempotency_key, outcome, 150).unwrap());
        keys.push(send.idempotency_key);
    }
    keys
}

fn plugin_calls(plugin: &baton::LoadedPlugin) -> u64 {
    plugin.stats().calls.values().sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_sendgrid_events_become_events_and_a_bad_signature_reaches_no_plugin() {
    let (engine, clock, _dir) = engine();
    let engine = Arc::new(engine);
    engine.create_campaign("test", welcome_campaign()).unwrap();
    let ada = customer(&engine, "ada", serde_json::json!({"email": "ada@example.com"}), true);
    let bob = customer(&engine, "bob", serde_json::json!({"email": "bob@example.com"}), true);
    // Two messages SendGrid accepted, with the message ids it answered.
    let keys = delivered(&engine, "welcome", &[(ada, "msg-ada"), (bob, "msg-bob")]);
    let sendgrid = engine.runtime().install(baton::first_party("channel-sendgrid").unwrap()).unwrap();
    assert_eq!(sendgrid.record().contract, "0.3.0");
    let (admin, _) = engine.storage().create_token("ops", Role::Admin, 1).unwrap();
    let (app, _) = engine.storage().create_token("app", Role::Connector, 1).unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let signer = SendGridSigner::new();

    // Only an admin makes an endpoint; its config must hold the verification key.
    let endpoint = |config: serde_json::Value| serde_json::json!({"plugin": sendgrid.hash().to_string(), "config": config});
    let put = |token: &str, body: serde_json::Value| {
        http().put(format!("{base}/v1/feedback-endpoints/sendgrid")).bearer_auth(token).json(&body).send()
    };
    let refused =
        put(&app, endpoint(serde_json::json!({"verification_key": signer.public_key()}))).await.unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let incomplete = put(&admin, endpoint(serde_json::json!({}))).await.unwrap();
    assert_eq!(
        incomplete.status().as_u16(),
        409,
        "the adapter refuses the config: its rules, not the document's"
    );
    let made =
        put(&admin, endpoint(serde_json::json!({"verification_key": signer.public_key()}))).await.unwrap();
    assert_eq!(made.status().as_u16(), 200, "{}", made.text().await.unwrap());

    let now_s = (clock.now_ms() / 1000).to_string();
    let body = serde_json::json!([
        {"event": "open", "email": "ada@example.com", "timestamp": 1_750_000_000, "idempotency_key": keys[0],
         "sg_message_id": "msg-ada.filter0001", "useragent": "Mail/1.0"},
        {"event": "delivered", "email": "ada@example.com", "timestamp": 1_749_999_990,
         "sg_message_id": "msg-ada.filter0001", "response": "250 OK"},
        {"event": "bounce", "type": "blocked", "email": "ada@example.com", "timestamp": 1_750_000_003,
         "sg_message_id": "msg-ada.filter0001", "reason": "421 try again later"},
        {"event": "bounce", "type": "bounce", "email": "bob@example.com", "timestamp": 1_750_000_001,
         "sg_message_id": "msg-bob.filter0002", "reason": "550 5.1.1 no such user"},
        {"event": "open", "email": "eve@example.com", "timestamp": 1_750_000_002, "sg_message_id": "unknown.filter"}
    ])
    .to_string()
    .into_bytes();
    let signature = signer.sign(&now_s, &body);

    // Attacks: a tampered body, no signature, a replay from ten minutes ago, another key.
    let calls_before = plugin_calls(&sendgrid);
    let tampered = String::from_utf8(body.clone()).unwrap().replace("\"bounce\",", "\"delivered\",");
    let (status, answer) = post_webhook(&base, &now_s, Some(&signature), tampered.as_bytes()).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (401, Some("webhook_signature_refused")),
        "{answer}"
    );
    assert_eq!(answer["error"]["message"], "webhook refused: the signature does not verify");
    let (status, answer) = post_webhook(&base, &now_s, None, &body).await;
    assert_eq!(status, 401);
    assert_eq!(
        answer["error"]["message"],
        "webhook refused: the `x-twilio-email-event-webhook-signature` header is missing"
    );
    let old_s = (clock.now_ms() / 1000 - 600).to_string();
    let (status, answer) = post_webhook(&base, &old_s, Some(&signer.sign(&old_s, &body)), &body).await;
    assert_eq!(status, 401);
    assert_eq!(
        answer["error"]["message"],
        "webhook refused: the signature's timestamp is 600 s from now, beyond the tolerance of 300 s"
    );
    let stranger = SendGridSigner::new();
    let (status, _) = post_webhook(&base, &now_s, Some(&stranger.sign(&now_s, &body)), &body).await;
    assert_eq!(status, 401);
    assert_eq!(plugin_calls(&sendgrid), calls_before, "no plugin ran for a refused request");
    assert!(engine.storage().events_of(ada).unwrap().is_empty());

    // SendGrid's real request: no Baton token, its signature only.
    let (status, answer) = post_webhook(&base, &now_s, Some(&signature), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, serde_json::json!({"reports": 5, "recorded": 4, "unmatched": 1}));
    // SendGrid retries a webhook it thinks failed: the same reports are recorded once.
    let (_, again) = post_webhook(&base, &now_s, Some(&signature), &body).await;
    assert_eq!(again, serde_json::json!({"reports": 5, "recorded": 0, "unmatched": 1}));

    // Ada's message was delivered, opened, then a later one blocked (a soft bounce).
    let mut of_ada = engine.storage().events_of(ada).unwrap();
    of_ada.sort_by_key(|e| e.timestamp);
    let names: Vec<_> = of_ada.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, vec!["email_delivered", "email_opened", "email_dropped"]);
    let opened = &of_ada[1];
    assert_eq!((opened.name.as_str(), opened.campaign.as_deref()), ("email_opened", Some("welcome")));
    assert_eq!(opened.timestamp, 1_750_000_000_000);
    assert_eq!(opened.properties["useragent"], "Mail/1.0");
    assert_eq!(opened.properties["vendor_message_id"], "msg-ada");
    assert_eq!(of_ada[0].properties["response"], "250 OK");
    assert_eq!(of_ada[2].properties["type"], "blocked");
    let bounced = engine.storage().events_of(bob).unwrap();
    assert_eq!(bounced.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["bounced"]);
    assert_eq!(bounced[0].properties["reason"], "550 5.1.1 no such user");
    // The bounce was queued for the triggered campaigns with its event: it suppresses email.
    engine.drain_triggers().unwrap();
    let bob_now = engine.storage().profile(bob).unwrap().unwrap();
    assert!(bob_now.suppressions.contains_key("email"), "{:?}", bob_now.suppressions);
    // A soft bounce suppresses nothing: the next message may well arrive.
    assert!(engine.storage().profile(ada).unwrap().unwrap().suppressions.is_empty());

    let unknown = http().post(format!("{base}/v1/feedback/mailgun")).body("[]").send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn twilio_status_callbacks_are_checked_with_the_auth_token_over_the_public_url() {
    use ring::hmac;
    let (engine, _clock, _dir) = engine();
    let engine = Arc::new(engine);
    let campaign = baton::Campaign { id: "sms-welcome".into(), channel: "sms".into(), ..welcome_campaign() };
    engine.create_campaign("test", campaign).unwrap();
    let ada = customer(&engine, "ada", serde_json::json!({"phone": "+15551234567"}), true);
    let bob = customer(&engine, "bob", serde_json::json!({"phone": "+15557654321"}), true);
    delivered(&engine, "sms-welcome", &[(ada, "SM0123"), (bob, "SM0456")]);
    let token = "twilio-auth-token";
    engine
        .set_secret("ops", "TWILIO_AUTH_TOKEN", &baton::SecretValue::new(token), &["api.twilio.com".into()])
        .unwrap();
    let twilio = engine.runtime().install(baton::first_party("channel-twilio-sms").unwrap()).unwrap();

    // The check needs the auth token: an endpoint that does not grant it is refused, saying so.
    let err = engine
        .put_feedback_endpoint("ops", "sms", &twilio.hash(), serde_json::json!({}), vec![])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "plugin channel-twilio-sms@0.1.0 signs with the secret `TWILIO_AUTH_TOKEN`: grant it to the endpoint (\"secrets\": [\"TWILIO_AUTH_TOKEN\"])"
    );
    engine
        .put_feedback_endpoint(
            "ops",
            "sms",
            &twilio.hash(),
            serde_json::json!({}),
            vec!["TWILIO_AUTH_TOKEN".into()],
        )
        .unwrap();
    let config = ApiConfig { public_url: Some("https://baton.example.com/".into()), ..ApiConfig::default() };
    let base = serve(engine.clone(), config).await;

    // As Twilio signs: the URL it called, then each parameter name and value, sorted by name.
    let body = "To=%2B15551234567&MessageStatus=undelivered&MessageSid=SM0123&ErrorCode=30005";
    let signed = "https://baton.example.com/v1/feedback/sms?src=twilioErrorCode30005MessageSidSM0123MessageStatusundeliveredTo+15551234567";
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, token.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, signed.as_bytes()));
    let post = |signature: String, body: &'static str| {
        http()
            .post(format!("{base}/v1/feedback/sms?src=twilio"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(body)
            .send()
    };
    let forged =
        post(signature.clone(), "To=%2B15551234567&MessageStatus=delivered&MessageSid=SM0123").await.unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let answer: serde_json::Value = post(signature, body).await.unwrap().json().await.unwrap();
    assert_eq!(answer, serde_json::json!({"reports": 1, "recorded": 1, "unmatched": 0}));
    let events = engine.storage().events_of(ada).unwrap();
    assert_eq!(events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["bounced"]);
    assert_eq!(
        (events[0].properties["channel"].as_str(), events[0].properties["error_code"].as_str()),
        (Some("sms"), Some("30005"))
    );
    engine.drain_triggers().unwrap();
    assert!(engine.storage().profile(ada).unwrap().unwrap().suppressions.contains_key("sms"));

    // Bob's receipt: delivered, recorded for the KPIs, suppressing nothing.
    let signed = "https://baton.example.com/v1/feedback/sms?src=twilioMessageSidSM0456MessageStatusdelivered";
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, signed.as_bytes()));
    let answer: serde_json::Value =
        post(signature, "MessageStatus=delivered&MessageSid=SM0456").await.unwrap().json().await.unwrap();
    assert_eq!(answer, serde_json::json!({"reports": 1, "recorded": 1, "unmatched": 0}));
    let events = engine.storage().events_of(bob).unwrap();
    assert_eq!(events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["sms_delivered"]);
    engine.drain_triggers().unwrap();
    assert!(engine.storage().profile(bob).unwrap().unwrap().suppressions.is_empty());
}

/// A receiving system behind the generic webhook adapter reports back as Baton signs what it
/// sends (HMAC-SHA256 of the timestamp and the body, with a secret granted to the endpoint):
/// deliveries become events, a hard bounce suppresses the address, a report signed with another
/// secret or naming an event Baton does not know changes nothing, and says why.
#[tokio::test(flavor = "multi_thread")]
async fn webhook_feedback_signed_like_baton_signs_becomes_events() {
    use ring::hmac;
    let (engine, clock, _dir) = engine();
    let engine = Arc::new(engine);
    engine.create_campaign("test", welcome_campaign()).unwrap();
    let ada = customer(&engine, "ada", serde_json::json!({"email": "ada@example.com"}), true);
    let bob = customer(&engine, "bob", serde_json::json!({"email": "bob@example.com"}), true);
    let keys = delivered(&engine, "welcome", &[(ada, "m-1"), (bob, "m-2")]);
    let secret = "feedback-secret-value";
    let hosts = ["hooks.example.com".to_owned()];
    engine.set_secret("ops", "HOOK_FEEDBACK_KEY", &baton::SecretValue::new(secret), &hosts).unwrap();
    let webhook = engine.runtime().install(baton::first_party("channel-webhook").unwrap()).unwrap();
    let err = engine
        .put_feedback_endpoint("ops", "hook", &webhook.hash(), serde_json::json!({}), vec![])
        .unwrap_err();
    assert!(err.to_string().contains("secret"), "{err}");
    let config = serde_json::json!({"secret": "HOOK_FEEDBACK_KEY"});
    engine
        .put_feedback_endpoint("ops", "hook", &webhook.hash(), config, vec!["HOOK_FEEDBACK_KEY".into()])
        .unwrap();
    let base = serve(engine.clone(), ApiConfig::default()).await;

    let now_s = (clock.now_ms() / 1000).to_string();
    let sign = |key: &str, body: &str| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
        let tag = hmac::sign(&key, format!("{now_s}.{body}").as_bytes());
        format!("sha256={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
    };
    let post = |signature: String, body: String| {
        http()
            .post(format!("{base}/v1/feedback/hook"))
            .header("content-type", "application/json")
            .header("x-baton-timestamp", now_s.clone())
            .header("x-baton-signature", signature)
            .body(body)
            .send()
    };
    let body = serde_json::json!([
        {"event": "delivered", "idempotency_key": keys[0], "timestamp": 1_750_000_000_000_i64},
        {"event": "bounced", "message_id": "m-2", "properties": {"reason": "550 no such user"}}
    ])
    .to_string();

    let forged = post(sign("another-secret", &body), body.clone()).await.unwrap();
    assert_eq!(forged.status().as_u16(), 401);
    let unknown = serde_json::json!([{"event": "read", "idempotency_key": keys[0]}]).to_string();
    let refused = post(sign(secret, &unknown), unknown).await.unwrap();
    let status = refused.status().as_u16();
    let answer: serde_json::Value = refused.json().await.unwrap();
    assert!((400..500).contains(&status), "{status} {answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("unknown event `read`"), "{answer}");
    assert!(engine.storage().events_of(ada).unwrap().is_empty());

    let answer: serde_json::Value = post(sign(secret, &body), body).await.unwrap().json().await.unwrap();
    assert_eq!(answer, serde_json::json!({"reports": 2, "recorded": 2, "unmatched": 0}));
    let delivered = engine.storage().events_of(ada).unwrap();
    assert_eq!(delivered.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["email_delivered"]);
    assert_eq!(delivered[0].timestamp, 1_750_000_000_000);
    let bounced = engine.storage().events_of(bob).unwrap();
    assert_eq!(bounced.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), vec!["bounced"]);
    assert_eq!(bounced[0].properties["reason"], "550 no such user");
    engine.drain_triggers().unwrap();
    assert!(engine.storage().profile(bob).unwrap().unwrap().suppressions.contains_key("email"));
    assert!(engine.storage().profile(ada).unwrap().unwrap().suppressions.is_empty());
}
