//! Scheduled work: batch campaigns with an interval, periodic KPI snapshots, and the retention
//! purge of events older than `keep_events_ms`, and saved segments' due times. `tick` runs
//! whatever is due; `baton serve` calls it on a timer. Each job's schedule slot is recorded, and a
//! batch run's id is derived from its slot, so a tick retried after a crash sends nobody twice.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Engine, EngineError, RunReport, SYSTEM};
use crate::campaign::{CampaignState, Slot, Trigger};

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TickReport {
    /// Scheduled batch runs, by campaign.
    pub batch_runs: BTreeMap<String, RunReport>,
    /// Campaigns whose KPIs were recomputed.
    pub kpis: Vec<String>,
    /// Events deleted by the retention purge.
    pub purged_events: usize,
    /// Saved segments kept current: profiles that came due (a window ending) or changed.
    pub segments: super::SegmentUpkeep,
    /// Profiles moved on by journey timers that came due (delays ending, waits timing out).
    pub journey_moves: usize,
}

/// How often the retention purge runs when retention is configured.
const RETENTION_EVERY_MS: i64 = 3_600_000;

impl Engine {
    /// Runs the scheduled batch campaigns and KPI computations that are due now.
    pub fn tick(&self) -> Result<TickReport, EngineError> {
        // Workers tick in turn; the second finds each slot recorded by the first.
        let _scheduler = self.storage.exclusive(crate::store::Lock::Schedule)?;
        let now = self.now();
        let mut report = TickReport::default();
        if let Some(keep) = self.keep_events_ms {
            let slot = now / RETENTION_EVERY_MS;
            if self.storage.schedule_slot("retention")?.is_none_or(|last| last < slot) {
                report.purged_events =
                    self.storage.purge_events_before(now.saturating_sub(keep), SYSTEM, now)?;
                self.storage.set_schedule_slot("retention", slot)?;
            }
        }
        // Before the scheduled runs, so a run reads membership as of now; its entries and
        // exits wait in the trigger queue for the next drain.
        report.segments = self.keep_segments_current()?;
        report.journey_moves = self.fire_journey_timers()?;
        for campaign in self.storage.campaigns()? {
            if campaign.state == CampaignState::Active {
                if let Trigger::Batch { every_ms: Some(every) } = campaign.trigger {
                    let slot = now / i64::try_from(every).unwrap_or(i64::MAX).max(1);
                    let job = format!("batch:{}", campaign.id);
                    if self.storage.schedule_slot(&job)?.is_none_or(|last| last < slot) {
                        let run = self.run_batch(SYSTEM, &campaign.id, &format!("every-{slot}"))?;
                        self.storage.set_schedule_slot(&job, slot)?;
                        report.batch_runs.insert(campaign.id.clone(), run);
                    }
                }
            }
            let Some(every) = self.kpi_every_ms else { continue };
            let measured = matches!(campaign.state, CampaignState::Active | CampaignState::Paused);
            let has_kpis =
                self.storage.bindings(&campaign.id)?.iter().any(|b| matches!(b.slot, Slot::Kpi(_)));
            if measured && has_kpis {
                let slot = now / every;
                let job = format!("kpi:{}", campaign.id);
                if self.storage.schedule_slot(&job)?.is_none_or(|last| last < slot) {
                    self.compute_kpis(&campaign.id)?;
                    self.storage.set_schedule_slot(&job, slot)?;
                    report.kpis.push(campaign.id.clone());
                }
            }
        }
        Ok(report)
    }
}
