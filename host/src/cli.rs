//! The commands behind `baton`. Each opens the data directory, does one thing, and prints data
//! through [`Output`] (a table for people, JSON for scripts) or a summary of work done. Errors
//! say what to fix.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use baton::{ContentHash, Engine, Role, SecretValue, ServeConfig};
use clap::Subcommand;

mod campaigns;
mod content;
mod events;
mod exports;
mod feedback;
mod imports;
mod journeys;
mod output;
mod profiles;
mod segments;
mod traits;
pub use campaigns::{CampaignCommand, campaign, campaign_remote};
pub use content::{ContentCommand, content, content_remote};
pub use events::{EventsCommand, events, events_remote};
pub use exports::{ExportArgs, export, export_remote};
pub use feedback::{FeedbackCommand, feedback, feedback_remote};
pub use imports::{ImportArgs, import_local, import_remote};
pub use journeys::{CalendarArgs, JourneyCommand, calendar, calendar_remote, journeys, journeys_remote};
pub use output::{Format, Output};
pub use profiles::{ProfileCommand, profile, profile_remote};
pub use segments::{SegmentCommand, segments, segments_remote};
pub use traits::{TraitCommand, traits, traits_remote};

/// Sets up `tracing` from `RUST_LOG` (default `default_level`), as text or JSON lines, on
/// standard error. Coloured only on a terminal: in a file or a pipe, escape codes are noise.
pub fn init_logging(format: &str, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::colours(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Reads the config file, if one was given.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<ServeConfig> {
    match path {
        None => Ok(ServeConfig::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config {}", path.display()))?;
            ServeConfig::from_toml(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))
        }
    }
}

pub(crate) fn open(data: &Path, config: &ServeConfig) -> anyhow::Result<Arc<Engine>> {
    Ok(baton::open_engine(data, config)?)
}

pub fn serve(data: &Path, addr: &str, config: ServeConfig) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let engine = open(data, &config)?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
        let bound = listener.local_addr()?;
        println!("baton listening on http://{bound}");
        std::io::stdout().flush()?;
        baton::serve(engine, listener, config, shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("Shutdown requested.");
}

/// `baton demo`.
pub fn demo(
    dir: Option<std::path::PathBuf>,
    storage: &baton::StorageConfig,
    profiles: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let temporary = match &dir {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    // A temporary store's data goes one level down, so that the secret key file beside it
    // (`<dir>.secret-key`) is inside the temporary directory and goes with it.
    let path = dir.or_else(|| temporary.as_ref().map(|t| t.path().join("data"))).context("no directory")?;
    eprintln!("Running the demo with {profiles} customers (seed {seed}) in {}...", path.display());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(baton::demo_scenario::run_on(&path, storage, profiles, seed))?;
    print!("{}", baton::demo_scenario::render(&report));
    if temporary.is_some() {
        eprintln!(
            "\n(The store was temporary; pass --dir to keep it and explore it with `baton --data DIR ...`.)"
        );
    }
    Ok(())
}

// ---- plugins

/// Plugin commands.
#[derive(Subcommand)]
pub enum PluginCommand {
    /// Install a component (.wasm) and print its record.
    Install {
        /// The component file, or `first-party:NAME` for a plugin built into baton
        /// (segment-conditions, segment-rfm, personalize-liquid, personalize-offers,
        /// channel-webhook, channel-sendgrid, channel-twilio-sms, kpi-funnel, kpi-romi,
        /// kpi-attribution).
        file: std::path::PathBuf,
    },
    /// Run a component against fixture cases (JSON files) without a server, comparing outputs and
    /// reporting fuel, time and memory against the budgets.
    Test {
        /// The component file, or `first-party:NAME`.
        file: std::path::PathBuf,
        /// The folder of `*.json` cases.
        #[arg(long)]
        fixtures: std::path::PathBuf,
        /// Fuel budget per call (default: the runtime's).
        #[arg(long)]
        fuel: Option<u64>,
        /// Deadline per call in milliseconds (default: the runtime's).
        #[arg(long)]
        deadline_ms: Option<u64>,
        /// Memory cap in MiB (default: the runtime's).
        #[arg(long)]
        memory_mib: Option<u64>,
    },
    /// Create a ready-to-build plugin project in Rust, JavaScript, Python or C: a minimal
    /// implementation, the contract, fixture cases and a build script that runs them.
    New {
        /// segment-rule, personalizer, channel-adapter, kpi-calculator or computed-trait.
        kind: String,
        /// The new project's folder (its name becomes the plugin's name).
        dir: std::path::PathBuf,
        /// The language: rust, js, python or c.
        #[arg(long, default_value = "rust")]
        lang: String,
    },
    /// Write the bindings a language needs for one world (C in this version: what `wit-bindgen c`
    /// writes, from the contract this baton speaks).
    Bindings {
        /// The language: c.
        lang: String,
        /// segment-rule, personalizer, channel-adapter, kpi-calculator or computed-trait.
        world: String,
        /// The folder to write into.
        #[arg(long, short, default_value = ".")]
        out: std::path::PathBuf,
        /// The contract version to bind (the newest by default; an older one to rebuild a plugin
        /// written against it).
        #[arg(long, default_value = baton::contract::LATEST_CONTRACT)]
        contract: String,
    },
    /// Turn a core module (clang's wasm32-wasi output, linked with the bindings' component type)
    /// into a component Baton can install.
    Componentize {
        /// The core module (.wasm).
        module: std::path::PathBuf,
        /// Where to write the component.
        #[arg(long, short)]
        out: std::path::PathBuf,
    },
    /// List installed plugins.
    List,
    /// Show a plugin and the bindings that pin it.
    Show {
        /// The plugin's content hash (sha256:...).
        hash: String,
    },
    /// Remove a plugin that no binding pins.
    Remove {
        /// The plugin's content hash.
        hash: String,
        /// A channel adapter with queued sends or dead letters: record the queued ones as
        /// rejected and discard the dead letters (without this, the removal is refused).
        #[arg(long)]
        drop_sends: bool,
    },
    /// Enable a quarantined plugin again (after fixing what made it fail).
    Enable {
        /// The plugin's content hash.
        hash: String,
    },
}

/// A component from a file, or a first-party plugin embedded in this binary (`first-party:NAME`).
fn component_bytes(file: &Path) -> anyhow::Result<Vec<u8>> {
    let text = file.to_string_lossy();
    if let Some(name) = text.strip_prefix("first-party:") {
        let names: Vec<&str> = baton::FIRST_PARTY.iter().map(|(n, _)| *n).collect();
        return baton::first_party(name)
            .map(<[u8]>::to_vec)
            .with_context(|| format!("no first-party plugin `{name}`; there are: {}", names.join(", ")));
    }
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

pub(crate) fn parse_hash(text: &str) -> anyhow::Result<ContentHash> {
    text.parse().map_err(|e: String| anyhow::anyhow!(e))
}

impl PluginCommand {
    /// Whether the command works on local files only (no data directory, no server).
    fn is_local(&self) -> bool {
        matches!(
            self,
            PluginCommand::Test { .. }
                | PluginCommand::New { .. }
                | PluginCommand::Bindings { .. }
                | PluginCommand::Componentize { .. }
        )
    }
}

pub fn plugin(data: &Path, config: &ServeConfig, out: Output, command: PluginCommand) -> anyhow::Result<()> {
    if command.is_local() {
        plugin_local(config, command)
    } else {
        plugin_on_store(data, config, out, command)
    }
}

/// The commands a plugin author runs on their own machine.
fn plugin_local(config: &ServeConfig, command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Test { file, fixtures, fuel, deadline_ms, memory_mib } => {
            plugin_test(config, &file, &fixtures, fuel, deadline_ms, memory_mib)
        }
        PluginCommand::New { kind, dir, lang } => crate::scaffold::new_plugin(&kind, &lang, &dir),
        PluginCommand::Bindings { lang, world, out, contract } => {
            if lang != "c" {
                bail!(
                    "bindings for `{lang}`: baton writes C bindings; Rust plugins use baton-sdk, JavaScript and Python toolchains read the WIT directly"
                );
            }
            let files = baton::toolkit::c_bindings(&world, &contract)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (name, bytes) in files {
                let path = out.join(&name);
                std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        PluginCommand::Componentize { module, out } => {
            let bytes = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
            let component = baton::toolkit::componentize(&bytes)
                .with_context(|| format!("componentizing {}", module.display()))?;
            std::fs::write(&out, &component).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} ({} bytes)", out.display(), component.len());
            Ok(())
        }
        _ => bail!("this plugin command works on a store: give --data or --server"),
    }
}

/// Runs fixture cases on a temporary store: no data directory and no server needed.
fn plugin_test(
    config: &ServeConfig,
    file: &Path,
    fixtures: &Path,
    fuel: Option<u64>,
    deadline_ms: Option<u64>,
    memory_mib: Option<u64>,
) -> anyhow::Result<()> {
    let mut limits = config.runtime.limits.clone();
    limits.fuel = fuel.unwrap_or(limits.fuel);
    limits.deadline = deadline_ms.map_or(limits.deadline, std::time::Duration::from_millis);
    limits.memory_bytes = memory_mib.map_or(limits.memory_bytes, |m| m << 20);
    let results = baton::run_fixtures(&component_bytes(file)?, fixtures, &limits)?;
    print!("{}", baton::render_cases(&results, &limits));
    if results.iter().any(|r| !r.passed) {
        bail!("some cases failed");
    }
    Ok(())
}

fn plugin_on_store(
    data: &Path,
    config: &ServeConfig,
    out: Output,
    command: PluginCommand,
) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        PluginCommand::Test { .. }
        | PluginCommand::New { .. }
        | PluginCommand::Bindings { .. }
        | PluginCommand::Componentize { .. } => plugin_local(config, command),
        PluginCommand::Install { file } => {
            let bytes = component_bytes(&file)?;
            out.print(&engine.install_plugin(&local_actor(), &bytes)?)
        }
        PluginCommand::List => out.print(&engine.plugins()?),
        PluginCommand::Show { hash } => out.print(&engine.plugin_view(&parse_hash(&hash)?)?),
        PluginCommand::Remove { hash, drop_sends } => {
            let hash = parse_hash(&hash)?;
            engine.remove_plugin(&local_actor(), &hash, drop_sends)?;
            println!("removed {hash}");
            Ok(())
        }
        PluginCommand::Enable { hash } => {
            let hash = parse_hash(&hash)?;
            engine.enable_plugin(&local_actor(), &hash)?;
            println!("enabled {hash}");
            Ok(())
        }
    }
}

// ---- KPIs, secrets, tokens

/// KPI commands.
#[derive(Subcommand)]
pub enum KpiCommand {
    /// Show a campaign's latest KPI snapshots (compute them first with --compute).
    Show {
        /// The campaign id.
        campaign: String,
        /// Compute the KPIs now before showing them.
        #[arg(long)]
        compute: bool,
    },
    /// Show a campaign's daily series (delivered, opens, clicks, conversions, revenue per day in
    /// the reporting time zone), as of its last update.
    Series {
        /// The campaign id.
        campaign: String,
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// The last day, YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
        /// Bring the series up to date first (the recent days).
        #[arg(long)]
        update: bool,
        /// Recompute every day first (after a time-zone change, or for very late events).
        #[arg(long)]
        full: bool,
    },
    /// Show a campaign's results now: conversions per variant and control group, the uplift
    /// with its 95% confidence interval, and whether it is significant, each in one line.
    Results {
        /// The campaign id.
        campaign: String,
        /// Keep these results as the latest (what moves an early-stopping test).
        #[arg(long)]
        record: bool,
    },
}

pub fn kpi(data: &Path, config: &ServeConfig, out: Output, command: KpiCommand) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        KpiCommand::Show { campaign, compute: true } => out.print(&engine.compute_kpis(&campaign)?),
        KpiCommand::Show { campaign, compute: false } => out.print(&engine.kpi_snapshots(&campaign)?),
        KpiCommand::Results { campaign, record } => {
            let results = match record {
                true => engine.record_campaign_results(&campaign)?,
                false => engine.campaign_results(&campaign)?,
            };
            out.print_results(&serde_json::to_value(&results)?)
        }
        KpiCommand::Series { campaign, from, to, update, full } => {
            if update || full {
                engine.update_campaign_series(&campaign, full)?;
            }
            out.print(&engine.campaign_series(&campaign, from.as_deref(), to.as_deref())?.days)
        }
    }
}

