//! `baton trait`: computed-trait bindings, locally or through a server. Both call the same
//! engine functions (the server through its API), so both are audited alike.

use std::path::Path;

use anyhow::Context;
use baton::{ContentHash, ServeConfig};
use clap::Subcommand;

use super::{Output, local_actor, open};
use crate::remote::Remote;

/// Computed-trait commands.
#[derive(Subcommand)]
pub enum TraitCommand {
    /// List trait bindings.
    List,
    /// Bind a computed-trait plugin under a name (or rebind it); its traits follow events from
    /// then on.
    Bind {
        /// The binding's name (lowercase letters, digits, `-` and `_`).
        name: String,
        /// The plugin's content hash (`baton plugin list` shows it).
        plugin: String,
        /// The plugin's config, a JSON object.
        #[arg(long, default_value = "{}")]
        config: String,
    },
    /// Remove a trait binding (the traits it wrote stay until rewritten).
    Unbind {
        /// The binding's name.
        name: String,
    },
    /// Recompute a binding's traits over every profile.
    Recompute {
        /// The binding's name.
        name: String,
    },
}

fn config_json(config: &str) -> anyhow::Result<serde_json::Value> {
    serde_json::from_str(config).context("--config is not JSON")
}

/// Runs a trait command on the local data directory.
pub fn traits(data: &Path, config: &ServeConfig, out: Output, command: TraitCommand) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        TraitCommand::List => out.print(&engine.trait_bindings()?),
        TraitCommand::Bind { name, plugin, config } => {
            let plugin: ContentHash = plugin.parse().map_err(anyhow::Error::msg)?;
            out.print(&engine.bind_trait(&local_actor(), &name, &plugin, config_json(&config)?)?)
        }
        TraitCommand::Unbind { name } => {
            engine.unbind_trait(&local_actor(), &name)?;
            println!("trait binding {name} removed");
            Ok(())
        }
        TraitCommand::Recompute { name } => out.print(&engine.recompute_traits(&local_actor(), &name)?),
    }
}

/// Runs a trait command through a server.
pub fn traits_remote(remote: &Remote, out: Output, command: TraitCommand) -> anyhow::Result<()> {
    let answer = match command {
        TraitCommand::List => remote.get("/v1/traits")?,
        TraitCommand::Bind { name, plugin, config } => remote.put(
            &format!("/v1/traits/{name}"),
            serde_json::json!({ "plugin": plugin, "config": config_json(&config)? }),
        )?,
        TraitCommand::Unbind { name } => remote.delete(&format!("/v1/traits/{name}"))?,
        TraitCommand::Recompute { name } => {
            remote.post(&format!("/v1/traits/{name}/recompute"), serde_json::json!({}))?
        }
    };
    out.print_answer(&answer)
}
