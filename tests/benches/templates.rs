//! Templates rendered per second per core: a typical marketing email (about 5 KB of HTML, 20
//! variables, one loop over the order's items) through the Wasm personalizer, and natively.
//! Prints figures; asserts only that Wasm and native render the same message.
//!
//! `cargo bench -p baton-tests --bench templates -- [CALLS]` (default 5,000)
//!
//! 1. `personalize-liquid` through the runtime, as a send calls it: a fresh instance, the
//!    templates parsed, subject, body and HTML rendered (the HTML escaped), one call per message.
//! 2. The same crate compiled natively, called the same way (parse and render per call).
//! 3. `baton-liquid` alone, natively: the templates parsed once, then rendered many times (what
//!    a template costs once compiled), and what parsing the three parts costs.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use baton::contract::{Event, Message, Value};
use baton_sdk::Personalizer;
use baton_tests::figures::memory_kib_total;
use baton_tests::{invocation, runtime, subject};

fn main() {
    let calls: usize =
        std::env::args().skip(1).find(|a| !a.starts_with("--")).and_then(|a| a.parse().ok()).unwrap_or(5_000);
    println!(
        "machine: {} cores, MemTotal {} MiB; calls: {calls}; one thread",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_kib_total() / 1024
    );
    let (message, person) = (email(), customer());
    println!(
        "message: html {} bytes, body {} bytes, subject {} bytes; {} distinct variables; one loop over {} items",
        message.html.as_ref().unwrap().len(),
        message.body.len(),
        message.subject.as_ref().unwrap().len(),
        VARIABLES,
        ITEMS
    );

    // 1. Wasm, one call per message.
    let (runtime, _dir) = runtime();
    let plugin = runtime.install(baton::first_party("personalize-liquid").unwrap()).unwrap();
    let call = invocation("{}");
    let wasm_out = runtime.call(&plugin).personalize(&call, &person, &message).unwrap().value;
    let wasm = timed(calls, || {
        runtime.call(&plugin).personalize(&call, &person, &message).unwrap();
    });

    // 2. The same plugin natively.
    let native_call = baton_sdk::Invocation {
        campaign_id: call.campaign_id.clone(),
        config: call.config.clone(),
        now: call.now,
        seed: call.seed,
    };
    let native_person = baton_tests::native::subject(&person);
    let native_message = baton_tests::native::message(&message);
    let native_out = personalize_liquid::Liquid::personalize(
        native_call.clone(),
        native_person.clone(),
        native_message.clone(),
    )
    .unwrap();
    assert_eq!(
        (wasm_out.subject.as_deref(), wasm_out.body.as_str(), wasm_out.html.as_deref()),
        (native_out.subject.as_deref(), native_out.body.as_str(), native_out.html.as_deref()),
        "Wasm and native render the same message"
    );
    let native = timed(calls, || {
        personalize_liquid::Liquid::personalize(
            native_call.clone(),
            native_person.clone(),
            native_message.clone(),
        )
        .unwrap();
    });

    // 3. The engine alone, templates parsed once.
    let html = baton_liquid::Template::parse(message.html.as_deref().unwrap()).unwrap();
    let globals = baton_liquid::Globals::new(&globals_json());
    let context = baton_liquid::Context::default().escape_html(true).time_zone("Europe/Paris");
    let parsed_once = timed(calls * 4, || {
        html.render_with(&globals, &context).unwrap();
    });

    // What parsing costs: the three parts, parsed once each.
    let sources = [message.subject.clone().unwrap(), message.body.clone(), message.html.clone().unwrap()];
    let parse_only = timed(calls, || {
        for source in &sources {
            baton_liquid::Template::parse(source).unwrap();
        }
    });

    println!();
    println!("| path | per message | messages/s per core |");
    println!("|---|---|---|");
    row("Wasm personalizer (instance + parse + render of subject, body, HTML)", wasm);
    row("native personalizer (parse + render of subject, body, HTML)", native);
    row("native engine, HTML only, parsed once", parsed_once);
    row("native engine, parsing subject, body and HTML only", parse_only);
    println!();
    println!(
        "Wasm / native personalizer: {:.2}x the time per message",
        wasm.as_secs_f64() / native.as_secs_f64()
    );
}

