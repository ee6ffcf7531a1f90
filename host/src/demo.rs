//! `baton demo`: an end-to-end scenario on an embedded store, with the first-party plugins and a
//! local stand-in vendor, printing what happened.
//!
//! 1. A deterministic data set (seeded): profiles with traits, consents and time zones; sign-ups,
//!    page views and orders (skewed: a few customers spend a lot) over four months.
//! 2. Three campaigns: a welcome triggered by sign-ups; a summer sale to every subscriber
//!    (25 days before the end, two variants, 20% held out); a win-back to lapsed high-value
//!    customers (7 days before the end, two variants, 20% held out).
//! 3. Delivery to a stand-in vendor on loopback; simulated engagement: opens and clicks on the
//!    messages, and orders from the shop that name no campaign. A message makes its recipient
//!    more likely to order in the week after (each variant by its own amount); a held-out
//!    customer orders as they would have anyway. Customers are touched by several campaigns
//!    before buying, so the attribution models disagree.
//! 4. Results measured from those untagged orders by each campaign's conversion definition (per
//!    variant, with the holdout's lift and confidence intervals), and the KPIs from the bound
//!    calculators: the funnel, ROMI, and multi-touch attribution across all three.
//!
//! Depends on: `engine`, `store`, `runtime`, first-party plugins.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::campaign::{Campaign, CampaignState, Grants, Slot};
use crate::delivery::{KpiSnapshot, SkipReason};
use crate::engine::{Engine, EngineConfig, FixedClock, RunReport};
use crate::first_party::first_party;
use crate::measurement::CampaignResults;
use crate::profile::{ConsentState, Event, NewEvent, ProfileId};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::Storage;

/// Who the demo's audit records name.
const ACTOR: &str = "demo";

const DAY: i64 = 86_400_000;
/// The scenario's "now": 30 June 2025, 10:00 UTC.
const NOW: i64 = 1_751_277_600_000;
const HISTORY_DAYS: i64 = 120;
/// The day the summer sale goes out.
const SALE_DAY: i64 = 95;
/// The day the win-back goes out.
const WINBACK_DAY: i64 = 113;
/// How long a message moves its recipient, in days: the campaigns' conversion window too.
const NUDGE_DAYS: i64 = 7;
/// The campaigns, in the order the report shows them.
const CAMPAIGNS: [&str; 3] = ["welcome", "summer-sale", "win-back"];

/// What the demo did, for people and tests.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// Profiles created.
    pub profiles: usize,
    /// Events stored.
    pub events: usize,
    /// The welcome campaign's triggered runs, merged.
    pub welcome: RunReport,
    /// The summer sale's batch run.
    pub summer: RunReport,
    /// The win-back batch run.
    pub winback: RunReport,
    /// Requests the stand-in vendor received.
    pub vendor_requests: u64,
    /// Sends delivered, by campaign.
    pub delivered: BTreeMap<String, usize>,
    /// KPI snapshots, by campaign.
    pub kpis: BTreeMap<String, Vec<KpiSnapshot>>,
    /// Results measured by each campaign's conversion definition, by campaign.
    pub results: BTreeMap<String, CampaignResults>,
    /// The saved segment of lapsed customers, kept current over the whole history.
    pub lapsed: SegmentSummary,
    /// The onboarding journey.
    pub journey: JourneySummary,
}

/// What the onboarding journey did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JourneySummary {
    /// Per step, in the order a profile meets them: (id, type, counts).
    pub steps: Vec<(String, String, crate::journey::StepCounts)>,
    /// Profiles still inside at the end.
    pub waiting: usize,
    /// Its messages delivered, by campaign.
    pub delivered: BTreeMap<String, usize>,
}

/// How a saved segment moved over the demo's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SegmentSummary {
    /// Members at the end.
    pub members: u64,
    /// `segment_entered` events recorded.
    pub entered: usize,
    /// `segment_exited` events recorded.
    pub exited: usize,
}

/// Runs the scenario in `dir` with `profiles` customers, generated from `seed`.
pub async fn run(dir: &std::path::Path, profiles: usize, seed: u64) -> Result<DemoReport, DemoError> {
    run_on(dir, &crate::store::StorageConfig::default(), profiles, seed).await
}

