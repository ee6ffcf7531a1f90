//! Campaign lifecycle and bindings. Every binding is checked against the installed plugin when it
//! is made (kind, config, grants) and again when the campaign is activated, never on the hot path.

use std::sync::Arc;

use super::{Engine, EngineError};
use crate::campaign::{Binding, Campaign, CampaignState, Grants, Slot, Trigger};
use crate::plugin::{ContentHash, PluginKind};
use crate::runtime::LoadedPlugin;

impl Engine {
    /// Creates a campaign in the draft state, audited as `actor`'s.
    pub fn create_campaign(&self, actor: &str, mut campaign: Campaign) -> Result<Campaign, EngineError> {
        let problems = campaign.problems();
        if !problems.is_empty() {
            return Err(EngineError::InvalidCampaign(problems));
        }
        if self.storage.campaign(&campaign.id)?.is_some() {
            return Err(EngineError::CampaignExists(campaign.id));
        }
        let now = self.now();
        campaign.state = CampaignState::Draft;
        campaign.created_at = now;
        campaign.updated_at = now;
        self.storage.put_campaign(&campaign)?;
        self.audit(actor, "campaign_created", &campaign.id, serde_json::Value::Null)?;
        tracing::info!(campaign = %campaign.id, "Campaign created.");
        Ok(campaign)
    }

    /// Replaces a campaign's definition, keeping its state and creation time. An ended campaign
    /// cannot change.
    pub fn update_campaign(&self, actor: &str, mut campaign: Campaign) -> Result<Campaign, EngineError> {
        let current = self.campaign(&campaign.id)?;
        if current.state == CampaignState::Ended {
            return Err(EngineError::WrongState {
                campaign: campaign.id,
                state: current.state,
                why: "an ended campaign cannot change".into(),
            });
        }
        let problems = campaign.problems();
        if !problems.is_empty() {
            return Err(EngineError::InvalidCampaign(problems));
        }
        campaign.state = current.state;
        campaign.created_at = current.created_at;
        campaign.updated_at = self.now();
        self.storage.put_campaign(&campaign)?;
        self.audit(actor, "campaign_updated", &campaign.id, serde_json::Value::Null)?;
        Ok(campaign)
    }

    /// The campaign with this id.
    pub fn campaign(&self, id: &str) -> Result<Campaign, EngineError> {
        self.storage.campaign(id)?.ok_or_else(|| EngineError::CampaignNotFound(id.to_owned()))
    }

    /// Moves a campaign through its lifecycle. Activation requires a segment and a channel
    /// binding whose plugins are installed and whose configs still validate.
    pub fn transition(&self, actor: &str, id: &str, to: CampaignState) -> Result<Campaign, EngineError> {
        let mut campaign = self.campaign(id)?;
        if !campaign.state.can_become(to) {
            return Err(EngineError::InvalidTransition { campaign: id.to_owned(), from: campaign.state, to });
        }
        if to == CampaignState::Active {
            let problems = self.readiness_problems(&campaign)?;
            if !problems.is_empty() {
                return Err(EngineError::NotReady { campaign: id.to_owned(), problems });
            }
        }
        campaign.state = to;
        campaign.updated_at = self.now();
        self.storage.put_campaign(&campaign)?;
        self.audit(actor, "campaign_state_changed", id, serde_json::json!({ "state": to }))?;
        tracing::info!(campaign = %id, state = ?to, "Campaign state changed.");
        Ok(campaign)
    }

    /// Binds a plugin to a slot (or swaps the one there). Takes effect for the next invocation;
    /// invocations in flight finish on the plugin they started with.
    pub fn bind(
        &self,
        actor: &str,
        campaign: &str,
        slot: Slot,
        plugin: ContentHash,
        config: serde_json::Value,
        grants: Grants,
    ) -> Result<Binding, EngineError> {
        let current = self.campaign(campaign)?;
        if current.state == CampaignState::Ended {
            return Err(EngineError::WrongState {
                campaign: campaign.to_owned(),
                state: current.state,
                why: "an ended campaign cannot be rebound".into(),
            });
        }
        let loaded = self.runtime.plugin(&plugin)?;
        check_binding(&self.runtime, &loaded, &slot, &config, &grants)?;
        let binding =
            Binding { campaign: campaign.to_owned(), slot, plugin, config, grants, bound_at: self.now() };
        self.storage.put_binding(&binding)?;
        let detail = serde_json::json!({ "slot": binding.slot.key(), "plugin": plugin });
        self.audit(actor, "plugin_bound", campaign, detail)?;
        tracing::info!(campaign = %campaign, slot = %binding.slot.key(), plugin = %loaded.label(), "Plugin bound.");
        Ok(binding)
    }

