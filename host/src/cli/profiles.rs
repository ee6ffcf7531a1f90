//! `baton profile`: look a customer up, change their consents, suppressions and time zone, export
//! everything stored about them, erase them. Locally or through a server, the same engine
//! functions run and the same audit records are written.

use std::path::Path;

use anyhow::{Context, bail};
use baton::{ConsentState, ProfileId, ProfileUpdate, ServeConfig, SuppressionReason};
use clap::Subcommand;

use super::{local_actor, open, print_json};
use crate::remote::Remote;

/// Profile commands.
#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Show a profile.
    Show {
        /// The profile id (`pr_...`).
        id: String,
    },
    /// Change what an operator may change: consents, suppressions, the time zone.
    Update {
        /// The profile id (`pr_...`).
        id: String,
        /// A consent decision, `channel:purpose=granted|denied` (repeatable).
        #[arg(long = "consent")]
        consents: Vec<String>,
        /// Suppress a channel, `channel=unsubscribed|bounced|complained|manual` (repeatable).
        #[arg(long = "suppress")]
        suppressions: Vec<String>,
        /// Lift a channel's suppression (repeatable).
        #[arg(long = "unsuppress")]
        lifted: Vec<String>,
        /// The IANA time zone (`Europe/Paris`).
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Everything stored about a profile, as JSON (a subject access request).
    Export {
        /// The profile id (`pr_...`).
        id: String,
    },
    /// Erase a profile, its identities and its events, for good (right to erasure).
    Erase {
        /// The profile id (`pr_...`).
        id: String,
        /// Confirms the erasure, which cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

fn parse_id(text: &str) -> anyhow::Result<ProfileId> {
    text.parse().map_err(anyhow::Error::msg)
}

/// A `name=value` word read as `T` from its JSON string form (the API's spelling).
fn pair<T: serde::de::DeserializeOwned>(word: &str, flag: &str, values: &str) -> anyhow::Result<(String, T)> {
    let (name, value) = word
        .split_once('=')
        .with_context(|| format!("{flag} {word}: write it as NAME=VALUE, VALUE one of {values}"))?;
    let value = serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .with_context(|| format!("{flag} {word}: `{value}` is not one of {values}"))?;
    Ok((name.to_owned(), value))
}

/// The flags of `profile update` as the update the API takes.
fn update_of(
    consents: &[String],
    suppressions: &[String],
    lifted: &[String],
    timezone: Option<String>,
) -> anyhow::Result<ProfileUpdate> {
    let mut update = ProfileUpdate { timezone, ..ProfileUpdate::default() };
    for word in consents {
        let (key, state) = pair::<ConsentState>(word, "--consent", "granted, denied")?;
        update.consents.insert(key, state);
    }
    for word in suppressions {
        let (channel, reason) =
            pair::<SuppressionReason>(word, "--suppress", "unsubscribed, bounced, complained, manual")?;
        update.suppressions.insert(channel, Some(reason));
    }
    for channel in lifted {
        if update.suppressions.insert(channel.clone(), None).is_some() {
            bail!("--suppress and --unsuppress both name `{channel}`: choose one");
        }
    }
    if update.consents.is_empty() && update.suppressions.is_empty() && update.timezone.is_none() {
        bail!("nothing to change: give --consent, --suppress, --unsuppress or --timezone");
    }
    Ok(update)
}

fn confirm_erasure(yes: bool, id: &str) -> anyhow::Result<()> {
    if !yes {
        bail!("erasing {id} deletes it and its events for good; add --yes to confirm");
    }
    Ok(())
}

/// Runs a profile command on the local data directory.
pub fn profile(data: &Path, config: &ServeConfig, command: ProfileCommand) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        ProfileCommand::Show { id } => print_json(&engine.profile(parse_id(&id)?)?),
        ProfileCommand::Update { id, consents, suppressions, lifted, timezone } => {
            let update = update_of(&consents, &suppressions, &lifted, timezone)?;
            print_json(&engine.update_profile(&local_actor(), parse_id(&id)?, &update)?)
        }
        ProfileCommand::Export { id } => print_json(&engine.export_profile(&local_actor(), parse_id(&id)?)?),
        ProfileCommand::Erase { id, yes } => {
            let profile = parse_id(&id)?;
            confirm_erasure(yes, &id)?;
            print_json(&engine.erase_profile(&local_actor(), profile)?)
        }
    }
}

/// Runs a profile command through a server's API.
pub fn profile_remote(remote: &Remote, command: ProfileCommand) -> anyhow::Result<()> {
    let value = match command {
        ProfileCommand::Show { id } => remote.get(&format!("/v1/profiles/{}", parse_id(&id)?))?,
        ProfileCommand::Update { id, consents, suppressions, lifted, timezone } => {
            let update = update_of(&consents, &suppressions, &lifted, timezone)?;
            remote.patch(&format!("/v1/profiles/{}", parse_id(&id)?), serde_json::to_value(&update)?)?
        }
        ProfileCommand::Export { id } => remote.get(&format!("/v1/profiles/{}/export", parse_id(&id)?))?,
        ProfileCommand::Erase { id, yes } => {
            let profile = parse_id(&id)?;
            confirm_erasure(yes, &id)?;
            remote.delete(&format!("/v1/profiles/{profile}"))?
        }
    };
    print_json(&value)
}
