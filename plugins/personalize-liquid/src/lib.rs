//! `personalize-liquid`: renders the message's subject, body and HTML as Liquid templates (the
//! templating language of Shopify, Braze and Customer.io).
//!
//! Variables: `profile` (its attributes, plus `id` and `timezone`), `event` (the triggering event:
//! `name`, `timestamp`, `properties`), `campaign` (`id`), `message` (`variant`, `channel`),
//! `unsubscribe_url` (the recipient's signed link, on marketing messages).
//! A missing variable renders as empty unless the binding config sets `"strict": true`, in which
//! case the send fails with the variable's name. Template syntax errors are refused by
//! `validate-config` when the templates are given in the config (`"subject"`, `"body"`, `"html"`
//! override the campaign's), and otherwise fail the call with the line at fault.

use baton_sdk::*;
use serde::Deserialize;

/// The plugin.
pub struct Liquid;

/// The binding config.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Fail on a missing variable instead of rendering it empty.
    #[serde(default)]
    strict: bool,
    /// Templates overriding the campaign's.
    subject: Option<String>,
    body: Option<String>,
    html: Option<String>,
}

fn parser() -> Result<liquid::Parser, String> {
    liquid::ParserBuilder::with_stdlib().build().map_err(|e| e.to_string())
}

impl Plugin for Liquid {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "personalize-liquid",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Personalizer,
            "Renders subject and body as Liquid templates with the profile, the triggering event and the campaign.",
        )
        .with_needs(Needs::attributes(["*"]))
        .with_config_schema(r#"{"type":"object","properties":{"strict":{"type":"boolean"},"subject":{"type":"string"},"body":{"type":"string"},"html":{"type":"string"}},"additionalProperties":false}"#)
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        let parser = parser().map_err(|e| ConfigError::new("", &e))?;
        for (field, template) in
            [("subject", &config.subject), ("body", &config.body), ("html", &config.html)]
        {
            if let Some(template) = template {
                parser
                    .parse(template)
                    .map_err(|e| ConfigError::new(&format!("/{field}"), &flatten(&e.to_string())))?;
            }
        }
        Ok(())
    }
}

impl Personalizer for Liquid {
    fn personalize(
        invocation: Invocation,
        subject: Subject,
        template: Message,
    ) -> Result<Message, PluginError> {
        let config: Config = invocation.config()?;
        let parser = parser().map_err(|e| PluginError::new("template_engine", &e))?;
        let base = globals(&invocation, &subject, &template)?;
        let render = |field: &str, text: &str| -> Result<String, PluginError> {
            let compiled = parser.parse(text).map_err(|e| {
                PluginError::new("template_syntax", &format!("{field}: {}", flatten(&e.to_string())))
            })?;
            let paths = variable_paths(text);
            let mut values = base.clone();
            if config.strict {
                if let Some(name) = first_missing(&values, &paths) {
                    let message = format!("{field}: `{name}` is not set for this profile");
                    return Err(PluginError::new("missing_variable", &message));
                }
            } else {
                fill_missing(&mut values, &paths);
            }
            let globals = liquid::model::to_object(&values)
                .map_err(|e| PluginError::new("template_engine", &e.to_string()))?;
            compiled.render(&globals).map_err(|e| {
                PluginError::new("template_render", &format!("{field}: {}", flatten(&e.to_string())))
            })
        };
        let mut message = template.clone();
        let subject_template = config.subject.as_deref().or(template.subject.as_deref());
        message.subject = subject_template.map(|t| render("subject", t)).transpose()?;
        message.body = render("body", config.body.as_deref().unwrap_or(&template.body))?;
        let html_template = config.html.as_deref().or(template.html.as_deref());
        message.html = html_template.map(|t| render("html", t)).transpose()?;
        Ok(message)
    }
}

/// The template variables.
fn globals(
    invocation: &Invocation,
    subject: &Subject,
    message: &Message,
) -> Result<serde_json::Value, PluginError> {
    let mut profile = serde_json::Map::new();
    for attribute in &subject.attributes {
        profile.insert(attribute.name.clone(), json_of(&attribute.value));
    }
    profile.insert("id".into(), subject.profile_id.clone().into());
    profile.insert("timezone".into(), subject.timezone.clone().into());
    let data: serde_json::Value = serde_json::from_str(&message.data).unwrap_or_default();
    let unsubscribe_url = data.get("unsubscribe_url").cloned().unwrap_or_default();
    let event = match &subject.trigger {
        Some(e) => {
            serde_json::json!({ "name": e.name, "timestamp": e.timestamp, "properties": e.properties_json()? })
        }
        None => serde_json::Value::Null,
    };
    Ok(serde_json::json!({
        "profile": profile,
        "event": event,
        "campaign": { "id": invocation.campaign_id },
        "message": { "variant": message.variant_id, "channel": message.channel },
        // The recipient's signed link, which Baton puts on every marketing message once it
        // knows its public URL; absent from transactional messages.
        "unsubscribe_url": unsubscribe_url,
    }))
}

