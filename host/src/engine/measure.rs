//! Measurement: a campaign's events (deliveries, control assignments, and the response events
//! sources attribute to it: opens, clicks, conversions, unsubscribes) streamed through each bound
//! KPI calculator, the results kept as snapshots.

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
        let events = self.storage.campaign_events(&campaign.id)?;
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
            for chunk in events.chunks(KPI_BATCH) {
                let batch: Vec<_> = chunk.iter().map(super::subject::event).collect();
                run.add(&batch)?;
            }
            let metrics = run.finish()?.value;
            let snapshot = KpiSnapshot {
                campaign: campaign.id.clone(),
                kpi: name.clone(),
                plugin: binding.plugin,
                at: now,
                events: events.len() as u64,
                metrics: serde_json::to_value(&metrics).unwrap_or_default(),
            };
            self.storage.put_kpi_snapshot(&snapshot)?;
            tracing::info!(campaign = %campaign.id, kpi = %name, plugin = %plugin.label(), events = events.len(), "KPIs computed.");
            snapshots.push(snapshot);
        }
        Ok(snapshots)
    }
}
