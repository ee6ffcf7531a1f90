//! Personalization with real templates through the engine and the API: snippets and message
//! templates stored as content (live for sends, newest for previews), the reader's locale
//! picking a message variant, dates in the reader's time zone, HTML escaping in the HTML part
//! only, and a campaign's message rendered for one person found by email.

use std::sync::Arc;

use baton::content::{ContentKind, ContentSpec};
use baton::{ApiConfig, CampaignState, Engine, EngineError, Grants, MessageTemplate, ProfileId, Slot};
use baton_tests::{customer, echo_grants, engine, fixture, http, serve, welcome_campaign};

const NOW: i64 = 1_796_061_600_000; // 2026-11-30T18:00:00Z

fn snippet(body: &str) -> ContentSpec {
    ContentSpec {
        kind: ContentKind::Snippet,
        description: String::new(),
        subject: None,
        body: body.into(),
        html: None,
        locales: Default::default(),
    }
}

fn message(subject: &str, body: &str, html: Option<&str>) -> MessageTemplate {
    MessageTemplate {
        subject: Some(subject.into()),
        body: body.into(),
        html: html.map(str::to_owned),
        data: serde_json::json!({}),
        content: None,
        locales: Default::default(),
    }
}

/// An active `welcome` campaign sending `message` to vip profiles, rendered by
/// `personalize-liquid`.
fn liquid_campaign(engine: &Engine, message: MessageTemplate) {
    bound_campaign(engine, message);
    engine.transition("test", "welcome", CampaignState::Active).unwrap();
}

/// [`liquid_campaign`], still a draft.
fn bound_campaign(engine: &Engine, message: MessageTemplate) {
    let mut campaign = welcome_campaign();
    campaign.message = message;
    let segment = engine.runtime().install(&fixture("seg-vip")).unwrap().hash();
    let liquid = engine.runtime().install(baton::first_party("personalize-liquid").unwrap()).unwrap().hash();
    let channel = engine.runtime().install(&fixture("chan-echo")).unwrap().hash();
    engine.create_campaign("test", campaign).unwrap();
    engine
        .bind(
            "test",
            "welcome",
            Slot::Segment,
            segment,
            serde_json::json!({"tier": "vip"}),
            Grants::default(),
        )
        .unwrap();
    engine
        .bind("test", "welcome", Slot::Personalizer, liquid, serde_json::json!({}), Grants::default())
        .unwrap();
    let echo = serde_json::json!({"url": "http://127.0.0.1:9/send"});
    engine.bind("test", "welcome", Slot::Channel, channel, echo, echo_grants()).unwrap();
}

fn vip(engine: &Engine, user: &str, traits: serde_json::Value) -> ProfileId {
    let mut all = serde_json::json!({"email": format!("{user}@example.com"), "tier": "vip"});
    all.as_object_mut().unwrap().extend(traits.as_object().unwrap().clone());
    customer(engine, user, all, true)
}

/// The message queued for `profile` after it signs up.
fn queued_for(engine: &Engine, profile: ProfileId, user: &str) -> serde_json::Value {
    let id = format!("signup-{user}");
    engine.ingest_live(&[baton_tests::user_event(&id, user, "signed_up", NOW)], NOW).unwrap();
    engine.drain_triggers().unwrap();
    let sends = engine.storage().pending_sends().unwrap();
    let send = sends.into_iter().find(|s| s.profile == profile).expect("a send was queued");
    send.message
}

