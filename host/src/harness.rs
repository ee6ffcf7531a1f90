//! `baton plugin test`: runs a component against fixture cases (JSON files), compares with the
//! expected outputs, and reports each call's cost against its budgets - what a plugin author runs
//! before shipping.
//!
//! A case file names the call and its inputs in plain JSON (attributes and properties as objects):
//!
//! ```json
//! {"call": "evaluate", "config": {"tier": "vip"},
//!  "subjects": [{"profile_id": "p1", "attributes": {"tier": "vip"}, "events": []}],
//!  "expect": [{"member": true, "score": null}]}
//! ```
//!
//! Calls: `validate_config` (expect `null` or `{"path", "message"}`), `needs_for_config` (expect
//! the needs), `evaluate`, `personalize` (`subject`, `template`), `build` (`message`), `classify`
//! (`index`, `response`), `verification` (expect the signature check or `{"path", "message"}`),
//! `feedback` (`request`: method, url, headers, body; expect the reports), `kpi` (`batches` of
//! events; expect the metrics), `compute` (`subjects`; expect one object of traits per subject).
//! Optional `now`, `seed`, `config`. Omit `expect` to print the output without judging it.
//!
//! Depends on: `runtime`, `store` (a temporary one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::contract::{Attribute, Event, HttpResponse, InboundRequest, Invocation, Message, Subject};
use crate::runtime::{CallMetrics, Limits, LoadedPlugin, Runtime, RuntimeConfig};
use crate::store::Storage;

/// The result of one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// The case file.
    pub file: PathBuf,
    /// The call.
    pub call: String,
    /// Whether the output matched `expect` (true when there was nothing to compare).
    pub passed: bool,
    /// What the plugin returned (or its error), as JSON.
    pub output: serde_json::Value,
    /// What was expected, if anything.
    pub expected: Option<serde_json::Value>,
    /// What the calls cost (summed over a KPI run's calls).
    pub metrics: CallMetrics,
}

/// Why the fixtures could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The component did not install.
    #[error("the component does not install: {0}")]
    Install(String),
    /// A case file is unreadable or malformed.
    #[error("case {file}: {message}")]
    Case {
        /// The file.
        file: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// Reading the fixtures or starting the runtime failed.
    #[error("{0}")]
    Setup(String),
}

/// The user's cache folder: `$XDG_CACHE_HOME`, else `$HOME/.cache`.
fn user_cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

