//! `baton campaign`: campaigns and their bindings, locally or through a server. The local side
//! calls the engine's functions and the server its API, which calls the same ones, so both are
//! checked and audited alike.

use std::path::Path;

use anyhow::{Context, bail};
use baton::{Campaign, CampaignState, Grants, ServeConfig, Slot};
use clap::Subcommand;

use super::{Output, local_actor, open, parse_hash};
use crate::remote::Remote;

/// Campaign commands.
#[derive(Subcommand)]
pub enum CampaignCommand {
    /// List campaigns.
    List,
    /// Show a campaign and its bindings.
    Show {
        /// The campaign id.
        id: String,
    },
    /// Create a campaign from a JSON definition file.
    Create {
        /// The definition (JSON).
        file: std::path::PathBuf,
    },
    /// Replace a campaign's definition from a JSON file (its state and bindings stay).
    Update {
        /// The definition (JSON); its `id` names the campaign.
        file: std::path::PathBuf,
    },
    /// Activate a campaign (needs segment and channel bindings).
    Activate {
        /// The campaign id.
        id: String,
    },
    /// Pause a campaign.
    Pause {
        /// The campaign id.
        id: String,
    },
    /// End a campaign for good.
    End {
        /// The campaign id.
        id: String,
    },
    /// Bind (or swap) a plugin to a slot: segment, personalizer, personalizer:<name> (the
    /// chain after `personalizer`, in name order), channel or kpi:<name>.
    Bind {
        /// The campaign id.
        id: String,
        /// The slot.
        slot: String,
        /// The plugin's content hash.
        #[arg(long)]
        plugin: String,
        /// The binding config (JSON).
        #[arg(long, default_value = "{}")]
        config: String,
        /// A host the channel adapter may send to (repeatable).
        #[arg(long = "grant-host")]
        hosts: Vec<String>,
        /// A secret the channel adapter may use (repeatable).
        #[arg(long = "grant-secret")]
        secrets: Vec<String>,
    },
    /// Remove the plugin bound to a slot (an active campaign keeps its segment and channel).
    Unbind {
        /// The campaign id.
        id: String,
        /// The slot.
        slot: String,
    },
    /// Dry run: audience, skip reasons, variants, sample messages. Sends nothing.
    Preview {
        /// The campaign id.
        id: String,
    },
    /// Render the campaign's message for one person as they would read it (their variant and
    /// locale, the newest content), with the variables used and those not set. Sends nothing.
    Render {
        /// The campaign id.
        id: String,
        /// A user id, or an email.
        who: String,
        /// An experiment variant to render instead of the person's own.
        #[arg(long)]
        variant: Option<String>,
    },
    /// Send a batch campaign to its audience now (queued; `baton serve` delivers).
    Run {
        /// The campaign id.
        id: String,
        /// Names the run; each member gets at most one message per run.
        #[arg(long)]
        run: Option<String>,
    },
    /// Suppressed and delayed sends, with reason codes.
    Skips {
        /// The campaign id.
        id: String,
    },
    /// Finished sends.
    Deliveries {
        /// The campaign id.
        id: String,
    },
    /// Sends that failed for good, with the reason.
    DeadLetters {
        /// The campaign id.
        id: String,
    },
    /// Queue a campaign's dead letters again (after fixing what failed them).
    Replay {
        /// The campaign id.
        id: String,
    },
}

