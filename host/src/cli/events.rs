//! `baton events`: import events from NDJSON or CSV and export them, locally or through a
//! server. An import runs the same ingest as `POST /v1/events` on either side: events are stored
//! durably, then the triggers they match are queued, so a triggered campaign answers an imported
//! event as it answers a live one.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};
use baton::{NewEvent, ServeConfig};
use clap::Subcommand;

use super::{ExportArgs, open};
use crate::remote::{Body, Remote};

/// Event commands.
#[derive(Subcommand)]
pub enum EventsCommand {
    /// Import events from NDJSON or CSV, with a progress bar and a summary.
    Import {
        /// The file (`-` for standard input).
        file: String,
        /// ndjson or csv (default: from the file name; ndjson for standard input).
        #[arg(long)]
        format: Option<String>,
        /// Events per durable batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Let the imported events trigger campaigns and computed traits, as live events do.
        /// Off by default: importing history must not send a year of welcome emails. (Run
        /// `baton trait recompute NAME` afterwards to bring computed traits up to date.)
        #[arg(long)]
        fire_triggers: bool,
        /// Write every rejected row (its number and why) to this file, one JSON object per line.
        #[arg(long)]
        errors: Option<std::path::PathBuf>,
    },
    /// Export every event (the same as `baton export events`).
    Export {
        /// ndjson or csv.
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// The output file (default: standard output).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

/// Runs an events command on the local data directory.
pub fn events(data: &Path, config: &ServeConfig, command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Import { file, format, batch, fire_triggers, errors } => {
            let engine = open(data, config)?;
            let now = engine.now_ms();
            let options = ImportOptions {
                file: &file,
                format: format.as_deref(),
                batch_size: batch.max(1),
                errors: errors.as_deref(),
            };
            import(&options, &mut |events: &[NewEvent], tally: &mut Tally| {
                if !fire_triggers {
                    for outcome in engine.ingest_history(events, now)? {
                        tally.record(&outcome);
                    }
                    return Ok(());
                }
                for outcome in engine.ingest_live(events, now)? {
                    tally.record(&outcome);
                }
                // What the server does soon after each request, done before the next batch.
                Ok(engine.drain_triggers()?)
            })
        }
        EventsCommand::Export { format, out } => {
            super::export(data, config, ExportArgs { what: "events".into(), campaign: None, format, out })
        }
    }
}

/// Counts of an import, and where every rejection goes.
#[derive(Default)]
pub struct Tally {
    stored: u64,
    duplicates: u64,
    rejected: u64,
    /// The first few rejections, printed in the summary.
    reasons: Vec<String>,
    /// Every rejection, when the import writes them to a file.
    errors: Option<std::io::BufWriter<std::fs::File>>,
    /// The first failure writing that file.
    errors_failed: Option<std::io::Error>,
}

impl Tally {
    pub(super) fn record(&mut self, outcome: &baton::IngestOutcome) {
        match outcome {
            baton::IngestOutcome::Stored { .. } => self.stored += 1,
            baton::IngestOutcome::Duplicate => self.duplicates += 1,
            baton::IngestOutcome::Rejected { reason } => self.reject(reason.clone()),
        }
    }

    /// Counts a server's per-row answer to an imported batch (`{"results": [{"status", "reason"}]}`).
    pub(super) fn record_answer(&mut self, answer: &serde_json::Value) {
        for result in answer["results"].as_array().into_iter().flatten() {
            match result["status"].as_str() {
                Some("stored") => self.stored += 1,
                Some("duplicate") => self.duplicates += 1,
                _ => self.reject(result["reason"].as_str().unwrap_or("rejected").to_owned()),
            }
        }
    }

