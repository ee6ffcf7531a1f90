//! `baton profile`: look a customer up, change their consents, suppressions and time zone, export
//! everything stored about them, erase them. Locally or through a server, the same engine
//! functions run and the same audit records are written.

use std::path::Path;

use anyhow::{Context, bail};
use baton::{ConsentState, ProfileId, ProfileLookup, ProfileUpdate, ServeConfig, SuppressionReason};
use clap::Subcommand;

use super::{Output, local_actor, open};
use crate::remote::{Answer, Remote};

/// Which customer: a profile id, or how a source knows them.
#[derive(clap::Args)]
pub struct Who {
    /// The profile id (`pr_...`).
    #[arg(required_unless_present_any = ["user_id", "anonymous_id", "email"])]
    id: Option<String>,
    /// The customer's user id, as sources send it.
    #[arg(long, conflicts_with_all = ["id", "anonymous_id", "email"])]
    user_id: Option<String>,
    /// The customer's anonymous id.
    #[arg(long, conflicts_with_all = ["id", "email"])]
    anonymous_id: Option<String>,
    /// The customer's email (every profile with it; compared case-insensitively).
    #[arg(long, conflicts_with = "id")]
    email: Option<String>,
}

impl Who {
    fn lookup(&self) -> ProfileLookup {
        ProfileLookup {
            user_id: self.user_id.clone(),
            anonymous_id: self.anonymous_id.clone(),
            email: self.email.clone(),
        }
    }

    /// What names the customer, for messages.
    fn describe(&self) -> String {
        match (&self.id, &self.user_id, &self.anonymous_id, &self.email) {
            (Some(id), ..) => id.clone(),
            (_, Some(user), ..) => format!("user id `{user}`"),
            (_, _, Some(anonymous), _) => format!("anonymous id `{anonymous}`"),
            (.., Some(email)) => format!("email `{email}`"),
            _ => "nobody".into(),
        }
    }
}

/// The profile ids `who` names: one for an id, every match of a lookup. None found is an error.
fn resolve(
    who: &Who,
    find: impl FnOnce(&ProfileLookup) -> anyhow::Result<Vec<ProfileId>>,
) -> anyhow::Result<Vec<ProfileId>> {
    let ids = match &who.id {
        Some(id) => vec![parse_id(id)?],
        None => find(&who.lookup())?,
    };
    if ids.is_empty() {
        bail!("no profile is known by {}", who.describe());
    }
    Ok(ids)
}

/// One answer for one profile, a list (made by `list`) for a lookup, which may match several.
fn one_or_many<T>(who: &Who, mut values: Vec<T>, list: impl FnOnce(Vec<T>) -> T) -> T {
    match (&who.id, values.len()) {
        (Some(_), 1) => values.remove(0),
        _ => list(values),
    }
}