/// A campaign definition from a JSON file.
fn definition(file: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

fn campaign_of(file: &Path) -> anyhow::Result<Campaign> {
    serde_json::from_value(definition(file)?)
        .with_context(|| format!("{} is not a campaign definition", file.display()))
}

fn parse_slot(text: &str) -> anyhow::Result<Slot> {
    text.parse().map_err(anyhow::Error::msg)
}

/// Runs a campaign command on the local data directory.
pub fn campaign(
    data: &Path,
    config: &ServeConfig,
    out: Output,
    command: CampaignCommand,
) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    let actor = local_actor();
    match command {
        CampaignCommand::List => out.print(&engine.campaigns()?),
        CampaignCommand::Show { id } => out.print(&engine.campaign_view(&id)?),
        CampaignCommand::Create { file } => out.print(&engine.create_campaign(&actor, campaign_of(&file)?)?),
        CampaignCommand::Update { file } => out.print(&engine.update_campaign(&actor, campaign_of(&file)?)?),
        CampaignCommand::Activate { id } => {
            out.print(&engine.transition(&actor, &id, CampaignState::Active)?)
        }
        CampaignCommand::Pause { id } => out.print(&engine.transition(&actor, &id, CampaignState::Paused)?),
        CampaignCommand::End { id } => out.print(&engine.transition(&actor, &id, CampaignState::Ended)?),
        CampaignCommand::Bind { id, slot, plugin, config, hosts, secrets } => {
            let config: serde_json::Value = serde_json::from_str(&config).context("--config is not JSON")?;
            let grants = Grants { allowed_hosts: hosts, secrets };
            out.print(&engine.bind(&actor, &id, parse_slot(&slot)?, parse_hash(&plugin)?, config, grants)?)
        }
        CampaignCommand::Unbind { id, slot } => {
            engine.unbind(&actor, &id, &parse_slot(&slot)?)?;
            out.print(&serde_json::json!({ "unbound": slot }))
        }
        CampaignCommand::Preview { id } => out.print(&engine.preview(&id)?),
        CampaignCommand::Render { id, who, variant } => {
            let person = engine.person(&who)?;
            out.print(&engine.render_as(&id, person, variant.as_deref())?)
        }
        CampaignCommand::Run { id, run } => {
            let run = run.unwrap_or_else(|| format!("manual-{}", engine.now_ms()));
            out.print(&serde_json::json!({ "run": run, "report": engine.run_batch(&actor, &id, &run)? }))
        }
        CampaignCommand::Skips { id } => out.print(&engine.skips(&id)?),
        CampaignCommand::Deliveries { id } => out.print(&engine.deliveries(&id)?),
        CampaignCommand::DeadLetters { id } => out.print(&engine.dead_letters(&id)?),
        CampaignCommand::Replay { id } => {
            out.print(&serde_json::json!({ "replayed": engine.replay_dead_letters(&actor, &id)? }))
        }
    }
}

/// Runs a campaign command through a server's API.
pub fn campaign_remote(remote: &Remote, out: Output, command: CampaignCommand) -> anyhow::Result<()> {
    let answer = match command {
        CampaignCommand::List => remote.get("/v1/campaigns")?,
        CampaignCommand::Show { id } => remote.get(&format!("/v1/campaigns/{id}"))?,
        CampaignCommand::Create { file } => remote.post("/v1/campaigns", definition(&file)?)?,
        CampaignCommand::Update { file } => {
            let definition = definition(&file)?;
            let Some(id) = definition["id"].as_str() else {
                bail!("{} has no campaign `id`", file.display());
            };
            remote.put(&format!("/v1/campaigns/{id}"), definition.clone())?
        }
        CampaignCommand::Activate { id } => {
            remote.post(&format!("/v1/campaigns/{id}/activate"), serde_json::json!({}))?
        }
        CampaignCommand::Pause { id } => {
            remote.post(&format!("/v1/campaigns/{id}/pause"), serde_json::json!({}))?
        }
        CampaignCommand::End { id } => {
            remote.post(&format!("/v1/campaigns/{id}/end"), serde_json::json!({}))?
        }
        CampaignCommand::Bind { id, slot, plugin, config, hosts, secrets } => {
            let config: serde_json::Value = serde_json::from_str(&config).context("--config is not JSON")?;
            let body = serde_json::json!({ "plugin": plugin, "config": config, "grants": { "allowed_hosts": hosts, "secrets": secrets } });
            remote.put(&format!("/v1/campaigns/{id}/bindings/{slot}"), body)?
        }
        CampaignCommand::Unbind { id, slot } => {
            parse_slot(&slot)?;
            remote.delete(&format!("/v1/campaigns/{id}/bindings/{slot}"))?
        }
        CampaignCommand::Preview { id } => remote.get(&format!("/v1/campaigns/{id}/preview"))?,
        CampaignCommand::Render { id, who, variant } => remote.post(
            &format!("/v1/campaigns/{id}/render"),
            serde_json::json!({ "who": who, "variant": variant }),
        )?,
        CampaignCommand::Run { id, run } => {
            remote.post(&format!("/v1/campaigns/{id}/runs"), serde_json::json!({ "run": run }))?
        }
        CampaignCommand::Skips { id } => remote.get(&format!("/v1/campaigns/{id}/skips"))?,
        CampaignCommand::Deliveries { id } => remote.get(&format!("/v1/campaigns/{id}/deliveries"))?,
        CampaignCommand::DeadLetters { id } => remote.get(&format!("/v1/campaigns/{id}/dead-letters"))?,
        CampaignCommand::Replay { id } => {
            remote.post(&format!("/v1/campaigns/{id}/dead-letters/replay"), serde_json::json!({}))?
        }
    };
    out.print_answer(&answer)
}
