//! Measurement: events streamed through each bound KPI calculator, the results kept as snapshots.
//!
//! What a calculator receives follows what it declared in `info().needs.events`:
//! - `*`: the campaign's record (its deliveries, control assignments, and the response events
//!   sources attribute to it), in time order;
//! - specific names: every stored event with those names, from all campaigns and none, grouped by
//!   profile and in time order within each profile - what cross-campaign attribution needs, in
//!   memory bounded by one customer's path.

use super::{Engine, EngineError};
use crate::campaign::Slot;
use crate::delivery::KpiSnapshot;
use crate::runtime::contract::Invocation;

/// Events per `add` call: bounds the memory of one call, whatever the campaign's size.
const KPI_BATCH: usize = 1_000;

impl Engine {
    /// Runs every KPI calculator bound to the campaign over its events and stores the results.
    pub fn compute_kpis(&self, campaign: &str) -> Result<Vec<KpiSnapshot>, EngineError> {
        let campaign = self.campaign(campaign)?;
        let now = self.now();
        let record = self.storage.campaign_events(&campaign.id)?;
        let mut snapshots = Vec::new();
        for binding in self.storage.bindings(&campaign.id)? {
            let Slot::Kpi(name) = &binding.slot else { continue };
            let plugin = self.runtime.plugin(&binding.plugin)?;
            let invocation = Invocation {
                campaign_id: campaign.id.clone(),
                config: binding.config.to_string(),
                now,
                seed: super::pipeline::hash64(&[&campaign.id, name]),
            };
            let mut run = self.runtime.call(&plugin).open_kpi(&invocation)?;
            let needs = &plugin.record().events;
            let store_wide = !needs.is_empty() && !needs.iter().any(|n| n == "*");
            let mut streamed = 0usize;
            if store_wide {
                let mut batch = Vec::with_capacity(KPI_BATCH);
                for event in self.storage.scan_events() {
                    let event = event?;
                    if needs.iter().any(|n| *n == event.name) {
                        batch.push(super::subject::event(&event));
                        if batch.len() == KPI_BATCH {
                            streamed += batch.len();
                            run.add(&std::mem::take(&mut batch))?;
                        }
                    }
                }
                streamed += batch.len();
                run.add(&batch)?;
            } else {
                for chunk in record.chunks(KPI_BATCH) {
                    let batch: Vec<_> = chunk.iter().map(super::subject::event).collect();
                    streamed += batch.len();
                    run.add(&batch)?;
                }
            }
            let metrics = run.finish()?.value;
            let snapshot = KpiSnapshot {
                campaign: campaign.id.clone(),
                kpi: name.clone(),
                plugin: binding.plugin,
                at: now,
                events: streamed as u64,
                metrics: serde_json::to_value(&metrics).unwrap_or_default(),
            };
            self.storage.put_kpi_snapshot(&snapshot)?;
            tracing::info!(campaign = %campaign.id, kpi = %name, plugin = %plugin.label(), events = streamed, "KPIs computed.");
            snapshots.push(snapshot);
        }
        Ok(snapshots)
    }
}