/// Runs every `*.json` case in `dir` (sorted by name) against `component` under `limits`.
pub fn run_fixtures(component: &[u8], dir: &Path, limits: &Limits) -> Result<Vec<CaseResult>, HarnessError> {
    let storage = Storage::temporary().map_err(|e| HarnessError::Setup(e.to_string()))?;
    let config = RuntimeConfig {
        limits: limits.clone(),
        max_instances: 16,
        // The store is thrown away after the run; the compiled functions are kept for the next
        // one, so re-testing a JavaScript or Python plugin does not recompile its engine.
        compile_cache_dir: user_cache_dir().map(|dir| dir.join("baton").join("compile-cache")),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, storage).map_err(|e| HarnessError::Setup(e.to_string()))?;
    let plugin = runtime.install(component).map_err(|e| HarnessError::Install(e.to_string()))?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| HarnessError::Setup(format!("{}: {e}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(HarnessError::Setup(format!("{} holds no *.json case files", dir.display())));
    }
    files.iter().map(|file| run_case(&runtime, &plugin, file, limits)).collect()
}

fn run_case(
    runtime: &Runtime,
    plugin: &Arc<LoadedPlugin>,
    file: &Path,
    limits: &Limits,
) -> Result<CaseResult, HarnessError> {
    let fault = |message: String| HarnessError::Case { file: file.display().to_string(), message };
    let text = std::fs::read_to_string(file).map_err(|e| fault(e.to_string()))?;
    let case: serde_json::Value = serde_json::from_str(&text).map_err(|e| fault(format!("not JSON: {e}")))?;
    let call = case["call"].as_str().ok_or_else(|| fault("needs a \"call\"".into()))?.to_owned();
    let invocation = Invocation {
        campaign_id: case["campaign_id"].as_str().unwrap_or("fixture").to_owned(),
        config: case.get("config").cloned().unwrap_or_else(|| serde_json::json!({})).to_string(),
        now: case["now"].as_i64().unwrap_or(1_750_000_000_000),
        seed: case["seed"].as_u64().unwrap_or(0),
    };
    let call_with = runtime.call(plugin).with_limits(limits.clone());
    let field =
        |name: &str| case.get(name).cloned().ok_or_else(|| fault(format!("a {call} case needs \"{name}\"")));
    let (output, metrics) = match call.as_str() {
        "validate_config" => {
            let config = field("config")?.to_string();
            settle(call_with.validate_config(&config).map(|c| {
                let answer = match c.value {
                    Ok(()) => serde_json::Value::Null,
                    Err(refusal) => serde_json::json!({ "path": refusal.path, "message": refusal.message }),
                };
                (answer, c.metrics)
            }))
        }
        "needs_for_config" => {
            let config = field("config")?.to_string();
            settle(call_with.needs_for_config(&config).map(|c| match c.value {
                Some(needs) => (json(&needs), c.metrics),
                None => {
                    (serde_json::json!({ "error": "the plugin has no needs-for-config call" }), c.metrics)
                }
            }))
        }
        "evaluate" => {
            let subjects = subjects(&field("subjects")?).map_err(&fault)?;
            settle(call_with.evaluate(&invocation, &subjects).map(|c| (json(&c.value), c.metrics)))
        }
        "compute" => {
            let subjects = subjects(&field("subjects")?).map_err(&fault)?;
            settle(call_with.compute(&invocation, subjects).map(|c| {
                let traits = c.value.into_iter().map(traits_json).collect();
                (serde_json::Value::Array(traits), c.metrics)
            }))
        }
        "verification" => {
            let config = field("config")?.to_string();
            settle(call_with.verification(&config).map(|c| {
                let answer = match c.value {
                    Ok(check) => json(&check),
                    Err(refusal) => serde_json::json!({ "path": refusal.path, "message": refusal.message }),
                };
                (answer, c.metrics)
            }))
        }
        "feedback" => {
            let request = inbound(&field("request")?).map_err(&fault)?;
            settle(call_with.feedback(&invocation, &request).map(|c| (json(&c.value), c.metrics)))
        }
        "personalize" => {
            let subject = subject(&field("subject")?).map_err(&fault)?;
            let template = message(&field("template")?).map_err(&fault)?;
            settle(
                call_with
                    .personalize(&invocation, &subject, &template)
                    .map(|c| (message_json(&c.value), c.metrics)),
            )
        }
        "build" => {
            let message = message(&field("message")?).map_err(&fault)?;
            settle(call_with.build(&invocation, &message).map(|c| {
                let requests: Vec<serde_json::Value> = c
                    .value
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "method": r.method, "url": r.url, "headers": r.headers,
                            "body": String::from_utf8_lossy(&r.body),
                        })
                    })
                    .collect();
                (serde_json::Value::Array(requests), c.metrics)
            }))
        }
        "classify" => {
            let response = response(&field("response")?).map_err(&fault)?;
            let index = u32::try_from(case["index"].as_u64().unwrap_or(0)).unwrap_or(0);
            settle(
                call_with
                    .classify(&invocation, index, &response)
                    .map(|c| (outcome_json(&c.value), c.metrics)),
            )
        }
        "kpi" => {
            let batches = field("batches")?;
            let batches = batches
                .as_array()
                .ok_or_else(|| fault("\"batches\" must be a list of lists of events".into()))?;
            let mut total = CallMetrics::default();
            let result = (|| {
                let mut run = call_with.open_kpi(&invocation)?;
                for batch in batches {
                    let events: Vec<Event> = batch
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| event(e).unwrap_or_else(|_| blank_event()))
                        .collect();
                    let metrics = run.add(&events)?;
                    add(&mut total, &metrics);
                }
                let finished = run.finish()?;
                add(&mut total, &finished.metrics);
                Ok::<_, crate::runtime::InvokeError>(json(&finished.value))
            })();
            settle(result.map(|v| (v, total)))
        }
        other => {
            return Err(fault(format!(
                "unknown call `{other}`: use validate_config, needs_for_config, evaluate, personalize, \
                 build, classify, verification, feedback, kpi or compute"
            )));
        }
    };
    let expected = case.get("expect").cloned();
    let passed = expected.as_ref().is_none_or(|e| *e == output);
    Ok(CaseResult { file: file.to_path_buf(), call, passed, output, expected, metrics })
}

