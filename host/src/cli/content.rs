//! `baton content`: snippets and message templates, locally or through a server. Both call the
//! same engine functions (the server through its API), so both are audited alike.

use std::path::{Path, PathBuf};

use anyhow::Context;
use baton::ServeConfig;
use baton::content::ContentSpec;
use clap::Subcommand;

use super::{Output, local_actor, open};
use crate::remote::Remote;

/// Content commands.
#[derive(Subcommand)]
pub enum ContentCommand {
    /// List content blocks with their kind, newest and live versions.
    List,
    /// Save a content block's next version from a JSON file (`{"kind": "snippet", "body": ...}`
    /// or a message template with `subject`, `body`, `html` and `locales`).
    Save {
        /// Its name (lowercase letters, digits, `-` and `_`): what `{% render 'name' %}` and a
        /// campaign's `message.content` use.
        name: String,
        /// The version as JSON (`examples/content/footer.json` is one).
        #[arg(long)]
        file: PathBuf,
    },
    /// Show a content block: its newest version and its live one.
    Show {
        /// Its name.
        name: String,
    },
    /// Make a version (the newest by default) the one sends render.
    Publish {
        /// Its name.
        name: String,
        /// The version to publish.
        #[arg(long)]
        version: Option<u32>,
    },
}

fn spec(file: &Path) -> anyhow::Result<ContentSpec> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a content block", file.display()))
}

/// Runs a content command on the local data directory.
pub fn content(
    data: &Path,
    config: &ServeConfig,
    out: Output,
    command: ContentCommand,
) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    let actor = local_actor();
    match command {
        ContentCommand::List => out.print(&engine.contents()?),
        ContentCommand::Save { name, file } => {
            out.print(&engine.save_content(&actor, &name, spec(&file)?)?)
        }
        ContentCommand::Show { name } => out.print(&engine.content_view(&name)?),
        ContentCommand::Publish { name, version } => {
            out.print(&engine.publish_content(&actor, &name, version)?)
        }
    }
}

/// Runs a content command through a server.
pub fn content_remote(remote: &Remote, out: Output, command: ContentCommand) -> anyhow::Result<()> {
    let answer = match command {
        ContentCommand::List => remote.get("/v1/content")?,
        ContentCommand::Save { name, file } => {
            remote.put(&format!("/v1/content/{name}"), serde_json::to_value(spec(&file)?)?)?
        }
        ContentCommand::Show { name } => remote.get(&format!("/v1/content/{name}"))?,
        ContentCommand::Publish { name, version } => {
            remote.post(&format!("/v1/content/{name}/publish"), serde_json::json!({ "version": version }))?
        }
    };
    out.print_answer(&answer)
}