/// [`run`] on the store `settings` name (a PostgreSQL database when they give its URL; `dir` then
/// holds this process's own files only).
pub async fn run_on(
    dir: &std::path::Path,
    settings: &crate::store::StorageConfig,
    profiles: usize,
    seed: u64,
) -> Result<DemoReport, DemoError> {
    let (vendor, requests) = stand_in_vendor().await?;
    let storage = Storage::open_with(dir, settings)?;
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default(), storage.clone())?);
    let clock = Arc::new(FixedClock::at(NOW - HISTORY_DAYS * DAY));
    // The demo's vendor is a stand-in on loopback, over plain HTTP: allowed for it alone.
    let mut config = EngineConfig::default();
    config.delivery.outbound = crate::engine::OutboundPolicy::local_stand_ins();
    let engine = Arc::new(Engine::new(storage, runtime, clock.clone(), config)?);
    let store = engine.storage().clone();

    // Plugins and campaigns.
    let install = |name: &str| -> Result<crate::plugin::ContentHash, DemoError> {
        let bytes =
            first_party(name).ok_or_else(|| DemoError(format!("first-party plugin {name} is not built")))?;
        Ok(engine.runtime().install(bytes)?.hash())
    };
    let conditions = install("segment-conditions")?;
    let liquid = install("personalize-liquid")?;
    let webhook = install("channel-webhook")?;
    let funnel = install("kpi-funnel")?;
    let romi = install("kpi-romi")?;
    let attribution = install("kpi-attribution")?;
    store.put_secret("VENDOR_KEY", &crate::store::SecretValue::new("demo-key"), &["127.0.0.1".into()])?;
    let grants = Grants { allowed_hosts: vec!["127.0.0.1".into()], secrets: vec!["VENDOR_KEY".into()] };
    let channel_config = |path: &str| {
        serde_json::json!({
            "url": format!("http://{vendor}{path}"),
            "headers": { "authorization": "Bearer {{secret:VENDOR_KEY}}" },
            "fields": { "to": "recipient", "subject": "subject", "text": "body", "variant": "variant" }
        })
    };
    let campaigns = [
        (
            include_str!("../../examples/scenario/welcome.campaign.json"),
            include_str!("../../examples/scenario/welcome.segment.json"),
        ),
        (
            include_str!("../../examples/scenario/summer-sale.campaign.json"),
            include_str!("../../examples/scenario/welcome.segment.json"),
        ),
        (
            include_str!("../../examples/scenario/win-back.campaign.json"),
            include_str!("../../examples/scenario/win-back.segment.json"),
        ),
    ];
    // A saved segment, kept current from the first day: judged again when a customer orders, and
    // by the clock when a customer's last order turns 45 days old.
    let lapsed = crate::segment::SegmentSpec {
        id: LAPSED.into(),
        description: "Ordered before, but not in the last 45 days".into(),
        definition: crate::segment::SegmentDefinition::Rule {
            plugin: conditions,
            config: scenario_json(include_str!("../../examples/scenario/lapsed.segment.json"))?,
        },
    };
    engine.save_segment(ACTOR, lapsed)?;
    for (campaign, segment) in campaigns {
        let (campaign, segment) = (scenario_campaign(campaign)?, scenario_json(segment)?);
        let id = campaign.id.clone();
        engine.create_campaign(ACTOR, campaign)?;
        engine.bind(ACTOR, &id, Slot::Segment, conditions, segment, Grants::default())?;
        engine.bind(ACTOR, &id, Slot::Personalizer, liquid, serde_json::json!({}), Grants::default())?;
        engine.bind(
            ACTOR,
            &id,
            Slot::Channel,
            webhook,
            channel_config(&format!("/send/{id}")),
            grants.clone(),
        )?;
        engine.bind(
            ACTOR,
            &id,
            Slot::Kpi("funnel".into()),
            funnel,
            serde_json::json!({}),
            Grants::default(),
        )?;
        if id != "welcome" {
            let costs = scenario_json(include_str!("../../examples/scenario/win-back.romi.json"))?;
            engine.bind(ACTOR, &id, Slot::Kpi("romi".into()), romi, costs, Grants::default())?;
        }
        if id == "win-back" {
            // Attribution reads every campaign's touches store-wide; one binding reports them all.
            let config = scenario_json(include_str!("../../examples/scenario/attribution.json"))?;
            engine.bind(
                ACTOR,
                &id,
                Slot::Kpi("attribution".into()),
                attribution,
                config,
                Grants::default(),
            )?;
        }
        engine.transition(ACTOR, &id, CampaignState::Active)?;
    }

    // A journey: two days after sign-up, a thank-you to those who ordered, a reminder with an
    // offer to the others, who then have five days to order.
    for text in [
        include_str!("../../examples/scenario/thank-you.campaign.json"),
        include_str!("../../examples/scenario/reminder-offer.campaign.json"),
    ] {
        let campaign = scenario_campaign(text)?;
        let id = campaign.id.clone();
        engine.create_campaign(ACTOR, campaign)?;
        engine.bind(ACTOR, &id, Slot::Personalizer, liquid, serde_json::json!({}), Grants::default())?;
        let config = channel_config(&format!("/send/{id}"));
        engine.bind(ACTOR, &id, Slot::Channel, webhook, config, grants.clone())?;
        engine.transition(ACTOR, &id, CampaignState::Active)?;
    }
    let onboarding: crate::journey::JourneySpec = serde_json::from_value(scenario_json(include_str!(
        "../../examples/scenario/onboarding.journey.json"
    ))?)
    .map_err(|e| DemoError(format!("examples/scenario/onboarding.journey.json: {e}")))?;
    engine.save_journey(ACTOR, ONBOARDING, onboarding)?;
    engine.publish_journey(ACTOR, ONBOARDING, None, &BTreeMap::new())?;

    // History, day by day, so the welcome campaign reacts to each day's sign-ups.
    let mut rng = SplitMix(seed);
    let people = population(&mut rng, profiles);
    // Each profile's person, and the nudges campaigns gave them.
    let mut person_of: std::collections::HashMap<ProfileId, usize> = std::collections::HashMap::new();
    let mut nudges = Nudges::default();
    let (mut welcome_report, mut summer_report, mut winback_report) =
        (RunReport::default(), RunReport::default(), RunReport::default());
    let mut stored = 0usize;
    for day in 0..HISTORY_DAYS {
        let today = NOW - (HISTORY_DAYS - day) * DAY;
        clock.set(today + 9 * 3_600_000);
        let mut events = Vec::new();
        // The day's sign-ups, in one durable write (one per person made the demo's time grow
        // with two disk flushes per customer).
        let signups: Vec<&Person> = people.iter().filter(|p| p.signup_day == day).collect();
        let traits: Vec<serde_json::Value> = signups
            .iter()
            .map(|p| serde_json::json!({"first_name": p.first_name, "email": p.email, "lifetime_value": 0}))
            .collect();
        let rows: Vec<_> =
            signups.iter().zip(&traits).map(|(p, t)| (Some(p.user.as_str()), None, as_map(t))).collect();
        let ids = store.identify_many(&rows, today, &|i, profile| {
            let consent = if signups[i].consents { ConsentState::Granted } else { ConsentState::Denied };
            profile.set_consent("email", "marketing", consent, today);
            profile.timezone = Some(signups[i].timezone.into());
        })?;
        for (id, person) in ids.into_iter().zip(&signups) {
            person_of.insert(id, person.index);
        }
        for (i, person) in people.iter().enumerate() {
            if person.signup_day == day {
                events.push(new_event(
                    &format!("signup-{i}"),
                    &person.user,
                    "signed_up",
                    today,
                    serde_json::json!({}),
                ));
            }
            if day > person.signup_day {
                let nudge = nudges.on(i, day);
                for (n, (name, properties)) in person.activity(&mut rng, day, nudge).into_iter().enumerate() {
                    events.push(new_event(
                        &format!("{i}-{day}-{n}"),
                        &person.user,
                        name,
                        today + 3_600_000,
                        properties,
                    ));
                }
            }
        }
        let outcomes = store.ingest(&events, today)?;
        let triggered: Vec<Event> = events
            .iter()
            .zip(&outcomes)
            .filter_map(|(e, o)| match o {
                crate::profile::IngestOutcome::Stored { profile } => Some(stored_event(e, *profile)),
                _ => None,
            })
            .collect();
        stored += triggered.len();
        let triggered_run = on_blocking_thread(&engine, move |e| e.on_events(&triggered)).await?;
        merge(&mut welcome_report, triggered_run);
        // The day's orders and the windows that passed overnight, as `baton serve` keeps them;
        // the journey's timers that came due.
        on_blocking_thread(&engine, |e| e.keep_segments_current()).await?;
        on_blocking_thread(&engine, |e| e.fire_journey_timers()).await?;
        let before = store.deliveries("welcome")?.len();
        engine.deliver_due().await?;
        // A welcome makes a new customer a little more likely to order in the week after.
        for delivery in &store.deliveries("welcome")?[before..] {
            if let Some(&person) = person_of.get(&delivery.profile) {
                nudges.give(person, day, 1.6, 0.0);
            }
        }
        let batch = match day {
            SALE_DAY => Some("summer-sale"),
            WINBACK_DAY => Some("win-back"),
            _ => None,
        };
        if let Some(id) = batch {
            if id == "win-back" {
                // Lifetime value kept current for the segment (a warehouse job would do this).
                update_lifetime_values(&store, &people, today)?;
            }
            clock.set(today + 10 * 3_600_000);
            let run_id = format!("day-{day}");
            let report = on_blocking_thread(&engine, move |e| e.run_batch(ACTOR, id, &run_id)).await?;
            while store.outbox_len() > 0 {
                if engine.deliver_due().await?.claimed == 0 {
                    break;
                }
            }
            batch_nudges(&store, id, day, &person_of, &mut nudges)?;
            match id {
                "summer-sale" => summer_report = report,
                _ => winback_report = report,
            }
        }
    }
    clock.set(NOW);

    // Engagement with what was delivered: opens and clicks, a few hours after each message.
    let mut responses = Vec::new();
    for id in CAMPAIGNS {
        // Delivery records are ordered by when concurrent sends finished; sort for a stable draw.
        let mut deliveries = store.deliveries(id)?;
        deliveries.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
        for delivery in deliveries {
            let roll = rng.unit();
            let profile = delivery.profile;
            let base = format!("{}:resp", delivery.idempotency_key);
            if roll < 0.45 {
                let at = delivery.at + 2 * 3_600_000;
                responses.push(response(&base, "email_opened", profile, id, at));
            }
            if roll < 0.14 {
                let at = delivery.at + 3 * 3_600_000;
                responses.push(response(&base, "email_clicked", profile, id, at));
            }
        }
    }
    store.append_events(&responses)?;

    let mut kpis = BTreeMap::new();
    let mut results = BTreeMap::new();
    let mut delivered = BTreeMap::new();
    for id in CAMPAIGNS {
        kpis.insert(id.to_owned(), on_blocking_thread(&engine, move |e| e.compute_kpis(id)).await?);
        let kept = on_blocking_thread(&engine, move |e| e.latest_campaign_results(id)).await?;
        if let Some(kept) = kept {
            results.insert(id.to_owned(), kept);
        }
        let count = store
            .deliveries(id)?
            .iter()
            .filter(|d| matches!(d.outcome, crate::delivery::SendOutcome::Delivered { .. }))
            .count();
        delivered.insert(id.to_owned(), count);
    }
    let lapsed = segment_summary(&engine, &store, LAPSED)?;
    let journey = journey_summary(&engine, &store)?;
    Ok(DemoReport {
        lapsed,
        journey,
        profiles: people.len(),
        events: store.event_count().max(stored),
        welcome: welcome_report,
        summer: summer_report,
        winback: winback_report,
        vendor_requests: requests.load(Ordering::Relaxed),
        delivered,
        kpis,
        results,
    })
}