/// Secret commands.
#[derive(Subcommand)]
pub enum SecretCommand {
    /// Set a secret; the value is read from standard input (never from the command line).
    Set {
        /// The secret's name.
        name: String,
        /// A host the secret may be sent to (`api.sendgrid.com`, or `*.example.com`); repeat for
        /// several. The host refuses to put the secret into a request to any other host.
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
    },
    /// List secrets with the hosts each may go to (never values).
    List,
    /// Delete a secret.
    Delete {
        /// The secret's name.
        name: String,
    },
}

/// Who acts from the local CLI, for the audit log: the operating-system user.
pub(crate) fn local_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

/// A secret's value from the first line of standard input (never from the command line, where
/// the shell history and `ps` would keep it).
fn secret_from_stdin(name: &str) -> anyhow::Result<String> {
    let mut value = String::new();
    std::io::stdin().read_line(&mut value)?;
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        bail!(
            "no value on standard input; pipe it in, for example `printf %s \"$KEY\" | baton secret set {name} --host api.example.com`"
        );
    }
    Ok(value.to_owned())
}

pub fn secret(data: &Path, config: &ServeConfig, out: Output, command: SecretCommand) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        SecretCommand::Set { name, hosts } => {
            let value = secret_from_stdin(&name)?;
            let hosts = engine.set_secret(&local_actor(), &name, &SecretValue::new(value), &hosts)?;
            println!("secret {name} set for {}", hosts.join(", "));
            Ok(())
        }
        SecretCommand::List => out.print(&engine.secrets()?),
        SecretCommand::Delete { name } => {
            engine.delete_secret(&local_actor(), &name)?;
            println!("secret {name} deleted");
            Ok(())
        }
    }
}