const VARIABLES: usize = 20;
const ITEMS: usize = 4;

fn timed(n: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..n.min(200) {
        f();
    }
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed() / n as u32
}

fn row(what: &str, per: Duration) {
    println!("| {what} | {:.1} µs | {:.0} |", per.as_secs_f64() * 1e6, 1.0 / per.as_secs_f64());
}

/// The customer: 20 variables between the profile, the trigger and the links.
fn customer() -> baton::contract::Subject {
    let mut person = subject(
        "pr_00000000000000a1",
        &[
            ("first_name", Value::Text("Ada".into())),
            ("last_name", Value::Text("Lovelace & Co".into())),
            ("email", Value::Text("ada@example.com".into())),
            ("city", Value::Text("London".into())),
            ("tier", Value::Text("gold".into())),
            ("points", Value::Integer(1_280)),
            ("orders", Value::Integer(14)),
            ("lifetime_value", Value::Float(1_934.5)),
            ("favourite_category", Value::Text("Shoes".into())),
            ("signed_up_at", Value::Timestamp(1_700_000_000_000)),
        ],
    );
    person.timezone = Some("Europe/Paris".into());
    let items: Vec<serde_json::Value> = (0..ITEMS)
        .map(|i| serde_json::json!({"name": format!("Item <{i}>"), "sku": format!("SKU-{i:04}"), "price": 19.5 + i as f64, "quantity": 1 + i % 2, "url": format!("https://shop.example/p/{i}")}))
        .collect();
    person.trigger = Some(Event {
        id: "evt-1".into(),
        profile_id: person.profile_id.clone(),
        name: "order_completed".into(),
        timestamp: 1_750_000_000_000,
        properties: serde_json::json!({"order_id": "A-1001", "total": 84.0, "currency": "EUR", "items": items, "coupon": "WELCOME10"}).to_string(),
        campaign_id: None,
    });
    person
}

/// The variables as the personalizer builds them, for the engine-alone figure.
fn globals_json() -> serde_json::Value {
    serde_json::json!({
        "profile": {"first_name": "Ada", "last_name": "Lovelace & Co", "email": "ada@example.com", "city": "London",
            "tier": "gold", "points": 1280, "orders": 14, "lifetime_value": 1934.5, "favourite_category": "Shoes",
            "signed_up_at": "2023-11-14T22:13:20Z", "id": "pr_00000000000000a1", "timezone": "Europe/Paris"},
        "event": {"name": "order_completed", "timestamp": "2025-06-15T15:06:40Z", "properties": {
            "order_id": "A-1001", "total": 84.0, "currency": "EUR", "coupon": "WELCOME10",
            "items": (0..ITEMS).map(|i| serde_json::json!({"name": format!("Item <{i}>"), "sku": format!("SKU-{i:04}"), "price": 19.5 + i as f64, "quantity": 1 + i % 2, "url": format!("https://shop.example/p/{i}")})).collect::<Vec<_>>()}},
        "campaign": {"id": "c-1"}, "message": {"variant": null, "channel": "email"},
        "unsubscribe_url": "https://baton.example/u/abc", "now": "2025-06-15T15:06:40Z",
    })
}

