//! `personalize-liquid`: renders the message's subject, body and HTML as Liquid templates (the
//! templating language of Shopify, Braze and Customer.io), with Baton's own engine
//! (`baton-liquid`: the reference semantics of Shopify's Liquid).
//!
//! Variables:
//! - `profile`: its attributes and computed traits, plus `id`, `timezone` and `locale`;
//! - `event`: the triggering event (`name`, `timestamp` as ISO 8601, `properties`);
//! - `events`: the profile's recent events of the kinds the binding names in `events.names`,
//!   newest first, at most `events.limit` (10 by default);
//! - `campaign` (`id`), `message` (`variant`, `channel`, `locale`), `journey` (`id`, `version`,
//!   `step`, when the message is a journey step), `now`;
//! - `unsubscribe_url` and `preferences_url`: the recipient's signed links, on marketing messages
//!   (the preferences page is, today, the link's page, where the reader chooses between this
//!   purpose and the whole channel).
//!
//! Snippets stored in Baton (`/v1/content`) render with `{% render 'name' %}`; the host sends the
//! ones a message uses in its data, under `template_context`, with the reader's locale and the
//! journey step. Dates (`| date`, `| local_date`) are in the profile's time zone and locale.
//!
//! A variable that is not set renders as empty unless the binding config sets `"strict": true`;
//! then the send fails naming the variable. Output into the `html` part is HTML-escaped unless
//! the template asks for `| raw`; `subject` and `body` are plain text and are not. Template syntax
//! errors are refused by `validate-config` when the templates are given in the config
//! (`"subject"`, `"body"`, `"html"` override the campaign's), and otherwise fail the call with the
//! line at fault.

use baton_liquid::{Context, Globals, Template};
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
    /// Recent events templates can read as `events`.
    events: Option<RecentEvents>,
    /// The largest rendered part, in bytes (1 MiB by default).
    max_output_bytes: Option<usize>,
    /// The most loop iterations in one part (100,000 by default).
    max_loop_iterations: Option<u64>,
}

/// `events` in the config: which kinds, and how many.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecentEvents {
    names: Vec<String>,
    #[serde(default = "ten")]
    limit: usize,
    /// How far back, in milliseconds (the whole history by default).
    window_ms: Option<u64>,
}

fn ten() -> usize {
    10
}

/// What the host adds to the message's data for templates (removed before the channel sees it).
#[derive(Debug, Default, Deserialize)]
struct TemplateContext {
    #[serde(default)]
    snippets: std::collections::BTreeMap<String, String>,
    locale: Option<String>,
    journey: Option<serde_json::Value>,
    campaign: Option<serde_json::Value>,
    preferences_url: Option<String>,
    /// A preview: report which variables were used and which were not set.
    #[serde(default)]
    preview: bool,
}

const CONFIG_SCHEMA: &str = r#"{"type":"object","properties":{"strict":{"type":"boolean"},"subject":{"type":"string"},"body":{"type":"string"},"html":{"type":"string"},"events":{"type":"object","properties":{"names":{"type":"array","items":{"type":"string"}},"limit":{"type":"integer","minimum":1,"maximum":1000},"window_ms":{"type":"integer","minimum":1}},"required":["names"],"additionalProperties":false},"max_output_bytes":{"type":"integer","minimum":1},"max_loop_iterations":{"type":"integer","minimum":1}},"additionalProperties":false}"#;