    pub(super) fn reject(&mut self, reason: String) {
        use std::io::Write as _;
        self.rejected += 1;
        if let Some(errors) = &mut self.errors {
            let line = serde_json::json!({ "rejected": self.rejected, "reason": reason });
            if let Err(err) = writeln!(errors, "{line}") {
                self.errors_failed.get_or_insert(err);
            }
        }
        if self.reasons.len() < 10 {
            self.reasons.push(reason);
        }
    }
}

/// Where imported batches go: the store directly, or a server.
pub(super) type Sink<'a, T> = dyn FnMut(&[T], &mut Tally) -> anyhow::Result<()> + 'a;

/// One row of an import file: the bytes it took (for progress) and what it reads as.
pub(super) type Row<T> = (u64, Result<T, String>);

/// Reads the rows of an NDJSON or CSV file as `T`.
pub(super) trait RowReader: Sized {
    /// One NDJSON line.
    fn from_json(line: &str) -> Result<Self, String>;
    /// The CSV columns a file must have.
    const REQUIRED_COLUMNS: &'static [&'static str];
    /// One CSV row, by its header.
    fn from_csv(headers: &csv::StringRecord, record: &csv::StringRecord) -> Result<Self, String>;
}

impl RowReader for NewEvent {
    const REQUIRED_COLUMNS: &'static [&'static str] = &["id", "name", "timestamp"];

    fn from_json(line: &str) -> Result<Self, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }

    fn from_csv(headers: &csv::StringRecord, record: &csv::StringRecord) -> Result<Self, String> {
        csv_event(headers, record)
    }
}

/// How an import reads its file and reports.
pub struct ImportOptions<'a> {
    /// The file, `-` for standard input.
    pub file: &'a str,
    /// `ndjson` or `csv`, else from the file name.
    pub format: Option<&'a str>,
    /// Events per durable batch.
    pub batch_size: usize,
    /// Where to write every rejection.
    pub errors: Option<&'a Path>,
}

pub(super) fn import<T: RowReader + 'static>(
    options: &ImportOptions<'_>,
    sink: &mut Sink<'_, T>,
) -> anyhow::Result<()> {
    let ImportOptions { file, format, batch_size, errors } = *options;
    let csv = match format {
        Some("csv") => true,
        Some("ndjson") | Some("jsonl") => false,
        Some(other) => bail!("format `{other}`: use ndjson or csv"),
        None => file.ends_with(".csv"),
    };
    let (reader, size): (Box<dyn BufRead>, u64) = if file == "-" {
        (Box::new(std::io::BufReader::new(std::io::stdin())), 0)
    } else {
        let handle = std::fs::File::open(file).with_context(|| format!("opening {file}"))?;
        let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(std::io::BufReader::new(handle)), size)
    };
    let progress =
        if size > 0 { indicatif::ProgressBar::new(size) } else { indicatif::ProgressBar::new_spinner() };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut tally = Tally::default();
    if let Some(path) = errors {
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        tally.errors = Some(std::io::BufWriter::new(file));
    }
    let mut batch = Vec::with_capacity(batch_size);
    let mut flush = |batch: &mut Vec<T>, tally: &mut Tally| -> anyhow::Result<()> {
        sink(batch, tally)?;
        batch.clear();
        Ok(())
    };
    let mut rows = rows::<T>(reader, csv)?;
    let mut row_number = 0usize;
    while let Some(row) = rows.next() {
        row_number += 1;
        let (bytes, parsed) = row;
        progress.inc(bytes);
        match parsed {
            Ok(row) => batch.push(row),
            Err(reason) => tally.reject(format!("row {row_number}: {reason}")),
        }
        if batch.len() == batch_size {
            flush(&mut batch, &mut tally)?;
            progress.set_message(format!(
                "stored {} duplicate {} rejected {}",
                tally.stored, tally.duplicates, tally.rejected
            ));
        }
    }
    flush(&mut batch, &mut tally)?;
    progress.finish_and_clear();
    println!(
        "imported {row_number} rows: {} stored, {} duplicate, {} rejected",
        tally.stored, tally.duplicates, tally.rejected
    );
    for reason in &tally.reasons {
        println!("  rejected {reason}");
    }
    if let Some(mut file) = tally.errors.take() {
        use std::io::Write as _;
        if let Some(err) = tally.errors_failed.take().or_else(|| file.flush().err()) {
            bail!(
                "writing the rejected rows to {}: {err}",
                errors.map(|p| p.display().to_string()).unwrap_or_default()
            );
        }
        if tally.rejected > 0 {
            println!(
                "  every rejected row is in {}",
                errors.map(|p| p.display().to_string()).unwrap_or_default()
            );
        }
    } else if tally.rejected > tally.reasons.len() as u64 {
        println!(
            "  ... and {} more (--errors FILE keeps them all)",
            tally.rejected - tally.reasons.len() as u64
        );
    }
    Ok(())
}

