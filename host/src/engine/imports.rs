//! Bulk profile imports: the customers a company already has (from a CRM, a warehouse, a former
//! tool), with their traits, consents, suppressions and time zones, in batches of one durable
//! write each. Consents an import states are recorded with the import as their source; traits
//! that carry consent (`email_opt_in`) are mapped as a source's would be.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, SourceFacts};
use crate::profile::{ConsentState, IngestOutcome, Suppression, SuppressionReason};

/// One customer of a bulk import, as an NDJSON line carries it (CSV rows are read into it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRow {
    /// The customer's user id.
    pub user_id: Option<String>,
    /// An anonymous id (a device) to join to it, or alone.
    pub anonymous_id: Option<String>,
    /// Traits, merged into the profile's attributes.
    #[serde(default)]
    pub traits: serde_json::Map<String, serde_json::Value>,
    /// Consent decisions by `channel:purpose`.
    #[serde(default)]
    pub consents: BTreeMap<String, ConsentState>,
    /// Suppressed channels and why.
    #[serde(default)]
    pub suppressions: BTreeMap<String, SuppressionReason>,
    /// The IANA time zone.
    pub timezone: Option<String>,
    /// The locale (`en-US`).
    pub locale: Option<String>,
}

impl ProfileRow {
    /// What is wrong with the row, said so it can be fixed.
    pub fn problem(&self) -> Option<String> {
        let present = |id: &Option<String>| id.as_deref().is_some_and(|id| !id.trim().is_empty());
        if !present(&self.user_id) && !present(&self.anonymous_id) {
            return Some("a profile row needs a user_id or an anonymous_id".into());
        }
        if let Some(key) =
            self.consents.keys().find(|k| k.split_once(':').is_none_or(|(c, p)| c.is_empty() || p.is_empty()))
        {
            return Some(format!("consent `{key}`: use channel:purpose, for example email:marketing"));
        }
        if let Some(tz) = self.timezone.as_deref().filter(|tz| jiff::tz::TimeZone::get(tz).is_err()) {
            return Some(format!("timezone `{tz}` is not an IANA time zone"));
        }
        None
    }
}

impl Engine {
    /// Imports profile rows in one durable write, a row refused where it stands (its reason
    /// kept) without failing the others; audited as one `profiles_imported` record of `actor`'s.
    pub fn import_profiles(
        &self,
        actor: &str,
        rows: Vec<Result<ProfileRow, String>>,
    ) -> Result<Vec<IngestOutcome>, EngineError> {
        let now = self.now();
        let rows: Vec<Result<ProfileRow, String>> =
            rows.into_iter().map(|row| row.and_then(|r| r.problem().map_or(Ok(r), Err))).collect();
        let valid: Vec<&ProfileRow> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
        let keys: Vec<_> =
            valid.iter().map(|r| (r.user_id.as_deref(), r.anonymous_id.as_deref(), &r.traits)).collect();
        let source = format!("import:{actor}");
        let (consent, limit) = (&self.consent, self.consent.history_limit);
        let ids = self.storage.identify_many(&keys, now, &|i, profile| {
            let row = valid[i];
            let facts = SourceFacts {
                timezone: row.timezone.clone(),
                locale: row.locale.clone(),
                ..SourceFacts::default()
            };
            consent.apply(profile, &row.traits, &facts, now);
            for (key, state) in &row.consents {
                profile.record_consent(key, *state, now, &source, limit);
            }
            for (channel, reason) in &row.suppressions {
                profile
                    .suppressions
                    .entry(channel.clone())
                    .or_insert(Suppression { reason: *reason, since: now });
            }
        })?;
        let mut ids = ids.into_iter();
        let outcomes: Vec<IngestOutcome> = rows
            .into_iter()
            .map(|row| match row {
                Ok(_) => {
                    ids.next().map_or(IngestOutcome::Duplicate, |profile| IngestOutcome::Stored { profile })
                }
                Err(reason) => IngestOutcome::Rejected { reason },
            })
            .collect();
        let stored = outcomes.iter().filter(|o| matches!(o, IngestOutcome::Stored { .. })).count();
        let detail = serde_json::json!({ "rows": outcomes.len(), "stored": stored, "rejected": outcomes.len() - stored });
        self.audit(actor, "profiles_imported", "profiles", detail)?;
        Ok(outcomes)
    }
}
