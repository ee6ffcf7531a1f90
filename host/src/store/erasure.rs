//! Data-protection duties: erasure and export of one customer's data, and retention purges.
//! Each is audited in the same atomic commit as the change it records.

use serde::Serialize;

use serde::de::DeserializeOwned;

use super::audit::AuditRecord;
use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, keys};
use crate::delivery::{DeliveryRecord, PendingSend, SkipRecord};
use crate::profile::{Event, Profile, ProfileId};

/// Everything Baton holds about one customer (right of access / portability).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ProfileExport {
    /// The profile: identities, attributes, consents.
    pub profile: Profile,
    /// Its events, oldest first.
    pub events: Vec<Event>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Erasure {
    /// Identities unlinked.
    pub identities: usize,
    /// Events deleted.
    pub events: usize,
    /// Pending sends, dead letters and delivery records deleted.
    pub sends: usize,
    /// Skip records deleted.
    pub skips: usize,
}

/// A record that belongs to one profile and may hold an idempotency key.
trait OfProfile: DeserializeOwned {
    fn profile(&self) -> ProfileId;
    fn send_key(&self) -> Option<&str>;
    /// The vendor's message id, indexed in `Receipts`.
    fn receipt(&self) -> Option<&str> {
        None
    }
}

impl OfProfile for PendingSend {
    fn profile(&self) -> ProfileId {
        self.profile
    }
    fn send_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }
}

impl OfProfile for DeliveryRecord {
    fn profile(&self) -> ProfileId {
        self.profile
    }
    fn send_key(&self) -> Option<&str> {
        Some(&self.idempotency_key)
    }
    fn receipt(&self) -> Option<&str> {
        match &self.outcome {
            crate::delivery::SendOutcome::Delivered { receipt } => receipt.as_deref(),
            _ => None,
        }
    }
}