    /// Removes a binding. An active campaign keeps its segment and channel: swap them instead.
    /// Refused with [`EngineError::BindingNotFound`] when the slot is empty.
    pub fn unbind(&self, actor: &str, campaign: &str, slot: &Slot) -> Result<(), EngineError> {
        let current = self.campaign(campaign)?;
        let needed = match slot {
            Slot::Channel => true,
            Slot::Segment => current.audience.is_none(),
            _ => false,
        };
        if current.state == CampaignState::Active && needed {
            return Err(EngineError::WrongState {
                campaign: campaign.to_owned(),
                state: current.state,
                why: format!(
                    "an active campaign needs its {} binding; bind another plugin to swap it",
                    slot.key()
                ),
            });
        }
        if !self.storage.remove_binding(campaign, slot)? {
            return Err(EngineError::BindingNotFound { campaign: campaign.to_owned(), slot: slot.key() });
        }
        self.audit(actor, "plugin_unbound", campaign, serde_json::json!({ "slot": slot.key() }))
    }

    fn readiness_problems(&self, campaign: &Campaign) -> Result<Vec<String>, EngineError> {
        let mut problems = Vec::new();
        // A saved segment as the audience stands in for a segment rule.
        // So does a journey: its message steps send to the profiles it brings.
        let decided = campaign.audience.is_some() || matches!(campaign.trigger, Trigger::Journey {});
        let required: &[Slot] = if decided { &[Slot::Channel] } else { &[Slot::Segment, Slot::Channel] };
        for required in required {
            if self.storage.binding(&campaign.id, required)?.is_none() {
                problems.push(format!("no {} plugin is bound", required.key()));
            }
        }
        if let Some(audience) = &campaign.audience
            && self.storage.segment(audience)?.is_none()
        {
            problems.push(format!("audience: no saved segment is named `{audience}`"));
        }
        problems.extend(self.content_problems(campaign)?);
        for binding in self.storage.bindings(&campaign.id)? {
            let checked = self.runtime.plugin(&binding.plugin).map_err(EngineError::from).and_then(|p| {
                check_binding(&self.runtime, &p, &binding.slot, &binding.config, &binding.grants)
            });
            if let Err(err) = checked {
                problems.push(format!("{}: {err}", binding.slot.key()));
            }
        }
        Ok(problems)
    }
}

/// The plugin kind a slot takes.
pub(crate) fn slot_kind(slot: &Slot) -> PluginKind {
    match slot {
        Slot::Segment => PluginKind::SegmentRule,
        Slot::Personalizer | Slot::ChainedPersonalizer(_) => PluginKind::Personalizer,
        Slot::Channel => PluginKind::ChannelAdapter,
        Slot::Kpi(_) => PluginKind::KpiCalculator,
    }
}

fn check_binding(
    runtime: &crate::runtime::Runtime,
    plugin: &Arc<LoadedPlugin>,
    slot: &Slot,
    config: &serde_json::Value,
    grants: &Grants,
) -> Result<(), EngineError> {
    expect_kind(plugin, slot_kind(slot), &slot.key())?;
    let record = plugin.record();
    for host in &grants.allowed_hosts {
        if !declares(&record.allowed_hosts, host) {
            return Err(EngineError::UndeclaredGrant {
                plugin: plugin.label(),
                what: "host",
                name: host.clone(),
            });
        }
    }
    for secret in &grants.secrets {
        if !declares(&record.secrets, secret) {
            return Err(EngineError::UndeclaredGrant {
                plugin: plugin.label(),
                what: "secret",
                name: secret.clone(),
            });
        }
    }
    accept_config(runtime, plugin, config)
}

/// Refuses a plugin of another kind than `expected` for `slot` (named in the error).
pub(super) fn expect_kind(
    plugin: &LoadedPlugin,
    expected: PluginKind,
    slot: &str,
) -> Result<(), EngineError> {
    if plugin.kind() == expected {
        return Ok(());
    }
    Err(EngineError::WrongPluginKind {
        slot: slot.to_owned(),
        expected: expected.to_string(),
        plugin: plugin.label(),
        actual: plugin.kind().to_string(),
    })
}

/// Asks the plugin's `validate-config` about `config`; a refusal names the fault's JSON pointer.
pub(super) fn accept_config(
    runtime: &crate::runtime::Runtime,
    plugin: &Arc<LoadedPlugin>,
    config: &serde_json::Value,
) -> Result<(), EngineError> {
    let answer = runtime.call(plugin).validate_config(&config.to_string())?;
    answer.value.map_err(|refusal| EngineError::InvalidConfig {
        plugin: plugin.label(),
        path: refusal.path,
        message: refusal.message,
    })
}

/// Whether a plugin's declared needs cover `name`; `*` declares "whatever the binding grants"
/// (a generic webhook cannot know its hosts when it is built).
fn declares(needs: &[String], name: &str) -> bool {
    needs.iter().any(|n| n == name || n == "*")
}
