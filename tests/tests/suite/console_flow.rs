//! The console end to end, in a real browser over the real server (with its delivery and tick
//! loops) on the demo's data: an orchestrator reads the overview and finds the ROMI chart drawn,
//! builds a segment and watches its count change, saves it, opens a journey's graph, previews
//! and activates a campaign, runs it and watches a delivery appear, and replays a dead letter;
//! an admin finds a profile by email and erases it. Every page passes an accessibility scan
//! (axe-core: no serious or critical violation) under the console's own CSP. The overview, the
//! segment builder and a journey are saved as the README's screenshots.

use std::sync::Arc;

use baton::content::{ContentKind, ContentSpec};
use baton::{ApiConfig, EngineConfig, FixedClock, Grants, Role, Runtime, ServeConfig, Slot, Trigger};
use baton_tests::{Vendor, browser, delivery_config, test_config, welcome_campaign};

/// The demo scenario's "now": 30 June 2025, 10:00 UTC.
const DEMO_NOW: i64 = 1_751_277_600_000;

const ORCHESTRATOR_FLOW: &str = r#"
browse(async (page, axe) => {
  const out = { violations: {}, csp: [] };
  page.on('console', m => { if (/Content Security Policy/.test(m.text())) out.csp.push(m.text()); });
  const scan = async (name) => { out.violations[name] = await axe(page); };
  const shot = async (name) => {
    if (process.env.SHOTS) await page.screenshot({ path: process.env.SHOTS + '/' + name + '.png', fullPage: true });
  };
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(process.env.BASE + '/sign-in');
  await page.getByLabel('Access token').fill(process.env.TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(process.env.BASE + '/');

  // The overview: ROMI drawn, a bar per campaign that has a figure.
  out.romi_bars = await page.locator('#romi-chart rect.bar').count();
  out.romi_label = await page.locator('#romi-chart').getAttribute('aria-label');
  out.lift_whiskers = await page.locator('#lift-chart line').count();
  await scan('overview');
  await shot('console-overview');

  // The segment builder: an event condition, then a stricter count.
  await page.getByRole('link', { name: 'Segments' }).click();
  await page.getByRole('link', { name: 'Build a segment' }).click();
  await scan('builder');
  const counted = async (previous) => {
    try {
      await page.waitForFunction((prev) => {
        const note = document.getElementById('count-note').textContent;
        const count = document.getElementById('member-count').textContent;
        return note.startsWith('of ') && count !== prev;
      }, previous, { timeout: 20000 });
    } catch (e) {
      throw new Error('no count came: the builder says ' + await page.locator('#count-note').textContent());
    }
    return await page.locator('#member-count').textContent();
  };
  await page.getByLabel('Condition 1 trait').fill('email');
  await page.getByLabel('Condition 1 comparison').selectOption({ label: 'contains' });
  await page.getByLabel('Condition 1 value').fill('@example.com');
  out.count_with_email = await counted('–');
  await page.getByRole('button', { name: 'Add event condition' }).click();
  await page.getByLabel('Condition 2 event').fill('order_completed');
  out.count_any_order = await counted(out.count_with_email);
  await page.getByLabel('Condition 2 times').fill('3');
  out.count_three_orders = await counted(out.count_any_order);
  out.sample_size = await page.locator('#member-sample li').count();
  out.tree = JSON.parse(await page.locator('#config-json').textContent());
  await shot('console-segment-builder');
  await page.getByLabel('Segment id').fill('frequent-buyers');
  await page.getByLabel('What it is for').fill('Three orders or more');
  await page.getByRole('button', { name: 'Save segment' }).click();
  await page.waitForURL(/\/segments\?saved=frequent-buyers/);
  out.saved_notice = await page.getByRole('status').textContent();
  await scan('segments');

  // A journey, drawn.
  await page.getByRole('link', { name: 'Journeys' }).click();
  await scan('journeys');
  await page.locator('main table a').first().click();
  out.journey_steps = await page.locator('svg.journey g.step').count();
  out.journey_edges = await page.locator('svg.journey path[marker-end]').count();
  await scan('journey');
  await shot('console-journey');

  // A template edited, published, and previewed as a person.
  await page.getByRole('link', { name: 'Templates' }).click();
  await scan('templates');
  await page.getByRole('link', { name: 'spring-mail' }).click();
  await page.getByLabel('Body (text)').fill('Hello {{ profile.first_name }}, spring is here: ten percent off this week.');
  await page.getByRole('button', { name: 'Save as a new version' }).click();
  out.template_saved = await page.getByRole('status').textContent();
  await page.getByRole('button', { name: 'Publish version 2' }).click();
  out.template_state = await page.locator('main p.muted').first().textContent();
  await page.getByLabel('User id or email').fill(process.env.EMAIL);
  await page.getByRole('button', { name: 'Preview' }).click();
  out.rendered_subject = await page.locator('#rendered-subject').textContent();
  out.rendered_body = await page.locator('#rendered-body').textContent();
  await scan('template');

  // The calendar and attribution.
  await page.getByRole('link', { name: 'Calendar' }).click();
  await page.getByLabel('From').fill('2025-06-30');
  await page.getByLabel('To').fill('2025-07-31');
  await page.getByLabel('By').selectOption('week');
  await page.getByRole('button', { name: 'Show' }).click();
  out.calendar_weeks = await page.getByRole('region', { name: 'Calendar' }).locator('tbody th').allTextContents();
  await scan('calendar');
  await page.getByRole('link', { name: 'Attribution' }).click();
  out.attribution_charts = await page.locator('figure.chart svg').count();
  out.attribution_models = await page.locator('figure.chart svg rect.bar').count();
  await scan('attribution');

  // Preview, activate, run; a delivery appears, one send dead-letters; replay it.
  await page.getByRole('link', { name: 'Campaigns' }).click();
  await scan('campaigns');
  await page.getByRole('link', { name: 'Spring news' }).click();
  out.state_before = await page.locator('main .state').first().textContent();
  await page.getByRole('link', { name: 'Preview' }).click();
  out.preview_audience = Number(await page.locator('#preview-audience').textContent());
  out.preview_queued = Number(await page.locator('#preview-queued').textContent());
  out.preview_samples = await page.locator('article.sample').count();
  await page.getByLabel('Preview as (user id or email)').fill(process.env.EMAIL);
  await page.getByRole('button', { name: 'Render' }).click();
  out.preview_as_body = await page.locator('#rendered-body').textContent();
  await scan('preview');
  await page.getByRole('link', { name: 'Back to the campaign' }).click();
  await page.getByRole('button', { name: 'Activate' }).click();
  out.state_after = await page.locator('main .state').first().textContent();
  await page.getByRole('button', { name: 'Run now' }).click();
  const rows = async (label) => await page.getByRole('region', { name: label }).locator('tbody tr:not(:has(td.muted))').count();
  // The first page shows 25 sends, oldest first.
  const page_of = (n) => Math.min(n, 25);
  for (let i = 0; i < 200 && (await rows('Deliveries')) < page_of(out.preview_queued); i++) {
    await page.waitForTimeout(100);
    await page.reload();
  }
  out.delivered_rows = await rows('Deliveries');
  out.dead_rows = await rows('Dead letters');
  out.skip_rows = await rows('Skips');
  await scan('campaign');
  await page.getByRole('button', { name: 'Replay dead letters' }).click();
  for (let i = 0; i < 200 && ((await rows('Dead letters')) > 0 || (await rows('Deliveries')) < page_of(out.preview_queued + 1)); i++) {
    await page.waitForTimeout(100);
    await page.reload();
  }
  out.dead_rows_after_replay = await rows('Dead letters');
  out.delivered_rows_after_replay = await rows('Deliveries');
  return out;
});
"#;

const ADMIN_ERASES: &str = r#"
browse(async (page, axe) => {
  const out = { violations: {} };
  await page.goto(process.env.BASE + '/sign-in');
  await page.getByLabel('Access token').fill(process.env.TOKEN);
  await page.keyboard.press('Enter');
  await page.waitForURL(process.env.BASE + '/');
  await page.getByRole('link', { name: 'Profiles' }).click();
  await page.getByLabel('User id or email').fill(process.env.EMAIL.toUpperCase());
  await page.getByRole('button', { name: 'Find' }).click();
  out.found = await page.getByRole('status').textContent();
  out.violations.profiles = await axe(page);
  await page.getByRole('region', { name: 'Profiles' }).locator('tbody a').first().click();
  out.heading = await page.getByRole('heading', { level: 1 }).textContent();
  out.timeline_rows = await page.getByRole('region', { name: 'Timeline' }).locator('tbody tr').count();
  out.violations.profile = await axe(page);
  // A wrong confirmation erases nothing.
  await page.getByLabel(/Type the profile id/).fill('pr_0000000000000000');
  await page.getByRole('button', { name: 'Erase profile' }).click();
  out.refused = await page.getByRole('heading', { level: 1 }).textContent();
  await page.goBack();
  await page.getByLabel(/Type the profile id/).fill(process.env.PROFILE);
  await page.getByRole('button', { name: 'Erase profile' }).click();
  await page.waitForURL(/\/profiles\?erased=/);
  out.erased = await page.getByRole('status').textContent();
  await page.getByLabel('User id or email').fill(process.env.EMAIL);
  await page.getByRole('button', { name: 'Find' }).click();
  out.found_after = await page.getByRole('status').textContent();
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(process.env.BASE + '/segments/new');
  out.violations.builder_phone = await axe(page);
  out.builder_phone_scrolls_sideways = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  return out;
});
"#;

fn serious(violations: &serde_json::Value) -> Vec<String> {
    let mut found = Vec::new();
    for (page, list) in violations.as_object().unwrap() {
        for v in list.as_array().unwrap() {
            if matches!(v[1].as_str(), Some("serious" | "critical")) {
                found.push(format!("{page}: {v}"));
            }
        }
    }
    found
}

/// The campaign the orchestrator previews and activates: a batch to frequent buyers, through
/// the webhook adapter to `vendor`.
fn spring_news(engine: &baton::Engine, vendor: &Vendor) {
    let hash = |name: &str| engine.plugin_named(name).unwrap().unwrap().hash;
    let mut campaign = welcome_campaign();
    campaign.id = "spring-news".into();
    campaign.name = "Spring news".into();
    campaign.trigger = Trigger::Batch { every_ms: None };
    let mail = ContentSpec {
        kind: ContentKind::Template,
        description: "Spring news".into(),
        subject: Some("News for {{ profile.first_name }}".into()),
        body: "Hello {{ profile.first_name }}, spring is here.".into(),
        html: None,
        locales: Default::default(),
    };
    engine.save_content("test", "spring-mail", mail).unwrap();
    engine.publish_content("test", "spring-mail", None).unwrap();
    campaign.message.subject = None;
    campaign.message.body = String::new();
    campaign.message.content = Some("spring-mail".into());
    engine.create_campaign("test", campaign).unwrap();
    let rule = serde_json::json!({"event": "order_completed", "count": {"op": "gte", "value": 4}});
    engine
        .bind("test", "spring-news", Slot::Segment, hash("segment-conditions"), rule, Grants::default())
        .unwrap();
    engine
        .bind(
            "test",
            "spring-news",
            Slot::Personalizer,
            hash("personalize-liquid"),
            serde_json::json!({}),
            Grants::default(),
        )
        .unwrap();
    let channel = serde_json::json!({
        "url": vendor.url("/send"),
        "fields": { "to": "recipient", "subject": "subject", "text": "body" }
    });
    let grants = Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec![] };
    engine.bind("test", "spring-news", Slot::Channel, hash("channel-webhook"), channel, grants).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_run_campaigns_build_segments_and_erase_profiles_in_the_console() {
    let dir = tempfile::tempdir().unwrap();
    baton::demo_scenario::run_on(dir.path(), &baton_tests::store_config(dir.path()), 400, 7).await.unwrap();
    let storage = baton_tests::open_store(dir.path());
    let runtime = Arc::new(Runtime::new(test_config(), storage.clone()).unwrap());
    // One attempt per send: a vendor failure dead-letters at once, for the replay.
    let config = EngineConfig {
        delivery: baton::DeliveryConfig { max_attempts: 1, ..delivery_config() },
        ..EngineConfig::default()
    };
    let engine =
        Arc::new(baton::Engine::new(storage, runtime, Arc::new(FixedClock::at(DEMO_NOW)), config).unwrap());
    let vendor = Vendor::start().await;
    spring_news(&engine, &vendor);
    vendor.answer(&[(503, &[])]);
    let olga = engine.storage().create_token("olga", Role::Orchestrator, 1).unwrap().0;
    let root = engine.storage().create_token("root", Role::Admin, 1).unwrap().0;
    let someone = engine
        .find_profiles(&baton::ProfileLookup::default(), &baton::PageRequest { after: None, limit: 1 })
        .unwrap()
        .items
        .remove(0);
    let email = someone.attributes["email"].as_str().unwrap().to_owned();

    let mut serve_config = ServeConfig { api: ApiConfig::default(), ..ServeConfig::default() };
    serve_config.loops.delivery_idle_ms = 20;
    serve_config.loops.tick_ms = 200;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(baton::serve(engine.clone(), listener, serve_config, async {
        let _ = stopped.await;
    }));

    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shots_text = shots.to_str().unwrap().to_owned();
    let url = base.clone();
    let email_for_flow = email.clone();
    let flow = tokio::task::spawn_blocking(move || {
        browser::script(
            &url,
            &[("TOKEN", &olga), ("SHOTS", &shots_text), ("EMAIL", &email_for_flow)],
            ORCHESTRATOR_FLOW,
        )
    })
    .await
    .unwrap();
    assert!(flow["romi_bars"].as_u64().unwrap() >= 2, "{flow}");
    assert!(flow["romi_label"].as_str().unwrap().starts_with("Return on marketing investment"), "{flow}");
    assert!(flow["lift_whiskers"].as_u64().unwrap() >= 2, "{flow}");
    let number = |key: &str| flow[key].as_str().unwrap().replace(',', "").parse::<u64>().unwrap();
    assert_eq!(number("count_with_email"), 400, "every demo customer has an example.com address");
    assert!(number("count_with_email") > number("count_any_order"), "{flow}");
    assert!(number("count_any_order") > number("count_three_orders"), "{flow}");
    assert!(number("count_three_orders") > 0, "{flow}");
    assert_eq!(flow["sample_size"].as_u64().unwrap(), number("count_three_orders").min(5));
    assert_eq!(
        flow["tree"],
        serde_json::json!({"all": [
            {"attribute": "email", "op": "contains", "value": "@example.com"},
            {"event": "order_completed", "count": {"op": "gte", "value": 3}}
        ]})
    );
    assert_eq!(flow["saved_notice"], "Segment frequent-buyers saved; Baton now keeps its membership.");
    let saved = engine.saved_segments().unwrap().into_iter().find(|s| s.id == "frequent-buyers").unwrap();
    assert_eq!(saved.description, "Three orders or more");
    assert!(flow["journey_steps"].as_u64().unwrap() >= 4, "{flow}");
    assert!(flow["journey_edges"].as_u64().unwrap() >= 3, "{flow}");
    assert_eq!(
        (flow["state_before"].as_str(), flow["state_after"].as_str()),
        (Some("draft"), Some("active"))
    );
    let queued = flow["preview_queued"].as_u64().unwrap();
    assert!(queued >= 2 && flow["preview_audience"].as_u64().unwrap() >= queued, "{flow}");
    let first_name = someone.attributes["first_name"].as_str().unwrap();
    assert_eq!(flow["template_saved"], "Saved as version 2. Previews show it now; publish it for sends.");
    assert_eq!(flow["template_state"], "template · version 2 · the newest version is live");
    assert_eq!(flow["rendered_subject"], format!("News for {first_name}"));
    assert_eq!(
        flow["rendered_body"],
        format!("Hello {first_name}, spring is here: ten percent off this week.")
    );
    assert_eq!(flow["preview_as_body"], flow["rendered_body"]);
    assert!(!flow["calendar_weeks"].as_array().unwrap().is_empty(), "the summer sale runs weekly: {flow}");
    assert!(
        flow["calendar_weeks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.as_str().unwrap().starts_with("week of "))
    );
    assert!(flow["attribution_charts"].as_u64().unwrap() >= 1, "{flow}");
    assert!(flow["attribution_models"].as_u64().unwrap() >= 6, "six models side by side: {flow}");
    assert_eq!(flow["preview_samples"].as_u64().unwrap(), queued.min(5));
    assert_eq!(flow["delivered_rows"].as_u64().unwrap(), queued.min(25), "{flow}");
    assert_eq!(flow["dead_rows"], 1, "{flow}");
    assert_eq!(flow["dead_rows_after_replay"], 0, "{flow}");
    assert_eq!(flow["delivered_rows_after_replay"].as_u64().unwrap(), (queued + 1).min(25), "{flow}");
    // Every recipient delivered once; the replayed send reached the vendor twice.
    let records = engine.deliveries("spring-news").unwrap();
    let delivered =
        records.iter().filter(|d| matches!(d.outcome, baton::SendOutcome::Delivered { .. })).count();
    let dead =
        records.iter().filter(|d| matches!(d.outcome, baton::SendOutcome::DeadLettered { .. })).count();
    assert_eq!(
        (records.len() as u64, delivered as u64, dead),
        (queued + 1, queued, 1),
        "the vendor's first answer was a 503"
    );
    assert_eq!(vendor.received().len() as u64, queued + 1);
    let skipped = engine.skips("spring-news").unwrap().len() as u64;
    assert_eq!(flow["skip_rows"].as_u64().unwrap(), skipped.min(25), "{flow}");
    assert_eq!(flow["csp"], serde_json::json!([]), "the console runs under its own CSP without a refusal");
    assert!(serious(&flow["violations"]).is_empty(), "{:?}", serious(&flow["violations"]));
    for name in ["console-overview", "console-segment-builder", "console-journey"] {
        assert!(shots.join(format!("{name}.png")).metadata().unwrap().len() > 10_000, "{name} screenshot");
    }

    let url = base.clone();
    let (profile, email_for) = (someone.id.to_string(), email.clone());
    let erased = tokio::task::spawn_blocking(move || {
        browser::script(&url, &[("TOKEN", &root), ("EMAIL", &email_for), ("PROFILE", &profile)], ADMIN_ERASES)
    })
    .await
    .unwrap();
    assert_eq!(erased["found"], format!("1 found for “{}”.", email.to_uppercase()));
    assert_eq!(erased["heading"], email);
    assert!(erased["timeline_rows"].as_u64().unwrap() >= 1);
    assert_eq!(erased["refused"], "Not erased");
    assert_eq!(erased["erased"], format!("Profile {} and its events were erased.", someone.id));
    assert_eq!(erased["found_after"], format!("0 found for “{email}”."));
    assert_eq!(erased["builder_phone_scrolls_sideways"], false);
    assert!(serious(&erased["violations"]).is_empty(), "{:?}", serious(&erased["violations"]));
    assert!(matches!(engine.profile(someone.id), Err(baton::EngineError::ProfileNotFound(_))));

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
