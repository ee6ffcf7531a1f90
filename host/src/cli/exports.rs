//! `baton export events|profiles|deliveries`: bulk exports as NDJSON or CSV, from a data
//! directory or streamed from a running server (so an analyst need not stop production). A file
//! is written beside its final name and renamed into place when complete, so a failed export
//! leaves no file that looks whole.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use baton::{ExportFormat, ExportKind, ServeConfig};
use clap::Args;

use super::{local_actor, open};
use crate::remote::Remote;

/// What to export, how, and where.
#[derive(Args)]
pub struct ExportArgs {
    /// events, profiles or deliveries.
    pub what: String,
    /// For deliveries: the campaign.
    #[arg(long)]
    pub campaign: Option<String>,
    /// ndjson or csv.
    #[arg(long, default_value = "ndjson")]
    pub format: String,
    /// The output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl ExportArgs {
    fn kind(&self) -> anyhow::Result<ExportKind> {
        Ok(match (self.what.as_str(), &self.campaign) {
            ("events", None) => ExportKind::Events,
            ("profiles", None) => ExportKind::Profiles,
            ("deliveries", Some(campaign)) => ExportKind::Deliveries(campaign.clone()),
            ("deliveries", None) => bail!("export deliveries needs --campaign ID"),
            ("events" | "profiles", Some(_)) => bail!("export {} takes no --campaign", self.what),
            (other, _) => bail!("export `{other}`: use events, profiles or deliveries"),
        })
    }

    fn format(&self) -> anyhow::Result<ExportFormat> {
        match self.format.as_str() {
            "ndjson" => Ok(ExportFormat::Ndjson),
            "csv" => Ok(ExportFormat::Csv),
            other => bail!("--format {other}: use ndjson or csv"),
        }
    }
}

/// Runs `write` into `out` (a partial file renamed into place on success) or standard output.
fn into_output(
    out: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    let summary = match out {
        None => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = write(&mut stdout)?;
            match stdout.flush() {
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
            summary
        }
        Some(path) => {
            let partial = path.with_extension("partial");
            let file =
                std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            let summary = write(&mut writer);
            let flushed = writer.flush();
            match summary.and_then(|s| flushed.map(|()| s).map_err(Into::into)) {
                Ok(summary) => {
                    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
                    summary
                }
                Err(err) => {
                    let _ = std::fs::remove_file(&partial);
                    return Err(err);
                }
            }
        }
    };
    eprintln!("{summary}");
    Ok(())
}

/// Exports from the local data directory.
pub fn export(data: &Path, config: &ServeConfig, args: ExportArgs) -> anyhow::Result<()> {
    let (kind, format) = (args.kind()?, args.format()?);
    let engine = open(data, config)?;
    into_output(args.out.as_deref(), |out| {
        let mut failed: Option<std::io::Error> = None;
        let mut write = |bytes: &[u8]| match out.write_all(bytes) {
            Ok(()) => true,
            Err(err) => {
                failed = Some(err);
                false
            }
        };
        let report = engine.export(&local_actor(), &kind, format, &mut write)?;
        match failed {
            Some(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
            _ => Ok(format!("exported {} {}", report.rows, args.what)),
        }
    })
}

/// Exports through a server's API, streamed.
pub fn export_remote(remote: &Remote, args: ExportArgs) -> anyhow::Result<()> {
    args.kind()?;
    let mut path = format!("/v1/exports/{}?format={}", args.what, args.format()?.name());
    if let Some(campaign) = &args.campaign {
        path.push_str(&format!("&campaign={campaign}"));
    }
    into_output(args.out.as_deref(), |out| {
        let bytes = remote.download(&path, out)?;
        Ok(format!("exported {} ({bytes} bytes)", args.what))
    })
}
