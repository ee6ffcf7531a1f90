//! The `baton` command line: `serve`, and commands that work on a data directory directly
//! (plugins, campaigns, events import/export, KPIs, secrets, tokens).

mod cli;
mod remote;
mod scaffold;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// jemalloc, not glibc malloc: sustained ingest across many threads ran 32% faster with it and
/// kept less memory (see RELIABILITY.md, load).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What `baton --help` says about exit codes; README.md's "Output and exit codes" says the same.
const EXIT_CODES: &str = "\
Exit codes:
  0  Success.
  1  The command failed; the message on standard error says what to fix. An import that
     finishes exits 0 even when it rejected rows: its summary counts them and --errors FILE
     keeps them.
  2  Usage error: an unknown command or option, or a missing or invalid argument.";

/// Baton: a WebAssembly plugin host for marketing rules and automations.
#[derive(Parser)]
#[command(name = "baton", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    /// The data directory (an embedded sled store).
    #[arg(long, global = true, env = "BATON_DATA", default_value = "baton-data")]
    data: PathBuf,
    /// Keep the data in this PostgreSQL database instead of the data directory
    /// (`postgres://user:password@host:port/database?schema=name`); several `baton serve` workers
    /// may share one. Overrides the config file's `storage.url`.
    #[arg(long, global = true, env = "BATON_STORE", hide_env_values = true)]
    store: Option<String>,
    /// A TOML config file (storage, runtime limits, engine policies, API limits, loops). Named
    /// `--config-file` so that it never collides with a command's own `--config` (a binding's
    /// JSON config).
    #[arg(long = "config-file", global = true, env = "BATON_CONFIG")]
    config_file: Option<PathBuf>,
    /// Talk to the server at this URL through its API instead of opening the data directory.
    #[arg(long, global = true, env = "BATON_SERVER")]
    server: Option<String>,
    /// The API token for --server.
    #[arg(long, global = true, env = "BATON_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    /// How to print the data a command returns: tables and `key: value` lines for people, or
    /// JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = cli::Format::Table)]
    output: cli::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the admin and ingest API and run deliveries and schedules until stopped.
    Serve {
        /// Address to listen on; port 0 picks a free port (the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Run an end-to-end scenario on an embedded store (or the PostgreSQL database `--store`
    /// names): data, campaigns, delivery to a local stand-in vendor, engagement, KPIs.
    Demo {
        /// Keep the store in this directory (default: a temporary one, removed at exit).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// How many customers to generate.
        #[arg(long, default_value_t = 3000)]
        profiles: usize,
        /// The data set's seed: the same seed gives the same scenario.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Install, list, show and remove plugins.
    #[command(subcommand)]
    Plugin(cli::PluginCommand),
    /// Create, bind, activate, preview and run campaigns.
    #[command(subcommand)]
    Campaign(cli::CampaignCommand),
    /// Import and export events.
    #[command(subcommand)]
    Events(cli::EventsCommand),
    /// Show or compute a campaign's KPIs.
    #[command(subcommand)]
    Kpi(cli::KpiCommand),
    /// Set, list and delete secrets for channel adapters.
    #[command(subcommand)]
    Secret(cli::SecretCommand),
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(cli::TokenCommand),
    /// Bind, list, unbind and recompute computed traits.
    #[command(subcommand)]
    Trait(cli::TraitCommand),
    /// Save, list and show segments whose membership Baton keeps current; their members.
    #[command(subcommand)]
    Segment(cli::SegmentCommand),
    /// Save and publish snippets and message templates that campaigns render.
    #[command(subcommand)]
    Content(cli::ContentCommand),
    /// Save, publish, pause, resume and end journeys; see their per-step counts.
    #[command(subcommand)]
    Journey(cli::JourneyCommand),
    /// What is planned, day by day: scheduled batch runs and journey waits that come due.
    Calendar(cli::CalendarArgs),
    /// Export every event or profile, or a campaign's deliveries, as NDJSON or CSV.
    Export(cli::ExportArgs),
    /// Import profiles (traits, consents, suppressions, time zones) or events from NDJSON or CSV.
    Import(cli::ImportArgs),
    /// Show, update, export and erase a customer's profile.
    #[command(subcommand)]
    Profile(cli::ProfileCommand),
    /// Make, list and delete the endpoints vendors post their webhooks to.
    #[command(subcommand, name = "feedback-endpoint")]
    FeedbackEndpoint(cli::FeedbackCommand),
}

fn main() -> std::process::ExitCode {
    // A usage error ends here, with clap's message and exit code 2.
    let cli = Cli::parse();
    // The demo prints a report; its logs would drown it unless asked for.
    let default_level = if matches!(cli.command, Command::Demo { .. }) { "warn" } else { "info" };
    cli::init_logging(&cli.log_format, default_level);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Exit code 1, with what to fix (EXIT_CODES).
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let out = cli::Output::new(cli.output);
    if let Some(server) = &cli.server {
        let remote = remote::Remote::new(server, cli.token.clone())?;
        return match cli.command {
            Command::Serve { .. } | Command::Demo { .. } => {
                anyhow::bail!("serve and demo run locally; they do not take --server")
            }
            Command::Plugin(command) => cli::plugin_remote(&remote, out, command),
            Command::Campaign(command) => cli::campaign_remote(&remote, out, command),
            Command::Events(command) => cli::events_remote(&remote, command),
            Command::Kpi(command) => cli::kpi_remote(&remote, out, command),
            Command::Secret(command) => cli::secret_remote(&remote, out, command),
            Command::Token(command) => cli::token_remote(&remote, out, command),
            Command::Trait(command) => cli::traits_remote(&remote, out, command),
            Command::Segment(command) => cli::segments_remote(&remote, out, command),
            Command::Journey(command) => cli::journeys_remote(&remote, out, command),
            Command::Content(command) => cli::content_remote(&remote, out, command),
            Command::Calendar(args) => cli::calendar_remote(&remote, out, &args),
            Command::Profile(command) => cli::profile_remote(&remote, out, command),
            Command::Export(args) => cli::export_remote(&remote, args),
            Command::Import(args) => cli::import_remote(&remote, args),
            Command::FeedbackEndpoint(command) => cli::feedback_remote(&remote, out, command),
        };
    }
    let mut config = cli::load_config(cli.config_file.as_deref())?;
    if let Some(url) = cli.store.clone() {
        config.storage.url = Some(url);
    }
    match cli.command {
        Command::Serve { addr } => cli::serve(&cli.data, &addr, config),
        Command::Demo { dir, profiles, seed } => cli::demo(dir, &config.storage, profiles, seed),
        Command::Plugin(command) => cli::plugin(&cli.data, &config, out, command),
        Command::Campaign(command) => cli::campaign(&cli.data, &config, out, command),
        Command::Events(command) => cli::events(&cli.data, &config, command),
        Command::Kpi(command) => cli::kpi(&cli.data, &config, out, command),
        Command::Secret(command) => cli::secret(&cli.data, &config, out, command),
        Command::Token(command) => cli::token(&cli.data, &config, out, command),
        Command::Trait(command) => cli::traits(&cli.data, &config, out, command),
        Command::Segment(command) => cli::segments(&cli.data, &config, out, command),
        Command::Journey(command) => cli::journeys(&cli.data, &config, out, command),
        Command::Content(command) => cli::content(&cli.data, &config, out, command),
        Command::Calendar(args) => cli::calendar(&cli.data, &config, out, &args),
        Command::Profile(command) => cli::profile(&cli.data, &config, out, command),
        Command::Export(args) => cli::export(&cli.data, &config, args),
        Command::Import(args) => cli::import_local(&cli.data, &config, args),
        Command::FeedbackEndpoint(command) => cli::feedback(&cli.data, &config, out, command),
    }
}