/// A call's output, or its error as `{"error": "..."}` (so a case can expect a failure).
fn settle(
    result: Result<(serde_json::Value, CallMetrics), crate::runtime::InvokeError>,
) -> (serde_json::Value, CallMetrics) {
    match result {
        Ok(done) => done,
        Err(err) => (serde_json::json!({ "error": err.failure.to_string() }), err.metrics),
    }
}

fn add(total: &mut CallMetrics, call: &CallMetrics) {
    total.fuel_used += call.fuel_used;
    total.wall_time += call.wall_time;
    total.memory_peak_bytes = total.memory_peak_bytes.max(call.memory_peak_bytes);
    total.bytes_in += call.bytes_in;
    total.bytes_out += call.bytes_out;
    total.log_bytes += call.log_bytes;
    total.outcome = call.outcome;
}

fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

fn subjects(value: &serde_json::Value) -> Result<Vec<Subject>, String> {
    value.as_array().ok_or("\"subjects\" must be a list")?.iter().map(subject).collect()
}

/// One subject's computed traits as an object, `null` for a trait the plugin removes.
fn traits_json(traits: Vec<Attribute>) -> serde_json::Value {
    let object = traits
        .into_iter()
        .map(|a| {
            let (name, value) = crate::engine::stored_trait(a);
            (name, value.unwrap_or(serde_json::Value::Null))
        })
        .collect();
    serde_json::Value::Object(object)
}

fn subject(value: &serde_json::Value) -> Result<Subject, String> {
    let attributes = match value.get("attributes") {
        None => Vec::new(),
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(name, v)| Attribute { name: name.clone(), value: crate::engine::value_of(v) })
            .collect(),
        Some(_) => return Err("subject \"attributes\" must be an object".into()),
    };
    let events = value
        .get("events")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .map(event)
        .collect::<Result<_, _>>()?;
    Ok(Subject {
        profile_id: value["profile_id"].as_str().unwrap_or("p1").to_owned(),
        attributes,
        events,
        timezone: value["timezone"].as_str().map(str::to_owned),
        trigger: value.get("trigger").filter(|t| !t.is_null()).map(event).transpose()?,
    })
}

fn event(value: &serde_json::Value) -> Result<Event, String> {
    Ok(Event {
        id: value["id"].as_str().unwrap_or("e").to_owned(),
        profile_id: value["profile_id"].as_str().unwrap_or("p1").to_owned(),
        name: value["name"].as_str().ok_or("an event needs a \"name\"")?.to_owned(),
        timestamp: value["timestamp"].as_i64().unwrap_or(0),
        properties: value.get("properties").cloned().unwrap_or_else(|| serde_json::json!({})).to_string(),
        campaign_id: value["campaign_id"].as_str().map(str::to_owned),
    })
}

fn blank_event() -> Event {
    Event {
        id: String::new(),
        profile_id: String::new(),
        name: String::new(),
        timestamp: 0,
        properties: "{}".into(),
        campaign_id: None,
    }
}

