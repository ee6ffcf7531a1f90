//! `baton import profiles|events FILE`: the customers and history a company already has, from
//! NDJSON or CSV, locally or through a server, with a progress bar, a summary, and every rejected
//! row kept with `--errors FILE`.
//!
//! A profile row in NDJSON is `{"user_id", "anonymous_id", "traits", "consents", "suppressions",
//! "timezone", "locale"}`. In CSV, the columns `user_id`, `anonymous_id`, `timezone` and
//! `locale` are those; `consent:CHANNEL:PURPOSE` holds `granted` or `denied`;
//! `suppress:CHANNEL` holds a reason (`unsubscribed`, `bounced`, `complained`, `manual`); every
//! other column is a trait, read as a number or `true`/`false` when it is one, else as text. An
//! empty cell sets nothing.

use std::path::{Path, PathBuf};

use anyhow::bail;
use baton::{ProfileRow, ServeConfig};
use clap::Args;

use super::events::{ImportOptions, RowReader, Tally, import};
use super::{local_actor, open};
use crate::remote::{Body, Remote};

/// What to import, from where, and how.
#[derive(Args)]
pub struct ImportArgs {
    /// profiles or events.
    pub what: String,
    /// The file (`-` for standard input).
    pub file: String,
    /// ndjson or csv (default: from the file name; ndjson for standard input).
    #[arg(long)]
    pub format: Option<String>,
    /// Rows per durable batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// For events: let them trigger campaigns and computed traits, as live events do.
    #[arg(long)]
    pub fire_triggers: bool,
    /// Write every rejected row (its number and why) to this file, one JSON object per line.
    #[arg(long)]
    pub errors: Option<PathBuf>,
}

impl RowReader for ProfileRow {
    const REQUIRED_COLUMNS: &'static [&'static str] = &[];

    fn from_json(line: &str) -> Result<Self, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }

    fn from_csv(headers: &csv::StringRecord, record: &csv::StringRecord) -> Result<Self, String> {
        let mut row = ProfileRow::default();
        for (header, value) in headers.iter().zip(record.iter()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let text = || Some(value.to_owned());
            match header {
                "user_id" => row.user_id = text(),
                "anonymous_id" => row.anonymous_id = text(),
                "timezone" => row.timezone = text(),
                "locale" => row.locale = text(),
                other => {
                    if let Some(key) = other.strip_prefix("consent:") {
                        row.consents.insert(key.to_owned(), word(header, value, "granted or denied")?);
                    } else if let Some(channel) = other.strip_prefix("suppress:") {
                        row.suppressions.insert(
                            channel.to_owned(),
                            word(header, value, "unsubscribed, bounced, complained or manual")?,
                        );
                    } else {
                        row.traits.insert(other.to_owned(), typed(value));
                    }
                }
            }
        }
        Ok(row)
    }
}

/// A CSV cell read as one of a few words (`granted`, `manual`), or why not.
fn word<T: serde::de::DeserializeOwned>(header: &str, value: &str, what: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("column `{header}`: `{value}` is not {what}"))
}

/// A CSV cell as a trait: a number or a boolean when it reads as one, else text.
fn typed(value: &str) -> serde_json::Value {
    match value {
        "true" => return true.into(),
        "false" => return false.into(),
        _ => {}
    }
    if let Ok(n) = value.parse::<i64>() {
        return n.into();
    }
    match value.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(n) if value.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) => {
            serde_json::Value::Number(n)
        }
        _ => value.into(),
    }
}

impl ImportArgs {
    fn options(&self) -> ImportOptions<'_> {
        ImportOptions {
            file: &self.file,
            format: self.format.as_deref(),
            batch_size: self.batch.max(1),
            errors: self.errors.as_deref(),
        }
    }

    /// `baton import events ...` as the `baton events import ...` it is.
    fn into_events(self) -> super::EventsCommand {
        super::EventsCommand::Import {
            file: self.file,
            format: self.format,
            batch: self.batch,
            fire_triggers: self.fire_triggers,
            errors: self.errors,
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        match (self.what.as_str(), self.fire_triggers) {
            ("events", _) | ("profiles", false) => Ok(()),
            ("profiles", true) => bail!("--fire-triggers is for events; a profile import triggers nothing"),
            (other, _) => bail!("import `{other}`: use profiles or events"),
        }
    }
}

/// Imports into the local data directory.
pub fn import_local(data: &Path, config: &ServeConfig, args: ImportArgs) -> anyhow::Result<()> {
    args.check()?;
    if args.what == "events" {
        return super::events(data, config, args.into_events());
    }
    let engine = open(data, config)?;
    let actor = local_actor();
    import::<ProfileRow>(&args.options(), &mut |rows, tally: &mut Tally| {
        for outcome in engine.import_profiles(&actor, rows.iter().cloned().map(Ok).collect())? {
            tally.record(&outcome);
        }
        Ok(())
    })
}

/// Imports through a server's API.
pub fn import_remote(remote: &Remote, args: ImportArgs) -> anyhow::Result<()> {
    args.check()?;
    if args.what == "events" {
        return super::events_remote(remote, args.into_events());
    }
    import::<ProfileRow>(&args.options(), &mut |rows, tally: &mut Tally| {
        let mut body = Vec::new();
        for row in rows {
            serde_json::to_writer(&mut body, row)?;
            body.push(b'\n');
        }
        let answer = remote.call(
            reqwest::Method::POST,
            "/v1/imports/profiles",
            Some(Body::Bytes(body, "application/x-ndjson")),
        )?;
        tally.record_answer(answer.value());
        Ok(())
    })
}