/// The saved segment the demo keeps current.
const LAPSED: &str = "lapsed-customers";
const ONBOARDING: &str = "onboarding";
/// The onboarding journey's steps, in the order a profile meets them.
const ONBOARDING_STEPS: [&str; 7] =
    ["two-days", "ordered", "thanks", "reminder", "order-wait", "converted", "done"];

fn journey_summary(engine: &Engine, store: &Storage) -> Result<JourneySummary, DemoError> {
    let view = engine.journey_view(ONBOARDING)?;
    let counts = view.counts.get(&1).cloned().unwrap_or_default();
    let steps = ONBOARDING_STEPS
        .iter()
        .map(|id| {
            let kind = view.spec.steps.get(*id).map_or("", |s| s.kind());
            ((*id).to_owned(), kind.to_owned(), counts.get(*id).cloned().unwrap_or_default())
        })
        .collect();
    let mut delivered = BTreeMap::new();
    for campaign in ["thank-you", "reminder-offer"] {
        let count = store
            .deliveries(campaign)?
            .iter()
            .filter(|d| matches!(d.outcome, crate::delivery::SendOutcome::Delivered { .. }))
            .count();
        delivered.insert(campaign.to_owned(), count);
    }
    Ok(JourneySummary { steps, waiting: view.waiting, delivered })
}