/// Profile commands.
#[derive(Subcommand)]
pub enum ProfileCommand {
    /// Show a profile, by id or by how a source knows the customer.
    Show {
        #[command(flatten)]
        who: Who,
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
    /// Everything stored about a customer, as JSON (a subject access request).
    Export {
        #[command(flatten)]
        who: Who,
    },
    /// Erase a customer's profile (every one, for an email several share), its identities and
    /// its events, for good (right to erasure).
    Erase {
        #[command(flatten)]
        who: Who,
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

fn confirm_erasure(yes: bool, who: &Who) -> anyhow::Result<()> {
    if !yes {
        bail!("erasing {} deletes it and its events for good; add --yes to confirm", who.describe());
    }
    Ok(())
}

/// Runs a profile command on the local data directory.
pub fn profile(
    data: &Path,
    config: &ServeConfig,
    out: Output,
    command: ProfileCommand,
) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        ProfileCommand::Show { who } => {
            let ids =
                resolve(&who, |lookup| Ok(engine.profiles_named(lookup)?.iter().map(|p| p.id).collect()))?;
            let shown = ids.into_iter().map(|id| Ok(serde_json::to_value(engine.profile(id)?)?));
            out.print(&one_or_many(&who, shown.collect::<anyhow::Result<_>>()?, serde_json::Value::Array))
        }
        ProfileCommand::Update { id, consents, suppressions, lifted, timezone } => {
            let update = update_of(&consents, &suppressions, &lifted, timezone)?;
            out.print(&engine.update_profile(&local_actor(), parse_id(&id)?, &update)?)
        }
        ProfileCommand::Export { who } => {
            let ids =
                resolve(&who, |lookup| Ok(engine.profiles_named(lookup)?.iter().map(|p| p.id).collect()))?;
            let exports = ids
                .into_iter()
                .map(|id| Ok(serde_json::to_value(engine.export_profile(&local_actor(), id)?)?));
            out.print(&one_or_many(&who, exports.collect::<anyhow::Result<_>>()?, serde_json::Value::Array))
        }
        ProfileCommand::Erase { who, yes } => {
            let ids =
                resolve(&who, |lookup| Ok(engine.profiles_named(lookup)?.iter().map(|p| p.id).collect()))?;
            confirm_erasure(yes, &who)?;
            let erased = ids
                .into_iter()
                .map(|id| Ok(serde_json::to_value(engine.erase_profile(&local_actor(), id)?)?));
            out.print(&one_or_many(&who, erased.collect::<anyhow::Result<_>>()?, serde_json::Value::Array))
        }
    }
}

/// The ids of the profiles a server finds for `lookup` (`GET /v1/profiles?...`).
fn found_remotely(remote: &Remote, lookup: &ProfileLookup) -> anyhow::Result<Vec<ProfileId>> {
    let (key, value) = match lookup {
        ProfileLookup { user_id: Some(v), .. } => ("user_id", v),
        ProfileLookup { anonymous_id: Some(v), .. } => ("anonymous_id", v),
        ProfileLookup { email: Some(v), .. } => ("email", v),
        _ => bail!("name the customer by an id, --user-id, --anonymous-id or --email"),
    };
    let query: String = url_encoded(value);
    let found = remote.get(&format!("/v1/profiles?{key}={query}"))?;
    found
        .value()
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| parse_id(p["id"].as_str().unwrap_or_default()))
        .collect()
}

/// `text` as a URL query value (every byte but unreserved ones percent-encoded).
pub(super) fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Runs a profile command through a server's API.
pub fn profile_remote(remote: &Remote, out: Output, command: ProfileCommand) -> anyhow::Result<()> {
    let answer = match command {
        ProfileCommand::Show { who } => {
            let ids = resolve(&who, |lookup| found_remotely(remote, lookup))?;
            let shown = ids.into_iter().map(|id| remote.get(&format!("/v1/profiles/{id}")));
            one_or_many(&who, shown.collect::<anyhow::Result<_>>()?, Answer::list)
        }
        ProfileCommand::Update { id, consents, suppressions, lifted, timezone } => {
            let update = update_of(&consents, &suppressions, &lifted, timezone)?;
            remote.patch(&format!("/v1/profiles/{}", parse_id(&id)?), serde_json::to_value(&update)?)?
        }
        ProfileCommand::Export { who } => {
            let ids = resolve(&who, |lookup| found_remotely(remote, lookup))?;
            let exports = ids.into_iter().map(|id| remote.get(&format!("/v1/profiles/{id}/export")));
            one_or_many(&who, exports.collect::<anyhow::Result<_>>()?, Answer::list)
        }
        ProfileCommand::Erase { who, yes } => {
            let ids = resolve(&who, |lookup| found_remotely(remote, lookup))?;
            confirm_erasure(yes, &who)?;
            let erased = ids.into_iter().map(|id| remote.delete(&format!("/v1/profiles/{id}")));
            one_or_many(&who, erased.collect::<anyhow::Result<_>>()?, Answer::list)
        }
    };
    out.print_answer(&answer)
}
