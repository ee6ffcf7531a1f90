//! Bulk exports for analysts: every event, every profile, or a campaign's deliveries, as NDJSON
//! or CSV, streamed row by row from the store while the server keeps serving. A writer that
//! stops (a client that hangs up) ends the export; every export is audited with what it carried.

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError};
use crate::profile::{Identity, Profile};

/// What to export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "what", content = "campaign")]
pub enum ExportKind {
    /// Every stored event.
    Events,
    /// Every profile.
    Profiles,
    /// One campaign's finished sends.
    Deliveries(String),
}

impl ExportKind {
    /// `events`, `profiles` or `deliveries`.
    pub fn name(&self) -> &'static str {
        match self {
            ExportKind::Events => "events",
            ExportKind::Profiles => "profiles",
            ExportKind::Deliveries(_) => "deliveries",
        }
    }

    /// The CSV columns, in order (a stable header analysts' scripts can rely on).
    fn columns(&self) -> &'static [&'static str] {
        match self {
            ExportKind::Events => &["id", "profile", "name", "timestamp", "campaign", "properties"],
            ExportKind::Profiles => &[
                "id",
                "user_ids",
                "anonymous_ids",
                "email",
                "timezone",
                "locale",
                "created_at",
                "updated_at",
                "attributes",
                "computed",
                "consents",
                "suppressions",
            ],
            ExportKind::Deliveries(_) => {
                &["idempotency_key", "campaign", "profile", "variant", "outcome", "attempts", "at"]
            }
        }
    }
}

/// How rows are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// One JSON object per line, as stored.
    #[default]
    Ndjson,
    /// A header line, then one row per record; nested values as JSON text.
    Csv,
}

impl ExportFormat {
    /// The format as the API and the CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
        }
    }
}

/// What an export carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ExportReport {
    /// Rows written.
    pub rows: u64,
    /// Whether every row was written (false when the reader stopped early).
    pub complete: bool,
}

/// A profile as a CSV row: its ids and email as columns of their own.
fn profile_row(profile: &Profile) -> serde_json::Value {
    let ids = |anonymous: bool| -> String {
        let ids = profile.identities.iter().filter_map(|identity| match (identity, anonymous) {
            (Identity::User(id), false) | (Identity::Anonymous(id), true) => Some(id.as_str()),
            _ => None,
        });
        ids.collect::<Vec<_>>().join(" ")
    };
    serde_json::json!({
        "id": profile.id,
        "user_ids": ids(false),
        "anonymous_ids": ids(true),
        "email": profile.attributes.get("email"),
        "timezone": profile.timezone,
        "locale": profile.locale,
        "attributes": profile.attributes,
        "computed": profile.computed,
        "consents": profile.consents,
        "suppressions": profile.suppressions,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    })
}

/// Writes records to `write` in `format`, a header of `columns` first for CSV. Stops when
/// `write` returns false.
struct Rows<'w> {
    format: ExportFormat,
    columns: &'static [&'static str],
    header_written: bool,
    write: &'w mut dyn FnMut(&[u8]) -> bool,
    rows: u64,
}

impl Rows<'_> {
    /// Writes one record; false when the reader stopped.
    fn push(&mut self, record: &serde_json::Value) -> bool {
        let mut line = Vec::with_capacity(256);
        match self.format {
            ExportFormat::Ndjson => {
                if serde_json::to_writer(&mut line, record).is_err() {
                    return true;
                }
                line.push(b'\n');
            }
            ExportFormat::Csv => {
                let Some(object) = record.as_object() else { return true };
                let mut csv = csv::Writer::from_writer(&mut line);
                if !self.header_written {
                    if csv.write_record(self.columns).is_err() {
                        return true;
                    }
                    self.header_written = true;
                }
                let cells = self.columns.iter().map(|key| match object.get(*key) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                });
                if csv.write_record(cells).is_err() || csv.flush().is_err() {
                    return true;
                }
                drop(csv);
            }
        }
        self.rows += 1;
        (self.write)(&line)
    }
}

impl Engine {
    /// Streams `what` as `format` into `write` (which returns false to stop), then audits the
    /// export as `actor`'s. An unknown campaign is refused before anything is written.
    pub fn export(
        &self,
        actor: &str,
        what: &ExportKind,
        format: ExportFormat,
        write: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<ExportReport, EngineError> {
        if let ExportKind::Deliveries(campaign) = what {
            self.campaign(campaign)?;
        }
        let mut rows = Rows { format, columns: what.columns(), header_written: false, write, rows: 0 };
        let complete = match what {
            ExportKind::Events => {
                let mut complete = true;
                for event in self.storage.scan_events() {
                    if !rows.push(&serde_json::to_value(event?).unwrap_or_default()) {
                        complete = false;
                        break;
                    }
                }
                complete
            }
            ExportKind::Profiles => {
                let mut complete = true;
                for profile in self.storage.scan_profiles() {
                    let profile = profile?;
                    let record = match format {
                        ExportFormat::Ndjson => serde_json::to_value(&profile).unwrap_or_default(),
                        ExportFormat::Csv => profile_row(&profile),
                    };
                    if !rows.push(&record) {
                        complete = false;
                        break;
                    }
                }
                complete
            }
            ExportKind::Deliveries(campaign) => self
                .storage
                .deliveries(campaign)?
                .iter()
                .all(|delivery| rows.push(&serde_json::to_value(delivery).unwrap_or_default())),
        };
        let report = ExportReport { rows: rows.rows, complete };
        let mut detail = serde_json::json!({ "what": what.name(), "format": format, "rows": report.rows, "complete": complete });
        if let ExportKind::Deliveries(campaign) = what {
            detail["campaign"] = campaign.clone().into();
        }
        self.audit(actor, "data_exported", what.name(), detail)?;
        Ok(report)
    }
}