/// How segment `id` moved, from its stored count and the events upkeep recorded.
fn segment_summary(engine: &Engine, store: &Storage, id: &str) -> Result<SegmentSummary, DemoError> {
    let mut summary =
        SegmentSummary { members: engine.segment_view(id, 0)?.segment.members, ..Default::default() };
    for event in store.scan_events() {
        let event = event?;
        if event.properties.get("segment").and_then(|s| s.as_str()) != Some(id) {
            continue;
        }
        match event.name.as_str() {
            crate::segment::SEGMENT_ENTERED => summary.entered += 1,
            crate::segment::SEGMENT_EXITED => summary.exited += 1,
            _ => {}
        }
    }
    Ok(summary)
}

/// Why the demo could not run, in a sentence.
#[derive(Debug)]
pub struct DemoError(String);

impl std::fmt::Display for DemoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DemoError {}

macro_rules! demo_error_from {
    ($($t:ty),*) => { $(impl From<$t> for DemoError { fn from(e: $t) -> Self { DemoError(e.to_string()) } })* };
}

demo_error_from!(
    crate::store::StorageError,
    crate::runtime::RuntimeError,
    crate::runtime::InstallError,
    crate::engine::EngineError,
    std::io::Error
);

/// Runs engine work (plugin calls) on a blocking thread: guests that use WASI I/O must not run on
/// an async worker thread.
async fn on_blocking_thread<T: Send + 'static>(
    engine: &Arc<Engine>,
    work: impl FnOnce(&Engine) -> Result<T, crate::engine::EngineError> + Send + 'static,
) -> Result<T, DemoError> {
    let engine = engine.clone();
    let result =
        tokio::task::spawn_blocking(move || work(&engine)).await.map_err(|e| DemoError(e.to_string()))?;
    Ok(result?)
}