#[test]
fn a_snippet_stored_as_content_renders_in_sends_and_a_new_version_shows_in_preview_first() {
    let (engine, clock, _dir) = engine();
    clock.set(NOW);
    engine.save_content("test", "footer", snippet("Bye {{ name }}, see {{ url }}")).unwrap();
    engine.publish_content("test", "footer", None).unwrap();
    let template = ContentSpec {
        kind: ContentKind::Template,
        description: "the welcome mail".into(),
        subject: Some("Welcome {{ profile.first_name }}".into()),
        body: "Hi {{ profile.first_name }}. {% render 'footer', name: profile.first_name, url: 'https://shop.example' %}".into(),
        html: None,
        locales: Default::default(),
    };
    engine.save_content("test", "welcome-mail", template).unwrap();

    // A campaign naming content that is not live cannot be activated.
    let mut stored = message("", "", None);
    stored.subject = None;
    stored.content = Some("welcome-mail".into());
    bound_campaign(&engine, stored);
    let not_ready = engine.transition("test", "welcome", CampaignState::Active).unwrap_err();
    assert!(
        not_ready.to_string().contains("message.content: `welcome-mail` has no live version; publish one"),
        "{not_ready}"
    );
    engine.publish_content("test", "welcome-mail", None).unwrap();
    engine.transition("test", "welcome", CampaignState::Active).unwrap();

    let ada = vip(&engine, "ada", serde_json::json!({"first_name": "Ada"}));
    let sent = queued_for(&engine, ada, "ada");
    assert_eq!(sent["subject"], "Welcome Ada");
    assert_eq!(sent["body"], "Hi Ada. Bye Ada, see https://shop.example");
    // What templates read beside the profile does not reach the channel.
    assert!(!sent["data"].as_str().unwrap().contains("template_context"), "{sent}");

    // A new footer, saved but not published: previews show it, sends do not.
    engine.save_content("test", "footer", snippet("Ciao {{ name }}")).unwrap();
    let person = engine.person("ada@example.com").unwrap();
    let preview = engine.render_as("welcome", person, None).unwrap();
    assert_eq!(preview.body.as_deref(), Some("Hi Ada. Ciao Ada"));
    let bob = vip(&engine, "bob", serde_json::json!({"first_name": "Bob"}));
    assert_eq!(queued_for(&engine, bob, "bob")["body"], "Hi Bob. Bye Bob, see https://shop.example");
    engine.publish_content("test", "footer", None).unwrap();
    let cy = vip(&engine, "cy", serde_json::json!({"first_name": "Cy"}));
    assert_eq!(queued_for(&engine, cy, "cy")["body"], "Hi Cy. Ciao Cy");
}

