//! `baton feedback-endpoint`: where vendors post their webhooks (deliveries, bounces, complaints,
//! opens, clicks, unsubscribes), locally or through a server. Making one asks the channel
//! adapter how its vendor signs, once; Baton checks every webhook against that before the
//! adapter reads it.

use std::path::Path;

use anyhow::Context;
use baton::ServeConfig;
use clap::Subcommand;

use super::{Output, local_actor, open, parse_hash};
use crate::remote::Remote;

/// Feedback endpoint commands.
#[derive(Subcommand)]
pub enum FeedbackCommand {
    /// List feedback endpoints.
    List,
    /// Make (or remake) an endpoint: vendors then post to `/v1/feedback/NAME`.
    Set {
        /// The endpoint's name (lowercase letters, digits, `-` and `_`), the last part of its URL.
        name: String,
        /// The channel adapter's content hash (built against contract 0.2.0 or later).
        plugin: String,
        /// The adapter's feedback config, a JSON object (for example the vendor's public key).
        #[arg(long, default_value = "{}")]
        config: String,
        /// A secret the signature check may use (repeatable), such as a signing secret.
        #[arg(long = "grant-secret")]
        secrets: Vec<String>,
    },
    /// Remove an endpoint; its vendor's webhooks are refused from then on.
    Delete {
        /// The endpoint's name.
        name: String,
    },
}

fn config_json(config: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(config).context("--config is not JSON")
}

/// Runs a feedback endpoint command on the local data directory.
pub fn feedback(
    data: &Path,
    config: &ServeConfig,
    out: Output,
    command: FeedbackCommand,
) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        FeedbackCommand::List => out.print(&engine.feedback_endpoints()?),
        FeedbackCommand::Set { name, plugin, config, secrets } => out.print(&engine.put_feedback_endpoint(
            &local_actor(),
            &name,
            &parse_hash(&plugin)?,
            config_json(&config)?,
            secrets,
        )?),
        FeedbackCommand::Delete { name } => {
            engine.delete_feedback_endpoint(&local_actor(), &name)?;
            out.print(&serde_json::json!({ "deleted": name }))
        }
    }
}

/// Runs a feedback endpoint command through a server's API.
pub fn feedback_remote(remote: &Remote, out: Output, command: FeedbackCommand) -> anyhow::Result<()> {
    let answer = match command {
        FeedbackCommand::List => remote.get("/v1/feedback-endpoints")?,
        FeedbackCommand::Set { name, plugin, config, secrets } => {
            let body =
                serde_json::json!({ "plugin": plugin, "config": config_json(&config)?, "secrets": secrets });
            remote.put(&format!("/v1/feedback-endpoints/{name}"), body)?
        }
        FeedbackCommand::Delete { name } => remote.delete(&format!("/v1/feedback-endpoints/{name}"))?,
    };
    out.print_answer(&answer)
}
