//! What the API and the CLI show, read through the engine so that both show the same thing with
//! the same checks (an unknown campaign is an error, not an empty list) and neither reaches into
//! the store.

use crate::store::{Page, PageRequest};
use serde::Serialize;

use super::{Engine, EngineError};
use crate::campaign::{Binding, Campaign};
use crate::delivery::{DeliveryRecord, KpiSnapshot, PendingSend, SkipRecord};
use crate::plugin::{ContentHash, PluginRecord};
use crate::runtime::PluginStats;
use crate::store::{AuditRecord, TokenRecord};

/// A plugin as `GET /v1/plugins/{hash}` and `baton plugin show` present it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PluginView {
    /// The installed plugin.
    pub plugin: PluginRecord,
    /// The campaign bindings that pin it.
    pub bound_by: Vec<Binding>,
    /// Its calls, failures and cost since the process started.
    pub stats: PluginStats,
}

/// A campaign with its bindings.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CampaignView {
    /// The campaign.
    pub campaign: Campaign,
    /// Its bindings, by slot.
    pub bindings: Vec<Binding>,
}

impl Engine {
    /// The largest component an install accepts, in bytes (read before the upload is buffered).
    pub fn max_component_bytes(&self) -> u64 {
        self.runtime.config().max_component_bytes
    }

    /// Every installed plugin.
    pub fn plugins(&self) -> Result<Vec<PluginRecord>, EngineError> {
        Ok(self.storage.plugins()?)
    }

    /// One installed plugin, what pins it and what it has cost.
    pub fn plugin_view(&self, hash: &ContentHash) -> Result<PluginView, EngineError> {
        let plugin =
            self.storage.plugin(hash)?.ok_or_else(|| EngineError::PluginNotFound(hash.to_string()))?;
        let bound_by = self.storage.bindings_of_plugin(hash)?;
        let stats = self.runtime.plugin(hash)?.stats();
        Ok(PluginView { plugin, bound_by, stats })
    }

    /// Every campaign.
    pub fn campaigns(&self) -> Result<Vec<Campaign>, EngineError> {
        Ok(self.storage.campaigns()?)
    }

    /// A campaign and its bindings.
    pub fn campaign_view(&self, id: &str) -> Result<CampaignView, EngineError> {
        let campaign = self.campaign(id)?;
        Ok(CampaignView { bindings: self.storage.bindings(id)?, campaign })
    }

    /// A campaign's KPI snapshots.
    pub fn kpi_snapshots(&self, campaign: &str) -> Result<Vec<KpiSnapshot>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.kpi_snapshots(campaign)?)
    }

    /// A campaign's suppressed and delayed sends, with reason codes.
    pub fn skips(&self, campaign: &str) -> Result<Vec<SkipRecord>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.skips(campaign)?)
    }

    /// A campaign's finished sends.
    pub fn deliveries(&self, campaign: &str) -> Result<Vec<DeliveryRecord>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.deliveries(campaign)?)
    }

    /// A campaign's sends that failed for good.
    pub fn dead_letters(&self, campaign: &str) -> Result<Vec<PendingSend>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.dead_letters(campaign)?)
    }

    /// A page of a campaign's finished sends that `keep` accepts.
    pub fn deliveries_page(
        &self,
        campaign: &str,
        request: &PageRequest,
        keep: impl Fn(&DeliveryRecord) -> bool,
    ) -> Result<Page<DeliveryRecord>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.deliveries_page(campaign, request, keep)?)
    }

    /// A page of a campaign's skips that `keep` accepts.
    pub fn skips_page(
        &self,
        campaign: &str,
        request: &PageRequest,
        keep: impl Fn(&SkipRecord) -> bool,
    ) -> Result<Page<SkipRecord>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.skips_page(campaign, request, keep)?)
    }

    /// A page of a campaign's dead letters that `keep` accepts.
    pub fn dead_letters_page(
        &self,
        campaign: &str,
        request: &PageRequest,
        keep: impl Fn(&PendingSend) -> bool,
    ) -> Result<Page<PendingSend>, EngineError> {
        self.campaign(campaign)?;
        Ok(self.storage.dead_letters_page(campaign, request, keep)?)
    }

    /// A page of the audit log, newest first, of the records `keep` accepts.
    pub fn audit_page(
        &self,
        request: &PageRequest,
        keep: impl Fn(&AuditRecord) -> bool,
    ) -> Result<Page<AuditRecord>, EngineError> {
        Ok(self.storage.audit_page(request, keep)?)
    }

    /// Every API token's record (never the token itself).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, EngineError> {
        Ok(self.storage.tokens()?)
    }

    /// Every stored event, in store order, for an export.
    pub fn events(&self) -> impl Iterator<Item = Result<crate::profile::Event, EngineError>> + '_ {
        self.storage.scan_events().map(|event| Ok(event?))
    }

    /// The newest `limit` audit records.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditRecord>, EngineError> {
        Ok(self.storage.audit_log(limit)?)
    }

    /// Whether the store answers (a read that touches it), for readiness probes.
    pub fn check_store(&self) -> Result<(), EngineError> {
        self.storage.campaigns()?;
        Ok(())
    }

    /// Sends waiting in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.storage.outbox_len()
    }

    /// The PostgreSQL connection pool's use: open, in use, most allowed; `None` on sled.
    pub fn store_connections(&self) -> Option<(usize, usize, usize)> {
        self.storage.pool_usage()
    }

    /// Events waiting for the triggered campaigns and journeys.
    pub fn pending_trigger_count(&self) -> usize {
        self.storage.pending_trigger_count()
    }

    /// The runtime's counters: calls by outcome, compilations, instances.
    pub fn runtime_stats(&self) -> crate::runtime::RuntimeStats {
        self.runtime.stats()
    }

    /// Makes everything written so far durable (on shutdown).
    pub fn flush(&self) -> Result<(), EngineError> {
        self.storage.flush()?;
        Ok(())
    }
}