/// Token commands.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once.
    Create {
        /// A name for people.
        #[arg(long)]
        name: String,
        /// admin, orchestrator, analyst, developer, viewer or connector (a source's write key:
        /// ingest only).
        #[arg(long)]
        role: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The token's id (from `baton token list`).
        id: String,
    },
}

pub fn token(data: &Path, config: &ServeConfig, out: Output, command: TokenCommand) -> anyhow::Result<()> {
    let engine = open(data, config)?;
    match command {
        TokenCommand::Create { name, role } => {
            let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            let (token, record) = engine.create_token(&local_actor(), &name, role)?;
            println!("{token}");
            eprintln!("token {} ({:?}) created; it is shown once", record.id, record.role);
            Ok(())
        }
        TokenCommand::List => out.print(&engine.tokens()?),
        TokenCommand::Revoke { id } => {
            engine.revoke_token(&local_actor(), &id)?;
            println!("revoked {id}");
            Ok(())
        }
    }
}

// ---- remote mode: the same commands through a running server's API

use crate::remote::{Body, Remote};

pub fn plugin_remote(remote: &Remote, out: Output, command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Test { .. }
        | PluginCommand::New { .. }
        | PluginCommand::Bindings { .. }
        | PluginCommand::Componentize { .. } => {
            bail!("plugin test, new, bindings and componentize run locally; they do not take --server")
        }
        PluginCommand::Install { file } => {
            let bytes = component_bytes(&file)?;
            out.print_answer(&remote.call(
                reqwest::Method::POST,
                "/v1/plugins",
                Some(Body::Bytes(bytes, "application/wasm")),
            )?)
        }
        PluginCommand::List => out.print_answer(&remote.get("/v1/plugins")?),
        PluginCommand::Show { hash } => out.print_answer(&remote.get(&format!("/v1/plugins/{hash}"))?),
        PluginCommand::Remove { hash, drop_sends } => {
            out.print_answer(&remote.delete(&format!("/v1/plugins/{hash}?drop_sends={drop_sends}"))?)
        }
        PluginCommand::Enable { hash } => {
            out.print_answer(&remote.post(&format!("/v1/plugins/{hash}/enable"), serde_json::json!({}))?)
        }
    }
}