/// A campaign definition from `examples/scenario/`.
fn scenario_campaign(text: &str) -> Result<Campaign, DemoError> {
    serde_json::from_str(text).map_err(|e| DemoError(format!("examples/scenario campaign: {e}")))
}

/// A binding config from `examples/scenario/`.
fn scenario_json(text: &str) -> Result<serde_json::Value, DemoError> {
    serde_json::from_str(text).map_err(|e| DemoError(format!("examples/scenario config: {e}")))
}

fn merge(total: &mut RunReport, part: RunReport) {
    total.evaluated += part.evaluated;
    total.audience += part.audience;
    total.queued += part.queued;
    total.duplicates += part.duplicates;
    for (reason, n) in part.skipped {
        *total.skipped.entry(reason).or_default() += n;
    }
    for (variant, n) in part.variants {
        *total.variants.entry(variant).or_default() += n;
    }
}

fn as_map(value: &serde_json::Value) -> &serde_json::Map<String, serde_json::Value> {
    static EMPTY: std::sync::OnceLock<serde_json::Map<String, serde_json::Value>> =
        std::sync::OnceLock::new();
    value.as_object().unwrap_or_else(|| EMPTY.get_or_init(serde_json::Map::new))
}

fn new_event(id: &str, user: &str, name: &str, at: i64, properties: serde_json::Value) -> NewEvent {
    NewEvent {
        id: id.into(),
        user_id: Some(user.into()),
        anonymous_id: None,
        name: name.into(),
        timestamp: at,
        properties: as_map(&properties).clone(),
        campaign: None,
    }
}

fn stored_event(e: &NewEvent, profile: crate::profile::ProfileId) -> Event {
    Event {
        id: e.id.clone(),
        profile,
        name: e.name.clone(),
        timestamp: e.timestamp,
        properties: e.properties.clone(),
        campaign: e.campaign.clone(),
    }
}

/// An open or a click, as the vendor's feedback records it: on the campaign's record.
fn response(base: &str, name: &str, profile: ProfileId, campaign: &str, at: i64) -> Event {
    Event {
        id: format!("{base}:{name}"),
        profile,
        name: name.into(),
        timestamp: at,
        properties: serde_json::Map::new(),
        campaign: Some(campaign.into()),
    }
}

/// What messages did to their recipients: for each person, the days a message moves them.
#[derive(Default)]
struct Nudges(std::collections::HashMap<usize, Vec<Nudge>>);

/// One message's effect on the week after it: orders `factor` times as likely, and a lapsed
/// customer `comeback` likely per day to order again.
#[derive(Clone, Copy)]
struct Nudge {
    from: i64,
    until: i64,
    factor: f64,
    comeback: f64,
}

impl Nudges {
    /// A message on `day` moves `person` for the week after.
    fn give(&mut self, person: usize, day: i64, factor: f64, comeback: f64) {
        let nudge = Nudge { from: day + 1, until: day + NUDGE_DAYS, factor, comeback };
        self.0.entry(person).or_default().push(nudge);
    }

    /// The strongest nudge on `person` today: (factor, comeback); (1, 0) without one.
    fn on(&self, person: usize, day: i64) -> (f64, f64) {
        self.0
            .get(&person)
            .into_iter()
            .flatten()
            .filter(|n| (n.from..=n.until).contains(&day))
            .fold((1.0, 0.0), |(factor, comeback), n| (factor.max(n.factor), comeback.max(n.comeback)))
    }
}