/// Rows of an NDJSON or CSV file as `T`, with the bytes each took (for progress).
fn rows<T: RowReader + 'static>(
    reader: Box<dyn BufRead>,
    csv: bool,
) -> anyhow::Result<Box<dyn Iterator<Item = Row<T>>>> {
    if !csv {
        return Ok(Box::new(reader.lines().filter_map(|line| match line {
            Ok(line) if line.trim().is_empty() => None,
            Ok(line) => Some((line.len() as u64 + 1, T::from_json(&line))),
            Err(e) => Some((0, Err(e.to_string()))),
        })));
    }
    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let headers = csv.headers().context("reading the CSV header row")?.clone();
    for required in T::REQUIRED_COLUMNS {
        if !headers.iter().any(|h| h == *required) {
            bail!(
                "the CSV header needs a `{required}` column (have: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(Box::new(csv.into_records().map(move |record| match record {
        Ok(record) => {
            let bytes = record.as_slice().len() as u64 + record.len() as u64;
            (bytes, T::from_csv(&headers, &record))
        }
        Err(e) => (0, Err(e.to_string())),
    })))
}

/// A CSV row as an event: known columns, and every other column as a text property.
fn csv_event(headers: &csv::StringRecord, record: &csv::StringRecord) -> Result<NewEvent, String> {
    let mut event = NewEvent {
        id: String::new(),
        user_id: None,
        anonymous_id: None,
        name: String::new(),
        timestamp: 0,
        properties: serde_json::Map::new(),
        campaign: None,
    };
    for (header, value) in headers.iter().zip(record.iter()) {
        let present = (!value.is_empty()).then(|| value.to_owned());
        match header {
            "id" => event.id = value.to_owned(),
            "user_id" => event.user_id = present,
            "anonymous_id" => event.anonymous_id = present,
            "name" => event.name = value.to_owned(),
            "campaign" => event.campaign = present,
            "timestamp" => {
                event.timestamp = match value.parse::<i64>() {
                    Ok(ms) => ms,
                    Err(_) => value
                        .parse::<jiff::Timestamp>()
                        .map_err(|_| {
                            format!("timestamp `{value}` is neither ms since the epoch nor ISO 8601")
                        })?
                        .as_millisecond(),
                }
            }
            other => {
                event.properties.insert(other.to_owned(), value.into());
            }
        }
    }
    Ok(event)
}

/// Runs an events command through a server's API.
pub fn events_remote(remote: &Remote, command: EventsCommand) -> anyhow::Result<()> {
    match command {
        EventsCommand::Import { file, format, batch, fire_triggers, errors } => {
            let options = ImportOptions {
                file: &file,
                format: format.as_deref(),
                batch_size: batch.max(1),
                errors: errors.as_deref(),
            };
            let path = format!("/v1/events?triggers={fire_triggers}");
            import(&options, &mut |events: &[NewEvent], tally: &mut Tally| {
                let mut body = Vec::new();
                for event in events {
                    serde_json::to_writer(&mut body, event)?;
                    body.push(b'\n');
                }
                let answer = remote.call(
                    reqwest::Method::POST,
                    &path,
                    Some(Body::Bytes(body, "application/x-ndjson")),
                )?;
                tally.record_answer(answer.value());
                Ok(())
            })
        }
        EventsCommand::Export { format, out } => {
            super::export_remote(remote, ExportArgs { what: "events".into(), campaign: None, format, out })
        }
    }
}
