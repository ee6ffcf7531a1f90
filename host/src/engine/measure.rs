//! Measurement: events streamed through each bound KPI calculator, the results kept as snapshots.
//!
//! What a calculator receives follows what it declared in `info().needs.events`:
//! - `*`: the campaign's record (its deliveries, control assignments, and the response events
//!   sources attribute to it), in time order, then one `campaign_conversion` event for each
//!   conversion the campaign's definition finds in its recipients' own events (see `results`);
//! - specific names: every stored event with those names, from all campaigns and none, grouped by
//!   profile and in time order within each profile - what cross-campaign attribution needs, in
//!   memory bounded by one customer's path.

use super::{Engine, EngineError};
use crate::campaign::{Campaign, Slot};
use crate::delivery::KpiSnapshot;
use std::sync::Arc;

use crate::contract::{self, Invocation};
use crate::runtime::{KpiRun, LoadedPlugin};

/// Events per `add` call: bounds the memory of one call, whatever the campaign's size.
const KPI_BATCH: usize = 1_000;

impl Engine {
    /// Runs every KPI calculator bound to the campaign over its events and stores the results,
    /// with the campaign's results (see [`Engine::record_campaign_results`]), and brings its
    /// daily series up to date (see [`Engine::update_campaign_series`]).
    ///
    /// Each source is read once, however many calculators read it: one pass over the campaign's
    /// record feeds every `*` calculator, one pass over the store feeds every store-wide one.
    /// Memory stays at one batch per calculator (plus what each keeps in its own sandbox).
    pub fn compute_kpis(&self, campaign: &str) -> Result<Vec<KpiSnapshot>, EngineError> {
        let campaign = self.campaign(campaign)?;
        let now = self.now();
        let mut feeds = Vec::new();
        for binding in self.storage.bindings(&campaign.id)? {
            let Slot::Kpi(name) = binding.slot else { continue };
            let plugin = self.runtime.plugin(&binding.plugin)?;
            let invocation = Invocation {
                campaign_id: campaign.id.clone(),
                config: binding.config.to_string(),
                now,
                seed: super::pipeline::hash64(&[&campaign.id, &name]),
            };
            let run = self.runtime.call(&plugin).open_kpi(&invocation)?;
            // What this binding reads: the declared events narrowed by the config (an
            // attribution model names its touch and conversion events there).
            let needs = self.reads(&plugin, &binding.config).events;
            let names = (!needs.is_empty() && !needs.iter().any(|n| n == "*")).then_some(needs);
            feeds.push(Feed { name, plugin, run, names, batch: Vec::with_capacity(KPI_BATCH), streamed: 0 });
        }
        // The conversions the campaign's definition finds, measured once for the results and
        // for every calculator, so all report the same conversions.
        let measured = self.measure(&campaign)?;
        if feeds.iter().any(|f| f.names.is_none()) {
            for event in self.storage.campaign_record(&campaign.id) {
                let event = super::subject::event(&event?);
                for feed in feeds.iter_mut().filter(|f| f.names.is_none()) {
                    feed.push(event.clone())?;
                }
            }
            for found in &measured.conversions {
                let event = found.event(&campaign.id);
                for feed in feeds.iter_mut().filter(|f| f.names.is_none()) {
                    feed.push(event.clone())?;
                }
            }
        }
        if feeds.iter().any(|f| f.names.is_some()) {
            for event in self.storage.scan_events() {
                let event = event?;
                let mut converted = None;
                for feed in &mut feeds {
                    if feed.names.as_ref().is_some_and(|names| names.iter().any(|n| *n == event.name)) {
                        let event = converted.get_or_insert_with(|| super::subject::event(&event));
                        feed.push(event.clone())?;
                    }
                }
            }
        }
        let mut snapshots = Vec::new();
        for mut feed in feeds {
            feed.flush()?;
            let metrics = feed.run.finish()?.value;
            let reads = reads_note(feed.names.as_deref(), &campaign);
            let snapshot = KpiSnapshot {
                campaign: campaign.id.clone(),
                kpi: feed.name,
                plugin: feed.plugin.hash(),
                at: now,
                events: feed.streamed,
                metrics: serde_json::to_value(&metrics).unwrap_or_default(),
                reads,
            };
            self.storage.put_kpi_snapshot(&snapshot)?;
            tracing::info!(campaign = %campaign.id, kpi = %snapshot.kpi, plugin = %feed.plugin.label(), events = feed.streamed, "KPIs computed.");
            snapshots.push(snapshot);
        }
        let results = self.results_of(&campaign, &measured);
        self.storage.put_campaign_results(&results)?;
        self.update_campaign_series(&campaign.id, false)?;
        Ok(snapshots)
    }
}

/// What a calculator read, in words, and how what it counts relates to the campaign's results:
/// the statement that keeps two conversion figures side by side from contradicting each other.
fn reads_note(names: Option<&[String]>, campaign: &Campaign) -> String {
    let window = campaign.conversion.as_ref().map(|c| crate::measurement::duration(c.window_ms));
    match (names, window) {
        (None, Some(window)) => format!(
            "The campaign's record, and its conversions as the campaign defines them (within {window} after each message): the same conversions as its results."
        ),
        (None, None) => {
            "The campaign's record. It has no conversion definition, so no conversions are counted.".into()
        }
        (Some(names), window) => {
            let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            let results = match window {
                Some(window) => format!(
                    "the campaign's results count each of its recipients' conversions within {window} after its message, whatever else touched them"
                ),
                None => "the campaign defines no conversion of its own".into(),
            };
            format!(
                "{} from every campaign and none: each conversion is counted once, and its credit shared among the campaigns that touched the customer within the calculator's lookback; {results}.",
                names.join(", ")
            )
        }
    }
}

/// One bound calculator being fed: its open run, what it reads, and the batch being filled.
struct Feed {
    name: String,
    plugin: Arc<LoadedPlugin>,
    run: KpiRun,
    /// `None` reads the campaign's record; `Some` reads these events store-wide.
    names: Option<Vec<String>>,
    batch: Vec<contract::Event>,
    streamed: u64,
}

impl Feed {
    fn push(&mut self, event: contract::Event) -> Result<(), EngineError> {
        self.batch.push(event);
        if self.batch.len() == KPI_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), EngineError> {
        if !self.batch.is_empty() {
            self.streamed += self.batch.len() as u64;
            self.run.add(&self.batch)?;
            self.batch.clear();
        }
        Ok(())
    }
}