/// The nudges a batch campaign gave on `day`: each variant by its own amount. The win-back's
/// holdout gets a nudge too, of the size of what brings lapsed customers back anyway: held-out
/// customers are not frozen, they just get no message.
fn batch_nudges(
    store: &Storage,
    campaign: &str,
    day: i64,
    person_of: &std::collections::HashMap<ProfileId, usize>,
    nudges: &mut Nudges,
) -> Result<(), DemoError> {
    for delivery in store.deliveries(campaign)? {
        let Some(&person) = person_of.get(&delivery.profile) else { continue };
        let (factor, comeback) = match (campaign, delivery.variant.as_deref()) {
            ("summer-sale", Some("discount")) => (2.2, 0.0),
            ("summer-sale", _) => (1.5, 0.0),
            ("win-back", Some("discount")) => (1.0, 0.022),
            _ => (1.0, 0.012),
        };
        nudges.give(person, day, factor, comeback);
    }
    if campaign == "win-back" {
        for skip in store.skips(campaign)?.into_iter().filter(|s| s.reason == SkipReason::ControlGroup) {
            if let Some(&person) = person_of.get(&skip.profile) {
                nudges.give(person, day, 1.0, 0.005);
            }
        }
    }
    Ok(())
}

/// One simulated customer.
struct Person {
    index: usize,
    user: String,
    first_name: &'static str,
    email: String,
    timezone: &'static str,
    consents: bool,
    signup_day: i64,
    /// Orders per month, skewed: most buy rarely, a few often.
    orders_per_month: f64,
    /// The customer stopped buying after this day (lapsed), if they did.
    lapsed_after: Option<i64>,
    spend: f64,
}

const NAMES: [&str; 12] =
    ["Ada", "Ben", "Chloé", "Dmitri", "Emma", "Femi", "Grace", "Hiro", "Inès", "Jonas", "Kemal", "Lina"];
const ZONES: [&str; 6] = [
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Europe/Berlin",
];

fn population(rng: &mut SplitMix, n: usize) -> Vec<Person> {
    (0..n)
        .map(|i| {
            let intensity = rng.unit();
            Person {
                index: i,
                user: format!("user-{i:05}"),
                first_name: NAMES[(rng.next() % NAMES.len() as u64) as usize],
                email: format!("customer{i}@example.com"),
                timezone: ZONES[(rng.next() % ZONES.len() as u64) as usize],
                consents: rng.unit() < 0.85,
                signup_day: (rng.next() % HISTORY_DAYS as u64) as i64,
                orders_per_month: 0.2 + 6.0 * intensity * intensity * intensity,
                lapsed_after: (rng.unit() < 0.35).then(|| (rng.next() % 60) as i64),
                spend: 25.0 + 150.0 * intensity,
            }
        })
        .collect()
}

impl Person {
    /// Today's events: page views and, sometimes, an order; `nudge` is what recent messages do
    /// to the odds (a factor, and a lapsed customer's chance to come back).
    fn activity(
        &self,
        rng: &mut SplitMix,
        day: i64,
        nudge: (f64, f64),
    ) -> Vec<(&'static str, serde_json::Value)> {
        let mut events = Vec::new();
        if rng.unit() < 0.15 {
            events.push(("page", serde_json::json!({"path": format!("/products/{}", rng.next() % 400)})));
        }
        let active = self.lapsed_after.is_none_or(|last| day <= last);
        let (factor, comeback) = nudge;
        let odds = if active { self.orders_per_month / 30.0 * factor } else { comeback };
        if rng.unit() < odds {
            let revenue = (self.spend * (0.5 + rng.unit()) * 100.0).round() / 100.0;
            events.push(("order_completed", serde_json::json!({"revenue": revenue, "currency": "EUR"})));
        }
        events
    }
}

fn update_lifetime_values(store: &Storage, people: &[Person], now: i64) -> Result<(), DemoError> {
    for person in people {
        let Some(profile) =
            store.profile_by_identity(&crate::profile::Identity::User(person.user.clone()))?
        else {
            continue;
        };
        let total: f64 = store
            .events_of(profile.id)?
            .iter()
            .filter(|e| e.name == "order_completed")
            .filter_map(|e| e.properties.get("revenue").and_then(|v| v.as_f64()))
            .sum();
        store.update_profile(profile.id, now, |p| {
            p.attributes.insert("lifetime_value".into(), ((total * 100.0).round() / 100.0).into());
        })?;
    }
    Ok(())
}

