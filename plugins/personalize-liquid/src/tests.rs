//! The personalizer's own tests: what a template sees and how each part is rendered. The
//! engine's tag and filter coverage (every example of Shopify's documentation) lives with the
//! engine, in `sdk/liquid/tests`.

use super::*;

fn invocation(config: &str) -> Invocation {
    // 2026-11-30T18:00:00Z
    Invocation { campaign_id: "welcome".into(), config: config.into(), now: 1_796_061_600_000, seed: 0 }
}

fn ada() -> Subject {
    Subject {
        profile_id: "pr_1".into(),
        attributes: vec![
            Attribute { name: "first_name".into(), value: Value::Text("Ada".into()) },
            Attribute { name: "points".into(), value: Value::Integer(1200) },
            Attribute { name: "tags".into(), value: Value::Json(r#"["vip","beta"]"#.into()) },
            Attribute { name: "company".into(), value: Value::Text("Fish & <Chips>".into()) },
            // 2026-03-29T00:30:00Z: still the 28th in New York.
            Attribute { name: "renewal".into(), value: Value::Timestamp(1_774_744_200_000) },
        ],
        events: vec![
            event("e2", "order_completed", 2_000, r#"{"total": 10}"#),
            event("e3", "page", 3_000, "{}"),
            event("e4", "order_completed", 4_000, r#"{"total": 25}"#),
        ],
        timezone: Some("America/New_York".into()),
        trigger: Some(event(
            "e1",
            "order_completed",
            1,
            r#"{"total": 42.5, "items": [{"sku": "A"}, {"sku": "B"}]}"#,
        )),
    }
}

fn event(id: &str, name: &str, timestamp: i64, properties: &str) -> Event {
    Event {
        id: id.into(),
        profile_id: "pr_1".into(),
        name: name.into(),
        timestamp,
        properties: properties.into(),
        campaign_id: None,
    }
}

fn message(subject: &str, body: &str) -> Message {
    Message {
        channel: "email".into(),
        recipient: "ada@example.com".into(),
        subject: Some(subject.into()),
        body: body.into(),
        html: None,
        variant_id: Some("B".into()),
        data: "{}".into(),
        idempotency_key: "k".into(),
    }
}

fn render(config: &str, m: Message) -> Result<Message, PluginError> {
    Liquid::personalize(invocation(config), ada(), m)
}

#[test]
fn renders_profile_event_campaign_and_filters() {
    let template = message(
        "{{ profile.first_name | upcase }}, thanks for {{ event.properties.total }} EUR",
        "{% for item in event.properties.items %}{{ item.sku }}{% unless forloop.last %},{% endunless %}{% endfor %} \
         | {{ profile.points | plus: 100 }} points | {% if profile.tags contains 'vip' %}VIP{% endif %} \
         | {{ campaign.id }}/{{ message.variant }} | {{ profile.nickname | default: 'friend' }}",
    );
    let out = render("{}", template).unwrap();
    assert_eq!(out.subject.as_deref(), Some("ADA, thanks for 42.5 EUR"));
    assert_eq!(out.body, "A,B | 1300 points | VIP | welcome/B | friend");
    assert_eq!(out.recipient, "ada@example.com");
}

#[test]
fn a_marketing_message_renders_its_unsubscribe_link() {
    let mut template = message("s", r#"<a href="{{ unsubscribe_url }}">Unsubscribe</a>"#);
    template.data = r#"{"unsubscribe_url":"https://baton.example/u/a.b"}"#.into();
    let out = render("{}", template).unwrap();
    assert_eq!(out.body, r#"<a href="https://baton.example/u/a.b">Unsubscribe</a>"#);
}

#[test]
fn missing_variables_are_empty_unless_strict() {
    let template = message("Hi {{ profile.nickname }}!", "x");
    assert_eq!(render("{}", template.clone()).unwrap().subject.as_deref(), Some("Hi !"));
    let err = render(r#"{"strict": true}"#, template).unwrap_err();
    assert_eq!(err, PluginError::new("missing_variable", "subject: line 1: `profile.nickname` is not set"));
    // `default` is how a strict template says a value may be missing.
    let out =
        render(r#"{"strict": true}"#, message("Hi {{ profile.nickname | default: 'you' }}", "x")).unwrap();
    assert_eq!(out.subject.as_deref(), Some("Hi you"));
}

#[test]
fn config_templates_override_and_syntax_errors_are_refused() {
    let out = render(r#"{"body": "Dear {{ profile.first_name }}"}"#, message("s", "ignored")).unwrap();
    assert_eq!(out.body, "Dear Ada");
    let err = Liquid::validate_config(r#"{"body": "{% if %}"}"#).unwrap_err();
    assert_eq!(err.path, "/body");
    assert_eq!(err.message, "line 1: `{% if %}` needs a condition");
    assert_eq!(Liquid::validate_config(r#"{"colour": "red"}"#).unwrap_err().path, "");
    let err = Liquid::validate_config(r#"{"subject": "{{ x | upcsae }}"}"#).unwrap_err();
    assert_eq!(err.message, "line 1: unknown filter `upcsae` in `x | upcsae`");
    let err = render("{}", message("{% for %}", "x")).unwrap_err();
    assert_eq!(err.code, "template_syntax");
}

#[test]
fn values_are_escaped_in_html_and_not_in_the_text_parts() {
    let mut template = message("{{ profile.company }}", "{{ profile.company }}");
    template.html = Some("<p>{{ profile.company }}</p><p>{{ profile.company | raw }}</p>".into());
    let out = render("{}", template).unwrap();
    assert_eq!(out.subject.as_deref(), Some("Fish & <Chips>"));
    assert_eq!(out.body, "Fish & <Chips>");
    assert_eq!(out.html.as_deref(), Some("<p>Fish &amp; &lt;Chips&gt;</p><p>Fish & <Chips></p>"));
}

#[test]
fn dates_are_in_the_profiles_time_zone_and_locale() {
    let body = "{{ profile.renewal | date: '%Y-%m-%d %H:%M %Z' }} | {{ profile.renewal | local_date: 'long' }} \
                | {{ 'now' | date: '%H:%M' }}";
    let out = render("{}", message("s", body)).unwrap();
    assert_eq!(out.body, "2026-03-28 20:30 EDT | March 28, 2026 | 13:00");
    let mut french = message("s", "{{ profile.renewal | local_date: 'full' }}");
    french.data = r#"{"template_context": {"locale": "fr-CA"}}"#.into();
    assert_eq!(render("{}", french).unwrap().body, "samedi 28 mars 2026");
}

#[test]
fn snippets_from_the_host_render_and_the_context_is_not_passed_on() {
    let mut template = message("s", "{% render 'footer', name: profile.first_name %}");
    template.data = serde_json::json!({
        "unsubscribe_url": "https://u",
        "template_context": {"snippets": {"footer": "Bye {{ name }} ({{ profile.first_name }})"}},
    })
    .to_string();
    let out = render("{}", template).unwrap();
    // `render` sees what it is passed and nothing else, as in Shopify's Liquid.
    assert_eq!(out.body, "Bye Ada ()");
    assert_eq!(out.data, r#"{"unsubscribe_url":"https://u"}"#);
    let err = render("{}", message("s", "{% render 'missing' %}")).unwrap_err();
    assert_eq!(err, PluginError::new("template_render", "body: line 1: there is no snippet named `missing`"));
}

#[test]
fn recent_events_of_named_kinds_newest_first() {
    let config = r#"{"events": {"names": ["order_completed"], "limit": 2}}"#;
    let body =
        "{% for e in events %}{{ e.properties.total }}{% unless forloop.last %},{% endunless %}{% endfor %}";
    assert_eq!(render(config, message("s", body)).unwrap().body, "25,10");
    assert_eq!(render("{}", message("s", body)).unwrap().body, "");
    let needs = Liquid::needs_for_config(config);
    assert_eq!(needs.events, ["order_completed"]);
    assert!(Liquid::needs_for_config("{}").events.is_empty());
}

#[test]
fn the_journey_step_and_preferences_link_are_variables() {
    let mut template = message("s", "{{ journey.id }}/{{ journey.step }} {{ preferences_url }}");
    template.data = serde_json::json!({"template_context": {
        "journey": {"id": "onboarding", "version": 2, "step": "reminder"},
        "preferences_url": "https://p",
    }})
    .to_string();
    assert_eq!(render("{}", template).unwrap().body, "onboarding/reminder https://p");
}

#[test]
fn a_preview_reports_variables_used_and_not_set() {
    let mut template = message("{{ profile.first_name }}", "{{ profile.nickname }}{{ event.name }}");
    template.data = r#"{"template_context": {"preview": true}}"#.into();
    let out = render("{}", template).unwrap();
    let data: serde_json::Value = serde_json::from_str(&out.data).unwrap();
    assert_eq!(
        data["template_report"],
        serde_json::json!({"used": ["event.name", "profile.first_name"], "undefined": ["profile.nickname"]})
    );
}

#[test]
fn templates_that_build_too_much_are_stopped_with_a_clear_error() {
    let err = render("{}", message("s", "{% for i in (1..1000000000) %}x{% endfor %}")).unwrap_err();
    assert_eq!(err.code, "template_limit");
    assert_eq!(err.message, "body: line 1: a loop over 1000000000 items is more than 100000 iterations");
    let err = render(r#"{"max_output_bytes": 1000}"#, message("s", "{% for i in (1..2000) %}x{% endfor %}"))
        .unwrap_err();
    assert_eq!(err.message, "body: the output is over 1000 bytes; the template builds too much");
}

#[test]
fn a_commented_tag_does_not_trap() {
    // liquid-rust 0.26 panicked on this one (a Wasm trap in the plugin).
    let out = render("{}", message("s", "{% comment %}{% if %}{% endcomment %}x{%- comment -%} {% raw %}{% endcomment %}{% endraw %} {%- endcomment %}")).unwrap();
    assert_eq!(out.body, "x");
}