/// Dotted variable paths a template refers to, rooted at one of our globals.
fn variable_paths(template: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start + 1..];
        let close = match after.chars().next() {
            Some('{') => "}}",
            Some('%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let inner = &after[1..];
        let Some(end) = inner.find(close) else { break };
        for token in inner[..end].split(|c: char| c.is_whitespace() || "|:,()=<>!".contains(c)) {
            let token = token.trim_matches('-');
            let segments: Vec<String> = token.split('.').map(str::to_owned).collect();
            let rooted = matches!(segments[0].as_str(), "profile" | "event" | "campaign" | "message");
            let plain = segments
                .iter()
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            if rooted && plain && segments.len() > 1 {
                paths.push(segments);
            }
        }
        rest = &inner[end + close.len()..];
    }
    paths
}

/// The first referenced path that does not resolve, if any.
fn first_missing(globals: &serde_json::Value, paths: &[Vec<String>]) -> Option<String> {
    paths
        .iter()
        .find(|path| {
            path.iter().try_fold(globals, |node, segment| node.get(segment)).is_none_or(|v| v.is_null())
        })
        .map(|path| path.join("."))
}

/// Gives every referenced path that does not resolve a nil value, so it renders as empty.
fn fill_missing(globals: &mut serde_json::Value, paths: &[Vec<String>]) {
    for path in paths {
        let mut node = &mut *globals;
        for segment in path {
            let Some(object) = node.as_object_mut() else { break };
            node = object.entry(segment.clone()).or_insert(serde_json::Value::Null);
            if node.is_null() {
                break;
            }
        }
    }
}

fn json_of(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Boolean(b) => (*b).into(),
        Value::Integer(i) | Value::Timestamp(i) => (*i).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
        Value::Text(t) => t.clone().into(),
        Value::Json(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
    }
}

/// Liquid's errors span several lines; logs and APIs want one.
fn flatten(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

baton_sdk::personalizer!(Liquid);

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(config: &str) -> Invocation {
        Invocation { campaign_id: "welcome".into(), config: config.into(), now: 0, seed: 0 }
    }

    fn ada() -> Subject {
        Subject {
            profile_id: "pr_1".into(),
            attributes: vec![
                Attribute { name: "first_name".into(), value: Value::Text("Ada".into()) },
                Attribute { name: "points".into(), value: Value::Integer(1200) },
                Attribute { name: "tags".into(), value: Value::Json(r#"["vip","beta"]"#.into()) },
            ],
            events: vec![],
            timezone: Some("Europe/Paris".into()),
            trigger: Some(Event {
                id: "e1".into(),
                profile_id: "pr_1".into(),
                name: "order_completed".into(),
                timestamp: 1,
                properties: r#"{"total": 42.5, "items": [{"sku": "A"}, {"sku": "B"}]}"#.into(),
                campaign_id: None,
            }),
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

    #[test]
    fn renders_profile_event_campaign_and_filters() {
        let template = message(
            "{{ profile.first_name | upcase }}, thanks for {{ event.properties.total }} EUR",
            "{% for item in event.properties.items %}{{ item.sku }}{% unless forloop.last %},{% endunless %}{% endfor %} \
             | {{ profile.points | plus: 100 }} points | {% if profile.tags contains 'vip' %}VIP{% endif %} \
             | {{ campaign.id }}/{{ message.variant }} | {{ profile.nickname | default: 'friend' }}",
        );
        let out = Liquid::personalize(invocation("{}"), ada(), template).unwrap();
        assert_eq!(out.subject.as_deref(), Some("ADA, thanks for 42.5 EUR"));
        assert_eq!(out.body, "A,B | 1300 points | VIP | welcome/B | friend");
        assert_eq!(out.recipient, "ada@example.com");
    }

    #[test]
    fn a_marketing_message_renders_its_unsubscribe_link() {
        let mut template = message("s", r#"<a href="{{ unsubscribe_url }}">Unsubscribe</a>"#);
        template.data = r#"{"unsubscribe_url":"https://baton.example/u/a.b"}"#.into();
        let out = Liquid::personalize(invocation("{}"), ada(), template).unwrap();
        assert_eq!(out.body, r#"<a href="https://baton.example/u/a.b">Unsubscribe</a>"#);
    }

    #[test]
    fn missing_variables_are_empty_unless_strict() {
        let template = message("Hi {{ profile.nickname }}!", "x");
        assert_eq!(
            Liquid::personalize(invocation("{}"), ada(), template.clone()).unwrap().subject.as_deref(),
            Some("Hi !")
        );
        let err = Liquid::personalize(invocation(r#"{"strict": true}"#), ada(), template).unwrap_err();
        assert_eq!(
            err,
            PluginError::new("missing_variable", "subject: `profile.nickname` is not set for this profile")
        );
    }

    #[test]
    fn config_templates_override_and_syntax_errors_are_refused() {
        let out = Liquid::personalize(
            invocation(r#"{"body": "Dear {{ profile.first_name }}"}"#),
            ada(),
            message("s", "ignored"),
        )
        .unwrap();
        assert_eq!(out.body, "Dear Ada");
        let err = Liquid::validate_config(r#"{"body": "{% if %}"}"#).unwrap_err();
        assert_eq!(err.path, "/body");
        assert!(!err.message.is_empty());
        assert_eq!(Liquid::validate_config(r#"{"colour": "red"}"#).unwrap_err().path, "");
        let err = Liquid::personalize(invocation("{}"), ada(), message("{% for %}", "x")).unwrap_err();
        assert_eq!(err.code, "template_syntax");
    }
}