/// A typical order-confirmation email: about 5 KB of HTML with inline styles, 20 variables,
/// one loop over the items, a few filters and conditions.
fn email() -> Message {
    let style = "font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;color:#333333;padding:8px 16px;";
    let mut html = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Your order</title></head><body style=\"margin:0;padding:0;background:#f4f4f4\">",
    );
    html.push_str(&format!("<table role=\"presentation\" width=\"100%\" style=\"{style}\"><tr><td><h1 style=\"{style}font-size:22px\">Thanks, {{{{ profile.first_name }}}} {{{{ profile.last_name }}}}!</h1>"));
    html.push_str(&format!("<p style=\"{style}\">Order <b>{{{{ event.properties.order_id }}}}</b> placed on {{{{ event.timestamp | date: '%A %-d %B %Y at %H:%M' }}}} is confirmed. We will ship it to {{{{ profile.city }}}}.</p>"));
    html.push_str(&format!("<table width=\"100%\" style=\"{style}border-collapse:collapse\"><tr><th style=\"{style}\">Item</th><th style=\"{style}\">SKU</th><th style=\"{style}\">Qty</th><th style=\"{style}\">Price</th></tr>"));
    html.push_str(&format!("{{% for item in event.properties.items %}}<tr style=\"{style}\"><td style=\"{style}\"><a href=\"{{{{ item.url }}}}?utm_source=email&utm_campaign={{{{ campaign.id }}}}\" style=\"{style}color:#0066cc\">{{{{ item.name }}}}</a></td><td style=\"{style}\">{{{{ item.sku }}}}</td><td style=\"{style}\">{{{{ item.quantity }}}}</td><td style=\"{style}text-align:right\">{{{{ item.price | times: item.quantity | round: 2 }}}} {{{{ event.properties.currency }}}}</td></tr>{{% endfor %}}"));
    html.push_str(&format!("<tr><td colspan=\"3\" style=\"{style}\"><b>Total</b></td><td style=\"{style}text-align:right\"><b>{{{{ event.properties.total | round: 2 }}}} {{{{ event.properties.currency }}}}</b></td></tr></table>"));
    html.push_str(&format!("{{% if event.properties.coupon %}}<p style=\"{style}\">You saved with <b>{{{{ event.properties.coupon | upcase }}}}</b>.</p>{{% endif %}}"));
    html.push_str(&format!("<p style=\"{style}\">You have {{{{ profile.points | plus: 84 }}}} points as a {{{{ profile.tier | capitalize }}}} member after {{{{ profile.orders | plus: 1 }}}} orders (lifetime {{{{ profile.lifetime_value | plus: 84 | round: 2 }}}} EUR).</p>"));
    html.push_str(&format!("<p style=\"{style}\">New in {{{{ profile.favourite_category | downcase }}}} this week: <a href=\"https://shop.example/c/{{{{ profile.favourite_category | downcase | url_encode }}}}\" style=\"{style}color:#0066cc\">see what is new</a>.</p>"));
    html.push_str(&format!("<p style=\"{style}color:#999999;font-size:11px\">Member since {{{{ profile.signed_up_at | date: '%B %Y' }}}}. This email was sent to {{{{ profile.email }}}}. <a href=\"{{{{ unsubscribe_url }}}}\" style=\"color:#999999\">Unsubscribe</a>. Customer {{{{ profile.id }}}}.</p>"));
    // Padding to a typical email's size: the static markup of the footer and legal text.
    while html.len() < 4_800 {
        html.push_str(&format!("<p style=\"{style}color:#999999;font-size:11px\">The Baton Shop, 1 Example Street, London. Prices include VAT. Returns within 30 days.</p>"));
    }
    html.push_str("</td></tr></table></body></html>");
    Message {
        channel: "email".into(),
        recipient: "ada@example.com".into(),
        subject: Some("Order {{ event.properties.order_id }} confirmed, {{ profile.first_name }}".into()),
        body: "Hi {{ profile.first_name }}, order {{ event.properties.order_id }} ({{ event.properties.total }} {{ event.properties.currency }}) is confirmed.\n{% for item in event.properties.items %}- {{ item.quantity }} x {{ item.name }}\n{% endfor %}Unsubscribe: {{ unsubscribe_url }}".into(),
        html: Some(html),
        variant_id: None,
        data: r#"{"unsubscribe_url":"https://baton.example/u/abc"}"#.into(),
        idempotency_key: "k".into(),
    }
}
