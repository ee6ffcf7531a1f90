//! `baton segment`: saved segments, locally or through a server. Both call the same engine
//! functions (the server through its API), so both are audited alike.

use std::path::Path;

use anyhow::Context;
use baton::{ContentHash, MemberFile, SegmentDefinition, SegmentSpec, ServeConfig};
use clap::{Subcommand, ValueEnum};

use super::output::write_stdout;
use super::{Output, local_actor, open};
use crate::remote::Remote;

/// Saved-segment commands.
#[derive(Subcommand)]
pub enum SegmentCommand {
    /// List saved segments with their member counts.
    List,
    /// Save a segment: a segment rule with its config, or (`--manual`) a list kept by hand. Its
    /// membership is built now and kept current from then on.
    Save {
        /// The segment's id (lowercase letters, digits, `-` and `_`).
        id: String,
        /// The segment rule's content hash (`baton plugin list` shows it).
        #[arg(long, required_unless_present = "manual", conflicts_with = "manual")]
        plugin: Option<String>,
        /// The rule's config, a JSON object (for `segment-conditions`, a condition tree).
        #[arg(long, default_value = "{}")]
        config: String,
        /// A list of people kept by hand (`baton segment add`).
        #[arg(long)]
        manual: bool,
        /// What the segment is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Show a segment with its live member count.
    Show {
        /// The segment's id.
        id: String,
    },
    /// Print a segment's members from stored membership.
    Members {
        /// The segment's id.
        id: String,
        /// `csv` or `ndjson` for every member as a file; otherwise as the output format says.
        #[arg(long)]
        format: Option<MembersFormat>,
    },
    /// Add people to a manual segment by user id or email.
    Add {
        /// The segment's id.
        id: String,
        /// User ids or emails.
        #[arg(required_unless_present = "file")]
        users: Vec<String>,
        /// A file of user ids or emails, one per line (a CSV's first column; a `user_id` or
        /// `email` header is skipped).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Remove people from a manual segment by user id or email.
    Remove {
        /// The segment's id.
        id: String,
        /// User ids or emails.
        #[arg(required_unless_present = "file")]
        users: Vec<String>,
        /// A file of user ids or emails, one per line (a CSV's first column; a `user_id` or
        /// `email` header is skipped).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Judge every profile for a rule segment again and store what differs.
    Rebuild {
        /// The segment's id.
        id: String,
    },
    /// Delete a segment and its stored membership.
    Delete {
        /// The segment's id.
        id: String,
    },
}

/// A member list as a file.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MembersFormat {
    /// `profile_id,since,score`.
    Csv,
    /// One JSON member per line.
    Ndjson,
}

impl MembersFormat {
    fn name(self) -> &'static str {
        match self {
            MembersFormat::Csv => "csv",
            MembersFormat::Ndjson => "ndjson",
        }
    }
}

/// The user ids given as arguments, then those in `file`.
fn user_ids(mut users: Vec<String>, file: Option<&Path>) -> anyhow::Result<Vec<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let first = line.split(',').next().unwrap_or_default().trim().trim_matches('"');
            let header = ["user_id", "email"].iter().any(|h| first.eq_ignore_ascii_case(h));
            if first.is_empty() || (i == 0 && header) {
                continue;
            }
            users.push(first.to_owned());
        }
    }
    Ok(users)
}

/// Sends `users` to a server in requests of at most 10,000 (the API's cap), adding up the answers.
fn edit_remote(
    remote: &Remote,
    id: &str,
    users: &[String],
    add: bool,
) -> anyhow::Result<crate::remote::Answer> {
    let mut answers = Vec::new();
    for chunk in users.chunks(10_000) {
        let body =
            if add { serde_json::json!({ "add": chunk }) } else { serde_json::json!({ "remove": chunk }) };
        answers.push(remote.post(&format!("/v1/segments/{id}/members"), body)?);
    }
    let total = |key: &str| answers.iter().map(|a| a.value()[key].as_u64().unwrap_or(0)).sum::<u64>();
    let unknown: Vec<serde_json::Value> =
        answers.iter().flat_map(|a| a.value()["unknown"].as_array().cloned().unwrap_or_default()).collect();
    let summed =
        serde_json::json!({ "added": total("added"), "removed": total("removed"), "unknown": unknown });
    Ok(crate::remote::Answer::from_value(summed))
}