/// A loopback HTTP server that accepts every message, counting requests.
async fn stand_in_vendor() -> Result<(SocketAddr, Arc<AtomicU64>), DemoError> {
    let count = Arc::new(AtomicU64::new(0));
    let seen = count.clone();
    let app = axum::Router::new().fallback(move || {
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        async move { ([("x-message-id", format!("vendor-{n}"))], axum::http::StatusCode::ACCEPTED) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, count))
}

/// A small deterministic generator (SplitMix64): the same seed gives the same data set.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Attributed revenue as a table: one row per campaign, one column per model.
fn render_attribution(out: &mut String, snapshot: &KpiSnapshot) {
    use std::fmt::Write as _;
    const MODELS: [&str; 6] =
        ["first_touch", "last_touch", "linear", "time_decay", "position_based", "markov"];
    let mut rows: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let metrics = snapshot.metrics.as_array().cloned().unwrap_or_default();
    for metric in &metrics {
        if metric["name"] == "attributed_revenue" {
            let model = metric["dimensions"][0][1].as_str().unwrap_or_default().to_owned();
            let key = metric["dimensions"][1][1].as_str().unwrap_or_default().to_owned();
            rows.entry(key).or_default().insert(model, metric["value"].as_f64().unwrap_or_default());
        }
    }
    let total = |name: &str| {
        metrics.iter().find(|m| m["name"] == name).and_then(|m| m["value"].as_f64()).unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "  [attribution] the revenue of {:.0} orders, credited to the campaigns whose messages came before them ({:.0} orders had no message in the 30 days before)",
        total("conversions"),
        total("unattributed_conversions")
    );
    let _ = write!(out, "    {:<12}", "campaign");
    for model in MODELS {
        let _ = write!(out, " {model:>14}");
    }
    let _ = writeln!(out);
    for (campaign, credit) in rows {
        let _ = write!(out, "    {campaign:<12}");
        for model in MODELS {
            let _ = write!(out, " {:>14.2}", credit.get(model).copied().unwrap_or_default());
        }
        let _ = writeln!(out);
    }
    for line in [
        "first_touch: all credit to the campaign that first reached the customer in the 30 days before the order.",
        "last_touch: all credit to the campaign that reached them last before the order.",
        "linear: equal shares for every message on the path.",
        "time_decay: shares halving for each week a message came before the order.",
        "position_based: 40% to the first, 40% to the last, 20% shared by the messages between.",
        "markov: each campaign's share of what orders would be lost without it, from every customer's path.",
    ] {
        let _ = writeln!(out, "    - {line}");
    }
    let _ = writeln!(out, "    Read: {}", snapshot.reads);
}

/// The report as a person reads it.
pub fn render(report: &DemoReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Baton demo: {} profiles, {} events over {} days\n",
        report.profiles, report.events, HISTORY_DAYS
    );
    for (name, run) in [
        ("welcome (triggered on sign-up)", &report.welcome),
        (&*format!("summer-sale (batch on day {SALE_DAY}, two variants, 20% held out)"), &report.summer),
        (&*format!("win-back (batch on day {WINBACK_DAY}, two variants, 20% held out)"), &report.winback),
    ] {
        let _ = writeln!(out, "{name}");
        let _ = writeln!(
            out,
            "  evaluated {:>6}   audience {:>6}   queued {:>6}",
            run.evaluated, run.audience, run.queued
        );
        let skips: Vec<String> = run.skipped.iter().map(|(r, n)| format!("{}={n}", r.code())).collect();
        let _ =
            writeln!(out, "  skipped   {}", if skips.is_empty() { "none".into() } else { skips.join(", ") });
        if run.variants.keys().any(|v| v != "-") {
            let variants: Vec<String> = run.variants.iter().map(|(v, n)| format!("{v}={n}")).collect();
            let _ = writeln!(out, "  variants  {}", variants.join(", "));
        }
    }
    let _ = writeln!(out, "\nvendor stand-in received {} requests", report.vendor_requests);
    let lapsed = &report.lapsed;
    let _ = writeln!(
        out,
        "\nSaved segment {LAPSED} (ordered before, but not in the last 45 days), kept current as orders arrived and as time passed:"
    );
    let _ = writeln!(
        out,
        "  {} members now; {} entries, each by the clock (no order makes a customer lapsed: 45 quiet days do), and {} exits when a lapsed customer ordered again; each an event a campaign can trigger on",
        lapsed.members, lapsed.entered, lapsed.exited
    );
    render_journey(&mut out, &report.journey);
    let _ = writeln!(out, "\nResults: what each campaign earned, and would it have happened anyway?");
    let _ = writeln!(
        out,
        "  Conversions are each customer's own orders from the shop (none names a campaign) within {NUDGE_DAYS} days after the message, or after being held out."
    );
    for id in CAMPAIGNS {
        if let Some(results) = report.results.get(id) {
            render_results(&mut out, results);
        }
    }
    for (campaign, snapshots) in CAMPAIGNS.iter().filter_map(|id| Some((*id, report.kpis.get(*id)?))) {
        let _ = writeln!(
            out,
            "\nKPIs: {campaign} (delivered {})",
            report.delivered.get(campaign).copied().unwrap_or(0)
        );
        for snapshot in snapshots {
            if snapshot.kpi == "attribution" {
                render_attribution(&mut out, snapshot);
                continue;
            }
            let _ = writeln!(out, "  [{}]", snapshot.kpi);
            for metric in snapshot.metrics.as_array().into_iter().flatten() {
                let name = metric["name"].as_str().unwrap_or_default();
                let value = metric["value"].as_f64().unwrap_or_default();
                let shown = match metric["unit"].as_str() {
                    Some("ratio") => format!("{:>9.1}%", value * 100.0),
                    Some("currency") => format!("{value:>10.2}"),
                    _ => format!("{value:>10.0}"),
                };
                let of = match (
                    metric["numerator"].as_f64(),
                    metric["denominator"].as_f64(),
                    metric["denominator_name"].as_str(),
                ) {
                    (Some(n), Some(d), Some(what)) => format!("  ({} of {} {what})", figure(n), figure(d)),
                    _ => String::new(),
                };
                let _ = writeln!(out, "    {name:<26} {shown}{of}");
            }
        }
    }
    out
}

