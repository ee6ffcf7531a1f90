//! Data-protection duties: erasure and export of one customer's data, and retention purges.
//! Each is audited in the same atomic commit as the change it records.

use serde::Serialize;

use super::audit::AuditRecord;
use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, keys};
use crate::profile::{Event, Profile, ProfileId};

/// Everything Baton holds about one customer (right of access / portability).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileExport {
    /// The profile: identities, attributes, consents.
    pub profile: Profile,
    /// Its events, oldest first.
    pub events: Vec<Event>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Erasure {
    /// Identities unlinked.
    pub identities: usize,
    /// Events deleted.
    pub events: usize,
}

/// Events removed per commit during a retention purge: bounds memory, keeps each step atomic.
const PURGE_CHUNK: usize = 10_000;

impl Storage {
    /// Exports a profile and its events, and audits the export. `None` if there is no such profile.
    pub fn export_profile(
        &self,
        id: ProfileId,
        actor: &str,
        now: i64,
    ) -> Result<Option<ProfileExport>, StorageError> {
        let Some(profile) = self.profile(id)? else {
            return Ok(None);
        };
        let events = self.events_of(profile.id)?;
        self.audit(&AuditRecord {
            at: now,
            actor: actor.to_owned(),
            action: "profile_exported".into(),
            target: profile.id.to_string(),
            detail: serde_json::json!({ "events": events.len() }),
        })?;
        Ok(Some(ProfileExport { profile, events }))
    }

    /// Erases a profile (right to erasure): its attributes, identities, aliases and events, in one
    /// atomic, durable, audited commit. `None` if there is no such profile.
    pub fn erase_profile(
        &self,
        id: ProfileId,
        actor: &str,
        now: i64,
    ) -> Result<Option<Erasure>, StorageError> {
        let erased = {
            let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let Some(profile) = self.profile(id)? else {
                return Ok(None);
            };
            let mut writes = WriteSet::new(self);
            for identity in &profile.identities {
                writes.remove(TreeId::Identities, identity.key());
            }
            for entry in self.tree(TreeId::ProfileAliases).iter() {
                let (from, to) = entry?;
                if keys::profile_from(&to) == Some(profile.id) {
                    writes.remove(TreeId::ProfileAliases, from.to_vec());
                }
            }
            writes.remove(TreeId::Profiles, keys::profile(profile.id).to_vec());
            let mut events = 0;
            for entry in self
                .tree(TreeId::Events)
                .scan_prefix(keys::profile(profile.id))
            {
                let (key, raw) = entry?;
                plan_event_removal(&mut writes, &key, &decode(&raw, "event")?);
                events += 1;
            }
            let erasure = Erasure {
                identities: profile.identities.len(),
                events,
            };
            // The audit record names the internal id only: no personal data survives erasure.
            self.plan_audit(
                &mut writes,
                &AuditRecord {
                    at: now,
                    actor: actor.to_owned(),
                    action: "profile_erased".into(),
                    target: profile.id.to_string(),
                    detail: serde_json::json!({ "identities": erasure.identities, "events": erasure.events }),
                },
            )?;
            writes.commit()?;
            erasure
        };
        self.commit.wait_durable()?;
        Ok(Some(erased))
    }

    /// Deletes every event older than `cutoff` (ms since the epoch) and audits the purge.
    /// Returns how many were deleted.
    pub fn purge_events_before(
        &self,
        cutoff: i64,
        actor: &str,
        now: i64,
    ) -> Result<usize, StorageError> {
        let cutoff_key = keys::time(cutoff);
        let mut purged = 0;
        let mut resume: Vec<u8> = Vec::new();
        loop {
            let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let mut writes = WriteSet::new(self);
            let mut chunk = 0;
            for entry in self.tree(TreeId::Events).range(resume.clone()..) {
                let (key, raw) = entry?;
                resume = key.to_vec();
                // The time sits in bytes 8..16 of the key: no decoding for events that stay.
                if key.get(8..16).is_some_and(|t| t < &cutoff_key[..]) {
                    plan_event_removal(&mut writes, &key, &decode(&raw, "event")?);
                    chunk += 1;
                    if chunk == PURGE_CHUNK {
                        break;
                    }
                }
            }
            writes.commit()?;
            purged += chunk;
            if chunk < PURGE_CHUNK {
                break;
            }
        }
        self.audit(&AuditRecord {
            at: now,
            actor: actor.to_owned(),
            action: "events_purged".into(),
            target: "events".into(),
            detail: serde_json::json!({ "before": cutoff, "events": purged }),
        })?;
        Ok(purged)
    }
}

fn plan_event_removal(writes: &mut WriteSet<'_>, key: &[u8], event: &Event) {
    writes.remove(TreeId::Events, key.to_vec());
    writes.remove(TreeId::EventIds, event.id.as_bytes().to_vec());
    if let Some(campaign) = &event.campaign {
        writes.remove(TreeId::CampaignEvents, keys::campaign_event(campaign, key));
    }
}