impl Plugin for Liquid {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "personalize-liquid",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Personalizer,
            "Renders subject, body and HTML as Liquid templates with the profile, its recent events, the trigger, the campaign and the journey step.",
        )
        .with_needs(Needs::attributes(["*"]).with_events(["*"], None))
        .with_config_schema(CONFIG_SCHEMA)
    }

    fn needs_for_config(config: &str) -> Needs {
        // Events are read only when the binding names them: most templates need none, and
        // loading every profile's history for a send would be the slowest part of it.
        let events = serde_json::from_str::<Config>(config).ok().and_then(|c| c.events);
        match events {
            Some(e) => Needs::attributes(["*"]).with_events(e.names.iter().map(String::as_str), e.window_ms),
            None => Needs::attributes(["*"]),
        }
    }

    fn validate_config(config: &str) -> Result<(), ConfigError> {
        let config: Config =
            serde_json::from_str(config).map_err(|e| ConfigError::new("", &e.to_string()))?;
        for (field, template) in
            [("subject", &config.subject), ("body", &config.body), ("html", &config.html)]
        {
            if let Some(template) = template {
                Template::parse(template)
                    .map_err(|e| ConfigError::new(&format!("/{field}"), &e.to_string()))?;
            }
        }
        if let Some(events) = &config.events {
            if events.names.is_empty() || !(1..=1000).contains(&events.limit) {
                return Err(ConfigError::new(
                    "/events",
                    "name at least one event, and a limit from 1 to 1000",
                ));
            }
        }
        if config.max_output_bytes == Some(0) || config.max_loop_iterations == Some(0) {
            return Err(ConfigError::new("", "limits must be at least 1"));
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
        let mut data: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&template.data).unwrap_or_default();
        let extra: TemplateContext = match data.remove("template_context") {
            Some(value) => serde_json::from_value(value)
                .map_err(|e| PluginError::new("invalid_template_context", &e.to_string()))?,
            None => TemplateContext::default(),
        };
        let locale = extra.locale.clone().or_else(|| subject.text("locale").map(str::to_owned));
        let globals = Globals::new(&globals(
            &invocation,
            &subject,
            &template,
            &data,
            &extra,
            &config,
            locale.as_deref(),
        )?);
        let mut context =
            Context::default().strict(config.strict).now(invocation.now).report_variables(extra.preview);
        if let Some(zone) = &subject.timezone {
            context = context.time_zone(zone);
        }
        if let Some(locale) = &locale {
            context = context.locale(locale);
        }
        if let Some(bytes) = config.max_output_bytes {
            context = context.max_output_bytes(bytes);
        }
        if let Some(iterations) = config.max_loop_iterations {
            context = context.max_loop_iterations(iterations);
        }
        for (name, source) in &extra.snippets {
            context = context.partial(name, source);
        }
        let html_context = context.clone().escape_html(true);
        let mut used = std::collections::BTreeSet::new();
        let mut undefined = std::collections::BTreeSet::new();
        let mut render = |field: &str, text: &str, context: &Context| -> Result<String, PluginError> {
            let compiled = Template::parse(text)
                .map_err(|e| PluginError::new("template_syntax", &format!("{field}: {e}")))?;
            let rendered = compiled.render_with(&globals, context).map_err(|e| {
                let code = match e.kind {
                    baton_liquid::ErrorKind::Undefined => "missing_variable",
                    baton_liquid::ErrorKind::Limit => "template_limit",
                    _ => "template_render",
                };
                PluginError::new(code, &format!("{field}: {e}"))
            })?;
            used.extend(rendered.used);
            undefined.extend(rendered.undefined);
            Ok(rendered.output)
        };
        let mut message = template.clone();
        let subject_template = config.subject.as_deref().or(template.subject.as_deref());
        message.subject = subject_template.map(|t| render("subject", t, &context)).transpose()?;
        message.body = render("body", config.body.as_deref().unwrap_or(&template.body), &context)?;
        let html_template = config.html.as_deref().or(template.html.as_deref());
        message.html = html_template.map(|t| render("html", t, &html_context)).transpose()?;
        if extra.preview {
            data.insert(
                "template_report".into(),
                serde_json::json!({ "used": used, "undefined": undefined }),
            );
        }
        message.data = serde_json::Value::Object(data).to_string();
        Ok(message)
    }
}

/// The template variables.
fn globals(
    invocation: &Invocation,
    subject: &Subject,
    message: &Message,
    data: &serde_json::Map<String, serde_json::Value>,
    extra: &TemplateContext,
    config: &Config,
    locale: Option<&str>,
) -> Result<serde_json::Value, PluginError> {
    let mut profile = serde_json::Map::new();
    for attribute in &subject.attributes {
        profile.insert(attribute.name.clone(), json_of(&attribute.value));
    }
    profile.insert("id".into(), subject.profile_id.clone().into());
    profile.insert("timezone".into(), subject.timezone.clone().into());
    profile.insert("locale".into(), locale.into());
    let event = match &subject.trigger {
        Some(e) => event_json(e)?,
        None => serde_json::Value::Null,
    };
    let events = match &config.events {
        Some(wanted) => {
            let mut recent: Vec<&Event> =
                subject.events.iter().filter(|e| wanted.names.iter().any(|n| *n == e.name)).collect();
            recent.sort_by(|a, b| b.timestamp.cmp(&a.timestamp));
            recent.into_iter().take(wanted.limit).map(event_json).collect::<Result<Vec<_>, _>>()?
        }
        None => Vec::new(),
    };
    let mut campaign = serde_json::json!({ "id": invocation.campaign_id });
    if let (Some(serde_json::Value::Object(more)), Some(object)) = (&extra.campaign, campaign.as_object_mut())
    {
        object.extend(more.clone());
    }
    Ok(serde_json::json!({
        "profile": profile,
        "event": event,
        "events": events,
        "campaign": campaign,
        "message": { "variant": message.variant_id, "channel": message.channel, "locale": locale },
        "journey": extra.journey,
        "now": iso(invocation.now),
        // The recipient's signed links, which Baton puts on every marketing message once it
        // knows its public URL; absent from transactional messages.
        "unsubscribe_url": data.get("unsubscribe_url").cloned().unwrap_or_default(),
        "preferences_url": extra.preferences_url,
    }))
}

fn event_json(e: &Event) -> Result<serde_json::Value, PluginError> {
    Ok(
        serde_json::json!({ "name": e.name, "timestamp": iso(e.timestamp), "properties": e.properties_json()? }),
    )
}

/// Milliseconds since the epoch as ISO 8601 (what `| date` reads), UTC.
fn iso(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    if milli == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
    }
}

/// The proleptic Gregorian date of a day number since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn json_of(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Boolean(b) => (*b).into(),
        Value::Integer(i) => (*i).into(),
        Value::Timestamp(t) => iso(*t).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, serde_json::Value::Number)
        }
        Value::Text(t) => t.clone().into(),
        Value::Json(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
    }
}

baton_sdk::personalizer!(Liquid);

#[cfg(test)]
mod tests;