/// A number as a report shows it: whole numbers whole, large ones to the unit, small ones (a
/// rate) to three decimals.
fn figure(value: f64) -> String {
    if value.fract() == 0.0 || value.abs() >= 100.0 { format!("{value:.0}") } else { format!("{value:.3}") }
}

/// One campaign's results: a row per group, then each comparison's verdict.
fn render_results(out: &mut String, results: &CampaignResults) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "\n  {}", results.campaign);
    let _ = writeln!(
        out,
        "    {:<12} {:>10} {:>9} {:>8} {:>18} {:>10} {:>13}",
        "group", "recipients", "converted", "rate", "95% interval", "revenue", "per recipient"
    );
    for g in &results.groups {
        let percent = |r: f64| format!("{:.2}%", r * 100.0);
        let interval = g
            .conversion_rate_interval
            .map_or("-".to_owned(), |[low, high]| format!("{} to {}", percent(low), percent(high)));
        let _ = writeln!(
            out,
            "    {:<12} {:>10} {:>9} {:>8} {:>18} {:>10.2} {:>13}",
            g.group,
            g.recipients,
            g.converted,
            g.conversion_rate.map_or("-".to_owned(), percent),
            interval,
            g.revenue,
            g.revenue_per_recipient.map_or("-".to_owned(), |r| format!("{r:.2}")),
        );
    }
    for comparison in &results.comparisons {
        let _ = writeln!(out, "    - {}", comparison.verdict);
    }
    for note in &results.notes {
        let _ = writeln!(out, "    Note: {note}");
    }
}

fn render_journey(out: &mut String, journey: &JourneySummary) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "\nJourney {ONBOARDING}: two days after sign-up, a thank-you to those who ordered, a reminder with an offer to the others"
    );
    let _ = writeln!(
        out,
        "  {:<11} {:<15} {:>8} {:>8} {:>8}  ended",
        "step", "type", "entered", "passed", "waiting"
    );
    for (id, kind, counts) in &journey.steps {
        let ended: Vec<String> = counts.ended.iter().map(|(why, n)| format!("{why}={n}")).collect();
        let skipped: Vec<String> = counts.skipped.iter().map(|(why, n)| format!("{why}={n}")).collect();
        let mut notes = ended.join(", ");
        if !skipped.is_empty() {
            notes = format!(
                "{notes}{}not sent: {}",
                if notes.is_empty() { "" } else { "; " },
                skipped.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "  {id:<11} {kind:<15} {:>8} {:>8} {:>8}  {}",
            counts.entered,
            counts.passed,
            counts.waiting,
            if notes.is_empty() { "-".into() } else { notes }
        );
    }
    let count = |step: &str, f: &dyn Fn(&crate::journey::StepCounts) -> u64| {
        journey.steps.iter().find(|(id, _, _)| id == step).map_or(0, |(_, _, c)| f(c))
    };
    let ordered_first = count("thanks", &|c| c.entered);
    let after_reminder = count("converted", &|c| c.ended.values().sum());
    let _ = writeln!(
        out,
        "  conversions: {ordered_first} ordered within two days of signing up; {after_reminder} more within five days of the reminder; {} still inside",
        journey.waiting
    );
    let delivered: Vec<String> = journey.delivered.iter().map(|(c, n)| format!("{c}={n}")).collect();
    let _ = writeln!(out, "  delivered: {}", delivered.join(", "));
}