fn message(value: &serde_json::Value) -> Result<Message, String> {
    let text = |name: &str| value[name].as_str().map(str::to_owned);
    Ok(Message {
        channel: text("channel").unwrap_or_else(|| "email".into()),
        recipient: text("recipient").ok_or("a message needs a \"recipient\"")?,
        subject: text("subject"),
        body: text("body").unwrap_or_default(),
        html: text("html"),
        variant_id: text("variant_id"),
        data: value.get("data").cloned().unwrap_or_else(|| serde_json::json!({})).to_string(),
        idempotency_key: text("idempotency_key").unwrap_or_else(|| "fixture".into()),
    })
}

fn message_json(message: &Message) -> serde_json::Value {
    serde_json::json!({
        "channel": message.channel, "recipient": message.recipient, "subject": message.subject,
        "body": message.body, "html": message.html, "variant_id": message.variant_id,
        "data": serde_json::from_str::<serde_json::Value>(&message.data).unwrap_or_default(),
        "idempotency_key": message.idempotency_key,
    })
}

fn response(value: &serde_json::Value) -> Result<HttpResponse, String> {
    let status = value["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("a response needs a \"status\"")?;
    Ok(HttpResponse { status, headers: headers_of(value), body: body_bytes(value.get("body")) })
}

fn inbound(value: &serde_json::Value) -> Result<InboundRequest, String> {
    let (method, url) = (value["method"].as_str(), value["url"].as_str());
    let (Some(method), Some(url)) = (method, url) else {
        return Err("a request needs a \"method\" and a \"url\"".into());
    };
    Ok(InboundRequest {
        method: method.to_ascii_uppercase(),
        url: url.to_owned(),
        headers: headers_of(value),
        body: body_bytes(value.get("body")),
    })
}

/// The `headers` object, names lowercased as the host passes them.
fn headers_of(value: &serde_json::Value) -> Vec<(String, String)> {
    match value.get("headers") {
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        _ => Vec::new(),
    }
}

/// A body given as text is sent as is; any other JSON value as its JSON text.
fn body_bytes(body: Option<&serde_json::Value>) -> Vec<u8> {
    match body {
        Some(serde_json::Value::String(text)) => text.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
        None => Vec::new(),
    }
}

fn outcome_json(outcome: &crate::contract::DeliveryOutcome) -> serde_json::Value {
    use crate::contract::DeliveryOutcome as O;
    match outcome {
        O::Delivered(id) => serde_json::json!({ "delivered": id }),
        O::RetryAfter(ms) => serde_json::json!({ "retry_after": ms }),
        O::Throttled(ms) => serde_json::json!({ "throttled": ms }),
        O::Rejected(reason) => serde_json::json!({ "rejected": reason }),
    }
}

/// One line per case, with the cost against the budgets.
pub fn render(results: &[CaseResult], limits: &Limits) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for r in results {
        let verdict = match (&r.expected, r.passed) {
            (None, _) => "RAN ",
            (_, true) => "PASS",
            (_, false) => "FAIL",
        };
        let _ = writeln!(
            out,
            "{verdict} {:<16} {}  fuel {} / {} ({:.2}%)  time {:.2} ms / {} ms  memory {:.1} MiB / {} MiB",
            r.call,
            r.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            r.metrics.fuel_used,
            limits.fuel,
            r.metrics.fuel_used as f64 * 100.0 / limits.fuel as f64,
            r.metrics.wall_time.as_secs_f64() * 1e3,
            limits.deadline.as_millis(),
            r.metrics.memory_peak_bytes as f64 / (1 << 20) as f64,
            limits.memory_bytes >> 20,
        );
        if !r.passed || r.expected.is_none() {
            let _ = writeln!(out, "     got:      {}", r.output);
        }
        if let (Some(expected), false) = (&r.expected, r.passed) {
            let _ = writeln!(out, "     expected: {expected}");
        }
    }
    let failed = results.iter().filter(|r| !r.passed).count();
    let _ = writeln!(out, "{} passed, {failed} failed", results.len() - failed);
    out
}