#[test]
fn content_that_does_not_hold_together_is_refused_with_what_to_fix() {
    let (engine, _clock, _dir) = engine();
    let problems = |result: Result<baton::content::Content, EngineError>| match result.unwrap_err() {
        EngineError::InvalidContent(problems) => problems,
        other => panic!("{other}"),
    };
    assert_eq!(
        problems(engine.save_content("test", "broken", snippet("{% for x in %}"))),
        ["body: line 1: expected a value in `x in`"]
    );
    assert_eq!(
        problems(engine.save_content("test", "typo", snippet("{{ name | upcsae }}"))),
        ["body: line 1: unknown filter `upcsae` in `name | upcsae`"]
    );
    assert_eq!(
        problems(engine.save_content("test", "uses-missing", snippet("{% render 'nowhere' %}"))),
        ["it renders `nowhere`, which is not saved; save that snippet first"]
    );
    assert_eq!(
        problems(engine.save_content("test", "Bad Name", snippet("x"))),
        [r#"name "Bad Name": use 1 to 64 lowercase letters, digits, `_` or `-`"#]
    );
    engine.save_content("test", "footer", snippet("x")).unwrap();
    let mut template = snippet("y");
    template.kind = ContentKind::Template;
    assert_eq!(
        problems(engine.save_content("test", "footer", template)),
        ["kind: `footer` is a snippet; save a message template under another name"]
    );
    assert_eq!(
        problems(engine.publish_content("test", "footer", Some(7))),
        ["version 7: `footer` has versions 1 to 1"]
    );
    assert!(matches!(engine.content_view("nothing"), Err(EngineError::ContentNotFound(_))));
}

#[test]
fn the_readers_locale_picks_the_message_and_dates_are_in_their_time_zone() {
    let (engine, clock, _dir) = engine();
    clock.set(NOW);
    let mut welcome = message(
        "Welcome {{ profile.first_name }}",
        "Your plan renews on {{ profile.renews_at | date: '%B %-d, %Y at %H:%M %Z' }}.",
        None,
    );
    welcome.locales.insert(
        "fr".into(),
        serde_json::from_value(serde_json::json!({
            "subject": "Bienvenue {{ profile.first_name }}",
            "body": "Votre abonnement se renouvelle le {{ profile.renews_at | local_date: 'long' }} à {{ profile.renews_at | date: '%H:%M' }}."
        }))
        .unwrap(),
    );
    liquid_campaign(&engine, welcome);
    // 2027-01-01T04:30:00Z: still New Year's Eve in New York, already New Year's Day in Paris.
    let renews_at = "2027-01-01T04:30:00Z";
    let ann = vip(&engine, "ann", serde_json::json!({"first_name": "Ann", "renews_at": renews_at}));
    let zoe = vip(
        &engine,
        "zoe",
        serde_json::json!({"first_name": "Zoé", "renews_at": renews_at, "locale": "fr-CA"}),
    );
    let max = vip(&engine, "max", serde_json::json!({"first_name": "Max", "renews_at": renews_at}));
    for (profile, zone, locale) in
        [(ann, "America/New_York", None), (zoe, "Europe/Paris", None), (max, "Europe/Berlin", Some("de-DE"))]
    {
        engine
            .storage()
            .update_profile(profile, 3, |p| {
                p.timezone = Some(zone.into());
                p.locale = locale.map(str::to_owned);
            })
            .unwrap();
    }
    let ann_sent = queued_for(&engine, ann, "ann");
    assert_eq!(ann_sent["subject"], "Welcome Ann");
    assert_eq!(ann_sent["body"], "Your plan renews on December 31, 2026 at 23:30 EST.");
    let zoe_sent = queued_for(&engine, zoe, "zoe");
    assert_eq!(zoe_sent["subject"], "Bienvenue Zoé");
    assert_eq!(zoe_sent["body"], "Votre abonnement se renouvelle le 1 janvier 2027 à 05:30.");
    // German (from Segment's `context.locale`) has no variant: the default message, in Berlin time.
    let max_sent = queued_for(&engine, max, "max");
    assert_eq!(max_sent["body"], "Your plan renews on January 1, 2027 at 05:30 CET.");
}

#[test]
fn values_with_html_special_characters_are_escaped_in_html_and_not_in_the_body() {
    let (engine, clock, _dir) = engine();
    clock.set(NOW);
    liquid_campaign(
        &engine,
        message(
            "Hello {{ profile.company }}",
            "Hello {{ profile.company }}",
            Some("<p>Hello {{ profile.company }}</p>{{ profile.banner | raw }}"),
        ),
    );
    let eve = vip(
        &engine,
        "eve",
        serde_json::json!({"company": "Tom & Jerry <script>alert('x')</script>", "banner": "<b>Sale</b>"}),
    );
    let sent = queued_for(&engine, eve, "eve");
    assert_eq!(sent["subject"], "Hello Tom & Jerry <script>alert('x')</script>");
    assert_eq!(sent["body"], "Hello Tom & Jerry <script>alert('x')</script>");
    assert_eq!(
        sent["html"],
        "<p>Hello Tom &amp; Jerry &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p><b>Sale</b>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_previews_as_a_person_found_by_email_over_the_api() {
    let (engine, clock, _dir) = engine();
    clock.set(NOW);
    liquid_campaign(
        &engine,
        message(
            "Hi {{ profile.first_name }}",
            "{{ profile.nickname }}{{ profile.points | plus: 1 }}",
            Some("<i>{{ profile.first_name }}</i>"),
        ),
    );
    let ada = customer(
        &engine,
        "ada",
        serde_json::json!({"email": "ada@example.com", "first_name": "Ada", "points": 41}),
        false,
    );
    let engine = Arc::new(engine);
    let token = engine.storage().create_token("analyst", baton::Role::Analyst, 1).unwrap().0;
    let base = serve(engine.clone(), ApiConfig::default()).await;
    let client = http();
    let response = client
        .post(format!("{base}/v1/campaigns/welcome/render"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"who": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let rendered: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        rendered,
        serde_json::json!({
            "campaign": "welcome",
            "profile_id": ada.to_string(),
            "variant": null,
            "locale": null,
            "subject": "Hi Ada",
            "body": "42",
            "html": "<i>Ada</i>",
            "variables": ["profile.first_name", "profile.points"],
            "undefined": ["profile.nickname"],
            "error": null,
            // Ada never consented: she would not be sent it, and the marketer sees why.
            "would_skip": "no_consent",
        })
    );
    // Nothing was written by the preview.
    assert_eq!(engine.storage().outbox_len(), 0);
    let missing = client
        .post(format!("{base}/v1/campaigns/welcome/render"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"who": "nobody@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "profile_not_found");
}