pub fn kpi_remote(remote: &Remote, out: Output, command: KpiCommand) -> anyhow::Result<()> {
    match command {
        KpiCommand::Show { campaign, compute } => {
            let path = format!("/v1/campaigns/{campaign}/kpis");
            out.print_answer(&if compute {
                remote.post(&path, serde_json::json!({}))?
            } else {
                remote.get(&path)?
            })
        }
        KpiCommand::Results { campaign, record } => {
            let path = format!("/v1/campaigns/{campaign}/results");
            let answer =
                if record { remote.post(&path, serde_json::json!({}))? } else { remote.get(&path)? };
            out.print_results(answer.value())
        }
        KpiCommand::Series { campaign, from, to, update, full } => {
            let path = format!("/v1/campaigns/{campaign}/series");
            if update || full {
                remote.post(&format!("{path}?full={full}"), serde_json::json!({}))?;
            }
            let query: Vec<String> = [("from", from), ("to", to)]
                .into_iter()
                .filter_map(|(key, day)| Some(format!("{key}={}", day?)))
                .collect();
            let answer = remote.get(&format!("{path}?{}", query.join("&")))?;
            out.print(&answer.value()["days"])
        }
    }
}

pub fn secret_remote(remote: &Remote, out: Output, command: SecretCommand) -> anyhow::Result<()> {
    let answer = match command {
        SecretCommand::Set { name, hosts } => {
            let value = secret_from_stdin(&name)?;
            remote
                .put(&format!("/v1/secrets/{name}"), serde_json::json!({ "value": value, "hosts": hosts }))?
        }
        SecretCommand::List => remote.get("/v1/secrets")?,
        SecretCommand::Delete { name } => remote.delete(&format!("/v1/secrets/{name}"))?,
    };
    out.print_answer(&answer)
}

pub fn token_remote(remote: &Remote, out: Output, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { name, role } => {
            let answer = remote.post("/v1/tokens", serde_json::json!({ "name": name, "role": role }))?;
            println!("{}", answer.value()["token"].as_str().unwrap_or_default());
            Ok(())
        }
        TokenCommand::List => out.print_answer(&remote.get("/v1/tokens")?),
        TokenCommand::Revoke { id } => out.print_answer(&remote.delete(&format!("/v1/tokens/{id}"))?),
    }
}