fn definition(plugin: Option<String>, config: &str, manual: bool) -> anyhow::Result<SegmentDefinition> {
    if manual {
        return Ok(SegmentDefinition::Manual {});
    }
    let plugin: ContentHash =
        plugin.context("give --plugin HASH, or --manual")?.parse().map_err(anyhow::Error::msg)?;
    let config = serde_json::from_str(config).context("--config is not JSON")?;
    Ok(SegmentDefinition::Rule { plugin, config })
}

/// Runs a segment command on the local data directory.
pub fn segments(
    data: &Path,
    config: &ServeConfig,
    out: Output,
    command: SegmentCommand,
) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    let actor = local_actor();
    match command {
        SegmentCommand::List => out.print(&engine.saved_segments()?),
        SegmentCommand::Save { id, plugin, config, manual, description } => {
            let spec = SegmentSpec { id, description, definition: definition(plugin, &config, manual)? };
            out.print(&engine.save_segment(&actor, spec)?.0)
        }
        SegmentCommand::Show { id } => out.print(&engine.segment_view(&id, 0)?.segment),
        SegmentCommand::Members { id, format } => {
            let members = engine.segment_members(&id, None, usize::MAX)?;
            let file = match format {
                None => return out.print(&members),
                Some(MembersFormat::Ndjson) => MemberFile::Ndjson,
                Some(MembersFormat::Csv) => MemberFile::Csv,
            };
            let mut text = String::from(file.header());
            file.write(&members, &mut text);
            if text.is_empty() {
                return Ok(());
            }
            // A reader that stops early (`| head`) ends the output, as with any Unix tool.
            write_stdout(text.trim_end_matches('\n'))
        }
        SegmentCommand::Add { id, users, file } => {
            let users = user_ids(users, file.as_deref())?;
            out.print(&engine.edit_segment_members(&actor, &id, &users, &[])?)
        }
        SegmentCommand::Remove { id, users, file } => {
            let users = user_ids(users, file.as_deref())?;
            out.print(&engine.edit_segment_members(&actor, &id, &[], &users)?)
        }
        SegmentCommand::Rebuild { id } => out.print(&engine.rebuild_segment(&actor, &id)?),
        SegmentCommand::Delete { id } => {
            engine.delete_segment(&actor, &id)?;
            write_stdout(&format!("segment {id} deleted"))
        }
    }
}

/// Runs a segment command through a server.
pub fn segments_remote(remote: &Remote, out: Output, command: SegmentCommand) -> anyhow::Result<()> {
    let answer = match command {
        SegmentCommand::List => remote.get("/v1/segments")?,
        SegmentCommand::Save { id, plugin, config, manual, description } => remote.put(
            &format!("/v1/segments/{id}"),
            serde_json::json!({
                "description": description,
                "definition": definition(plugin, &config, manual)?,
            }),
        )?,
        SegmentCommand::Show { id } => remote.get(&format!("/v1/segments/{id}"))?,
        SegmentCommand::Members { id, format: Some(format) } => {
            let path = format!("/v1/segments/{id}/members?format={}", format.name());
            remote.download(&path, &mut std::io::stdout().lock())?;
            return Ok(());
        }
        SegmentCommand::Members { id, format: None } => remote.get(&format!("/v1/segments/{id}/members"))?,
        SegmentCommand::Add { id, users, file } => {
            edit_remote(remote, &id, &user_ids(users, file.as_deref())?, true)?
        }
        SegmentCommand::Remove { id, users, file } => {
            edit_remote(remote, &id, &user_ids(users, file.as_deref())?, false)?
        }
        SegmentCommand::Rebuild { id } => {
            remote.post(&format!("/v1/segments/{id}/rebuild"), serde_json::json!({}))?
        }
        SegmentCommand::Delete { id } => remote.delete(&format!("/v1/segments/{id}"))?,
    };
    out.print_answer(&answer)
}
