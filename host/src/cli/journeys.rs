//! `baton journey`: journeys, locally or through a server. Both call the same engine functions
//! (the server through its API), so both are audited alike.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use baton::{JourneySpec, JourneyState, ServeConfig};
use clap::Subcommand;

use super::{Output, local_actor, open};
use crate::remote::Remote;

/// Journey commands.
#[derive(Subcommand)]
pub enum JourneyCommand {
    /// List journeys with their state and live version.
    List,
    /// Save a journey's next version from a JSON file (a new journey starts as a draft).
    Save {
        /// The journey's id (lowercase letters, digits, `-` and `_`).
        id: String,
        /// The journey as JSON (`examples/scenario/welcome.journey.json` is one).
        #[arg(long)]
        file: PathBuf,
    },
    /// Show a journey: its newest spec, how many wait in it, and per-step counts.
    Show {
        /// The journey's id.
        id: String,
    },
    /// Make a version the one new entries take (the newest by default) and go live.
    Publish {
        /// The journey's id.
        id: String,
        /// The version to publish.
        #[arg(long)]
        version: Option<u32>,
        /// Move profiles waiting at an older version's step to this version's: `OLD=NEW`,
        /// repeatable.
        #[arg(long = "migrate", value_name = "OLD=NEW")]
        migrate: Vec<String>,
    },
    /// Walk one person through a journey on a simulated clock: each step, what it would send,
    /// where it ends. Nothing is sent or written.
    DryRun {
        /// The journey's id.
        id: String,
        /// A user id, or an email.
        who: String,
        /// The version to walk (default: the live one, else the newest).
        #[arg(long)]
        version: Option<u32>,
        /// Days of simulated time, 1 to 366.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
    },
    /// Pause a live journey: nobody enters, everyone waiting holds where they are.
    Pause {
        /// The journey's id.
        id: String,
    },
    /// Resume a paused journey.
    Resume {
        /// The journey's id.
        id: String,
    },
    /// End a journey for good: everyone inside leaves.
    End {
        /// The journey's id.
        id: String,
    },
}

fn spec(file: &Path) -> anyhow::Result<JourneySpec> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a journey", file.display()))
}

fn mapping(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            let (from, to) = pair.split_once('=').with_context(|| {
                format!("--migrate {pair:?}: write OLD=NEW (an old step's id = a new step's id)")
            })?;
            Ok((from.trim().to_owned(), to.trim().to_owned()))
        })
        .collect()
}

/// Runs a journey command on the local data directory.
pub fn journeys(
    data: &Path,
    config: &ServeConfig,
    out: Output,
    command: JourneyCommand,
) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    let actor = local_actor();
    match command {
        JourneyCommand::List => out.print(&engine.journeys()?),
        JourneyCommand::Save { id, file } => out.print(&engine.save_journey(&actor, &id, spec(&file)?)?),
        JourneyCommand::Show { id } => out.print(&engine.journey_view(&id)?),
        JourneyCommand::Publish { id, version, migrate } => {
            out.print(&engine.publish_journey(&actor, &id, version, &mapping(&migrate)?)?)
        }
        JourneyCommand::DryRun { id, who, version, days } => {
            let person = engine.person(&who)?;
            out.print(&engine.dry_run_journey(&id, person.id, version, days)?)
        }
        JourneyCommand::Pause { id } => {
            out.print(&engine.set_journey_state(&actor, &id, JourneyState::Paused)?)
        }
        JourneyCommand::Resume { id } => {
            out.print(&engine.set_journey_state(&actor, &id, JourneyState::Live)?)
        }
        JourneyCommand::End { id } => {
            out.print(&engine.set_journey_state(&actor, &id, JourneyState::Ended)?)
        }
    }
}

/// Runs a journey command through a server.
pub fn journeys_remote(remote: &Remote, out: Output, command: JourneyCommand) -> anyhow::Result<()> {
    let answer = match command {
        JourneyCommand::List => remote.get("/v1/journeys")?,
        JourneyCommand::Save { id, file } => {
            remote.put(&format!("/v1/journeys/{id}"), serde_json::to_value(spec(&file)?)?)?
        }
        JourneyCommand::Show { id } => remote.get(&format!("/v1/journeys/{id}"))?,
        JourneyCommand::Publish { id, version, migrate } => remote.post(
            &format!("/v1/journeys/{id}/publish"),
            serde_json::json!({ "version": version, "migrate": mapping(&migrate)? }),
        )?,
        JourneyCommand::DryRun { id, who, version, days } => remote.post(
            &format!("/v1/journeys/{id}/dry-run"),
            serde_json::json!({ "who": who, "version": version, "days": days }),
        )?,
        JourneyCommand::Pause { id } => {
            remote.post(&format!("/v1/journeys/{id}/pause"), serde_json::json!({}))?
        }
        JourneyCommand::Resume { id } => {
            remote.post(&format!("/v1/journeys/{id}/resume"), serde_json::json!({}))?
        }
        JourneyCommand::End { id } => {
            remote.post(&format!("/v1/journeys/{id}/end"), serde_json::json!({}))?
        }
    };
    out.print_answer(&answer)
}

/// `baton calendar`: what is planned, day by day (UTC).
#[derive(clap::Args)]
pub struct CalendarArgs {
    /// The first day, `YYYY-MM-DD` (default: today).
    #[arg(long)]
    from: Option<String>,
    /// The last day, `YYYY-MM-DD` (default: 30 days after `--from`); at most 366 days are shown.
    #[arg(long)]
    to: Option<String>,
}

/// Prints the calendar from the local data directory.
pub fn calendar(data: &Path, config: &ServeConfig, out: Output, args: &CalendarArgs) -> anyhow::Result<()> {
    out.print(&open(data, config)?.calendar(args.from.as_deref(), args.to.as_deref())?)
}

/// Prints the calendar through a server.
pub fn calendar_remote(remote: &Remote, out: Output, args: &CalendarArgs) -> anyhow::Result<()> {
    let mut query: Vec<String> = Vec::new();
    for (name, value) in [("from", &args.from), ("to", &args.to)] {
        if let Some(value) = value {
            query.push(format!("{name}={}", super::profiles::url_encoded(value)));
        }
    }
    out.print_answer(&remote.get(&format!("/v1/calendar?{}", query.join("&")))?)
}