impl OfProfile for SkipRecord {
    fn profile(&self) -> ProfileId {
        self.profile
    }
    fn send_key(&self) -> Option<&str> {
        None
    }
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
            let _writer = self.lock_writer()?;
            // Claims move due sends (always later in the outbox) and finishes remove them without
            // the writer lock, so the scan below may meet a send twice or one already gone: the
            // plan commits only if every outbox row it removes is still there, and otherwise is
            // made again. (Retries, which may move a send earlier, wait for the writer lock.)
            loop {
                let Some(profile) = self.profile(id)? else {
                    return Ok(None);
                };
                let mut writes = WriteSet::new(self);
                for identity in &profile.identities {
                    writes.remove(TreeId::Identities, identity.key());
                }
                let mut merged_ids = vec![keys::profile(profile.id).to_vec()];
                for entry in self.tree(TreeId::ProfileAliases).iter() {
                    let (from, to) = entry?;
                    if keys::profile_from(&to) == Some(profile.id) {
                        merged_ids.push(from.to_vec());
                        writes.remove(TreeId::ProfileAliases, from.to_vec());
                    }
                }
                // Every email this profile (or one merged into it) ever had: the index is personal
                // data too.
                for entry in self.tree(TreeId::Emails).iter() {
                    let (key, _) = entry?;
                    if merged_ids.iter().any(|id| {
                        key.len() > id.len() && key.ends_with(id) && key[key.len() - id.len() - 1] == 0
                    }) {
                        writes.remove(TreeId::Emails, key.to_vec());
                    }
                }
                writes.remove(TreeId::Profiles, keys::profile(profile.id).to_vec());
                self.forget_in_segments(&mut writes, profile.id)?;
                self.forget_in_journeys(&mut writes, profile.id, None)?;
                let mut events = 0;
                for entry in self.tree(TreeId::Events).scan_prefix(keys::profile(profile.id)) {
                    let (key, raw) = entry?;
                    plan_event_removal(&mut writes, &key, &decode(&raw, "event")?);
                    events += 1;
                }
                let sends =
                    self.plan_profile_removal::<PendingSend>(&mut writes, TreeId::Outbox, profile.id)?
                        + self.plan_profile_removal::<PendingSend>(
                            &mut writes,
                            TreeId::DeadLetters,
                            profile.id,
                        )?
                        + self.plan_profile_removal::<DeliveryRecord>(
                            &mut writes,
                            TreeId::Deliveries,
                            profile.id,
                        )?;
                let skips =
                    self.plan_profile_removal::<SkipRecord>(&mut writes, TreeId::Skips, profile.id)?;
                for entry in self.tree(TreeId::ProfileSends).scan_prefix(keys::profile(profile.id)) {
                    writes.remove(TreeId::ProfileSends, entry?.0.to_vec());
                }
                let erasure = Erasure { identities: profile.identities.len(), events, sends, skips };
                // The audit record names the internal id only: no personal data survives erasure.
                self.plan_audit(
                    &mut writes,
                    &AuditRecord {
                        at: now,
                        actor: actor.to_owned(),
                        action: "profile_erased".into(),
                        target: profile.id.to_string(),
                        detail: serde_json::to_value(erasure).unwrap_or_default(),
                    },
                )?;
                if writes.commit_if_present()? {
                    break erasure;
                }
            }
        };
        self.backend.durable()?;
        Ok(Some(erased))
    }

    /// Deletes every event older than `cutoff` (ms since the epoch) and audits the purge.
    /// Returns how many were deleted.
    ///
    /// Where the store keeps events by the month (PostgreSQL), the months wholly before the
    /// cutoff are dropped at once, their profiles marked for the segments that read events; the
    /// rest go one by one.
    pub fn purge_events_before(&self, cutoff: i64, actor: &str, now: i64) -> Result<usize, StorageError> {
        let cutoff_key = keys::time(cutoff);
        let mut mark_going = |profiles: &[i64]| {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let change = crate::segment::ProfileChange { every_event: true, ..Default::default() };
            for profile in profiles {
                self.mark_changed(&mut writes, ProfileId(*profile as u64), &change)?;
            }
            writes.commit()
        };
        let mut purged = self.backend.drop_event_months(cutoff, &mut mark_going)?.unwrap_or(0);
        let mut resume: Vec<u8> = Vec::new();
        loop {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let mut chunk = 0;
            for entry in self.tree(TreeId::Events).range(resume.clone()..) {
                let (key, raw) = entry?;
                resume = key.to_vec();
                // The time sits in bytes 8..16 of the key: no decoding for events that stay.
                if key.get(8..16).is_some_and(|t| t < &cutoff_key[..]) {
                    let event: crate::profile::Event = decode(&raw, "event")?;
                    plan_event_removal(&mut writes, &key, &event);
                    // "Ordered before" can stop holding when the order is purged.
                    let mut change = crate::segment::ProfileChange::default();
                    change.add_event(&event.name);
                    self.mark_changed(&mut writes, event.profile, &change)?;
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

impl Storage {
    /// Plans removing every record of `tree` that belongs to `profile` (and its idempotency key).
    /// A full scan: erasure is rare, and these trees are keyed for the campaign-side reads.
    fn plan_profile_removal<T: OfProfile>(
        &self,
        writes: &mut WriteSet<'_>,
        tree: TreeId,
        profile: ProfileId,
    ) -> Result<usize, StorageError> {
        let mut removed = 0;
        for entry in self.tree(tree).iter() {
            let (key, raw) = entry?;
            let record: T = decode(&raw, "record")?;
            if record.profile() == profile {
                if tree == TreeId::Outbox {
                    writes.require(tree, key.to_vec());
                }
                writes.remove(tree, key.to_vec());
                if let Some(send_key) = record.send_key() {
                    writes.remove(TreeId::SendKeys, send_key.as_bytes().to_vec());
                }
                if let Some(receipt) = record.receipt() {
                    writes.remove(TreeId::Receipts, receipt.as_bytes().to_vec());
                }
                removed += 1;
            }
        }
        Ok(removed)
    }
}

fn plan_event_removal(writes: &mut WriteSet<'_>, key: &[u8], event: &Event) {
    writes.remove(TreeId::Events, key.to_vec());
    writes.remove(TreeId::EventIds, event.id.as_bytes().to_vec());
    if let Some(campaign) = &event.campaign {
        writes.remove(TreeId::CampaignEvents, keys::campaign_event(campaign, key));
    }
}
