//! Profiles, identities and events: idempotent, atomic, durable ingest with identity stitching.
//!
//! A batch is planned in a [`WriteSet`] under the writer lock (idempotency checks and identity
//! resolution see earlier batches and the batch's own earlier events), committed atomically, and
//! acknowledged only after a group-commit flush covers it.

use std::collections::BTreeMap;

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, decode_borrowed, encode, keys};
use crate::profile::{Event, Identity, IngestOutcome, NewEvent, Profile, ProfileId};
use crate::segment::ProfileChange;

/// Stitching chains longer than this are a corrupt store, not a real history.
const MAX_ALIAS_DEPTH: usize = 64;

impl Storage {
    /// Stores a batch of events. Returns one outcome per event, in order: stored (on which
    /// profile), duplicate (same id already stored), or rejected (with the reason). When this
    /// returns, every stored event is on disk; after a crash, a batch is all there or not at all.
    pub fn ingest(&self, events: &[NewEvent], now: i64) -> Result<Vec<IngestOutcome>, StorageError> {
        self.ingest_events(events, now, &|_| false)
    }

    /// Like [`Storage::ingest`], and also queues each stored event for the triggered campaigns in
    /// the same atomic write: a trigger acknowledged with its event survives a crash. Live
    /// sources use this; imports of history use `ingest`, which triggers nothing.
    pub fn ingest_and_queue_triggers(
        &self,
        events: &[NewEvent],
        now: i64,
    ) -> Result<Vec<IngestOutcome>, StorageError> {
        self.ingest_events(events, now, &|_| true)
    }

    /// Like [`Storage::ingest_and_queue_triggers`], queueing only the events whose name
    /// `wanted` accepts: the rest have nothing to trigger, and queueing them would only make
    /// the events that do wait behind them.
    pub fn ingest_and_queue_triggers_for(
        &self,
        events: &[NewEvent],
        now: i64,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<IngestOutcome>, StorageError> {
        self.ingest_events(events, now, wanted)
    }

    /// Up to `limit` queued triggers, oldest first: their tickets and events.
    pub fn pending_triggers(&self, limit: usize) -> Result<Vec<(u64, Event)>, StorageError> {
        let events = self.tree(TreeId::Events);
        let mut out = Vec::new();
        let mut stale = Vec::new();
        for entry in self.tree(TreeId::Triggers).iter() {
            if out.len() == limit {
                break;
            }
            let (ticket, event_key) = entry?;
            let ticket = u64::from_be_bytes(
                ticket.as_ref().try_into().map_err(|_| corrupt("trigger", "ticket is not 8 bytes"))?,
            );
            match events.get(&event_key)? {
                Some(raw) => out.push((ticket, decode(&raw, "event")?)),
                // Erased (or purged) since it was queued: nothing to trigger.
                None => stale.push(ticket),
            }
        }
        if !stale.is_empty() {
            self.clear_triggers(&stale)?;
        }
        Ok(out)
    }

    /// Removes handled triggers, durably.
    pub fn clear_triggers(&self, tickets: &[u64]) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        for ticket in tickets {
            writes.remove(TreeId::Triggers, ticket.to_be_bytes().to_vec());
        }
        writes.commit()?;
        self.backend.durable()
    }

    /// How many triggers wait (a count of the whole queue: for figures).
    pub fn pending_trigger_count(&self) -> usize {
        self.tree(TreeId::Triggers).len()
    }

    /// Whether any trigger waits: one key read, where a count on a database server reads the
    /// whole queue. A queue that cannot be read counts as empty, as in the count.
    pub fn has_pending_triggers(&self) -> bool {
        !self.tree(TreeId::Triggers).is_empty()
    }

    fn ingest_events(
        &self,
        events: &[NewEvent],
        now: i64,
        queue_trigger: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<IngestOutcome>, StorageError> {
        let outcomes = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            self.prefetch_for_events(&mut writes, events)?;
            let mut outcomes = Vec::with_capacity(events.len());
            for event in events {
                outcomes.push(self.plan_event(&mut writes, event, now, queue_trigger(&event.name))?);
            }
            writes.commit()?;
            outcomes
        };
        if outcomes.iter().any(|o| matches!(o, IngestOutcome::Stored { .. })) {
            self.backend.durable()?;
        }
        Ok(outcomes)
    }

    /// Stores events the engine generates for a known profile (delivery outcomes, control-group
    /// assignments), idempotent by id and durable. Returns, per event, whether it was new.
    pub fn append_events(&self, events: &[Event]) -> Result<Vec<bool>, StorageError> {
        self.append(events, false)
    }

    /// Like [`Storage::append_events`], and also queues each new event for the triggered
    /// campaigns in the same atomic write (vendor feedback: a bounce suppresses durably).
    pub fn append_events_and_queue_triggers(&self, events: &[Event]) -> Result<Vec<bool>, StorageError> {
        self.append(events, true)
    }

    fn append(&self, events: &[Event], queue_triggers: bool) -> Result<Vec<bool>, StorageError> {
        let added = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let mut added = Vec::with_capacity(events.len());
            for event in events {
                added.push(self.put_event(&mut writes, event, queue_triggers)?);
            }
            writes.commit()?;
            added
        };
        if added.contains(&true) {
            self.backend.durable()?;
        }
        Ok(added)
    }

    /// Adds `event` to `writes` with its indexes, unless its id is already stored or its
    /// profile was erased. Returns whether it was added.
    pub(super) fn put_event(
        &self,
        writes: &mut WriteSet<'_>,
        event: &Event,
        queue_triggers: bool,
    ) -> Result<bool, StorageError> {
        if writes.contains(TreeId::EventIds, event.id.as_bytes())? {
            return Ok(false);
        }
        let Some(profile) = live_id(writes, event.profile)? else {
            return Ok(false);
        };
        let stored = Event { profile, ..event.clone() };
        let key = keys::event(profile, event.timestamp, self.backend.next_id()?);
        writes.put(TreeId::Events, key.clone(), encode(&stored)?);
        writes.put(TreeId::EventIds, event.id.as_bytes().to_vec(), key.clone());
        if let Some(campaign) = &event.campaign {
            writes.put(TreeId::CampaignEvents, keys::campaign_event(campaign, &key), key.clone());
        }
        if queue_triggers {
            writes.put(TreeId::Triggers, self.backend.next_id()?.to_be_bytes().to_vec(), key);
        }
        mark_event(writes, profile, &event.name)?;
        Ok(true)
    }

    /// Records traits for a customer (Segment `identify`): resolves or creates the profile,
    /// stitching the anonymous id to the user id when both are given, and merges the traits.
    pub fn identify(
        &self,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        traits: &serde_json::Map<String, serde_json::Value>,
        now: i64,
    ) -> Result<ProfileId, StorageError> {
        self.identify_with(user_id, anonymous_id, traits, now, |_| {})
    }

    /// [`Storage::identify`], then `also` on the profile, in the same durable write (the
    /// consents and time zone a source's message carries beside its traits).
    pub fn identify_with(
        &self,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        traits: &serde_json::Map<String, serde_json::Value>,
        now: i64,
        also: impl FnOnce(&mut Profile),
    ) -> Result<ProfileId, StorageError> {
        let id = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let id = resolve(self, &mut writes, identities(user_id, anonymous_id), now)?;
            let mut profile = load_profile(&writes, id)?;
            for (name, value) in traits {
                profile.attributes.insert(name.clone(), value.clone());
            }
            also(&mut profile);
            profile.updated_at = now;
            index_email(&mut writes, &profile);
            put_profile(&mut writes, &profile)?;
            writes.commit()?;
            id
        };
        self.backend.durable()?;
        Ok(id)
    }

    /// [`Storage::identify_with`] for many customers in one atomic, durable write (a bulk
    /// import): row `i` gets `traits[i]`, then `also(i, profile)`. Rows naming the same customer
    /// apply in order.
    pub fn identify_many(
        &self,
        rows: &[(Option<&str>, Option<&str>, &serde_json::Map<String, serde_json::Value>)],
        now: i64,
        also: &dyn Fn(usize, &mut Profile),
    ) -> Result<Vec<ProfileId>, StorageError> {
        let ids = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let wanted: Vec<Vec<u8>> = rows
                .iter()
                .flat_map(|(user, anonymous, _)| identities(*user, *anonymous))
                .map(|i| i.key())
                .collect();
            self.prefetch_people(&mut writes, &wanted)?;
            let mut ids = Vec::with_capacity(rows.len());
            for (i, (user_id, anonymous_id, traits)) in rows.iter().enumerate() {
                let id = resolve(self, &mut writes, identities(*user_id, *anonymous_id), now)?;
                let mut profile = load_profile(&writes, id)?;
                for (name, value) in *traits {
                    profile.attributes.insert(name.clone(), value.clone());
                }
                also(i, &mut profile);
                profile.updated_at = now;
                index_email(&mut writes, &profile);
                put_profile(&mut writes, &profile)?;
                ids.push(id);
            }
            writes.commit()?;
            ids
        };
        self.backend.durable()?;
        Ok(ids)
    }

    /// Declares that `previous` and `user_id` are one customer (Segment `alias`): the profile of
    /// `previous` is merged into the user's, its events following.
    pub fn alias(&self, previous: &Identity, user_id: &str, now: i64) -> Result<ProfileId, StorageError> {
        let id = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let id =
                resolve(self, &mut writes, vec![Identity::User(user_id.to_owned()), previous.clone()], now)?;
            writes.commit()?;
            id
        };
        self.backend.durable()?;
        Ok(id)
    }

    /// Changes a profile (attributes, consents, suppressions, time zone) durably and returns the
    /// result; `None` if there is no such profile. The id and identities are kept as they were:
    /// identities change only through ingest, `identify` and `alias`.
    pub fn update_profile(
        &self,
        id: ProfileId,
        now: i64,
        change: impl FnOnce(&mut Profile),
    ) -> Result<Option<Profile>, StorageError> {
        let updated = self.update_profile_unflushed(id, now, change)?;
        if updated.is_some() {
            self.backend.durable()?;
        }
        Ok(updated)
    }

    /// [`Storage::update_profile`] without waiting for the flush, for a change that something
    /// durable stands behind and that is safe to make again (a journey step whose timer or
    /// trigger stays until a flushed write answers it).
    pub fn update_profile_unflushed(
        &self,
        id: ProfileId,
        now: i64,
        change: impl FnOnce(&mut Profile),
    ) -> Result<Option<Profile>, StorageError> {
        let updated = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let Some(id) = live_id(&writes, id)? else {
                return Ok(None);
            };
            let mut profile = load_profile(&writes, id)?;
            let (kept_id, kept_identities) = (profile.id, profile.identities.clone());
            change(&mut profile);
            profile.id = kept_id;
            profile.identities = kept_identities;
            profile.updated_at = now;
            index_email(&mut writes, &profile);
            put_profile(&mut writes, &profile)?;
            writes.commit()?;
            profile
        };
        Ok(Some(updated))
    }

    /// Writes computed traits on many profiles in one durable write: `Some` sets a trait, `None`
    /// removes it. A profile erased or merged away meanwhile is followed or skipped. Returns how
    /// many profiles changed; one whose traits already had these values is left untouched.
    pub fn set_computed(&self, updates: &[super::TraitUpdate], now: i64) -> Result<usize, StorageError> {
        let changed = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let mut changed = 0;
            for (id, traits) in updates {
                let Some(id) = live_id(&writes, *id)? else { continue };
                let mut profile = load_profile(&writes, id)?;
                let before = profile.computed.clone();
                for (name, value) in traits {
                    match value {
                        Some(value) => profile.computed.insert(name.clone(), value.clone()),
                        None => profile.computed.remove(name),
                    };
                }
                if profile.computed != before {
                    profile.updated_at = now;
                    put_profile(&mut writes, &profile)?;
                    changed += 1;
                }
            }
            writes.commit()?;
            changed
        };
        self.backend.durable()?;
        Ok(changed)
    }

    /// The profile with this id, following stitching aliases.
    pub fn profile(&self, id: ProfileId) -> Result<Option<Profile>, StorageError> {
        let writes = WriteSet::new(self);
        let Some(id) = live_id(&writes, id)? else {
            return Ok(None);
        };
        writes.get(TreeId::Profiles, &keys::profile(id))?.map(|raw| decode(&raw, "profile")).transpose()
    }

    /// The profile an identity points to.
    pub fn profile_by_identity(&self, identity: &Identity) -> Result<Option<Profile>, StorageError> {
        match self.tree(TreeId::Identities).get(identity.key())? {
            Some(raw) => match keys::profile_from(&raw) {
                Some(id) => self.profile(id),
                None => Err(corrupt("identity", "profile id is not 8 bytes")),
            },
            None => Ok(None),
        }
    }

    /// The profiles whose `email` attribute is `email` (compared trimmed and case-insensitively),
    /// by id. Several customers may share an address.
    pub fn profiles_by_email(&self, email: &str) -> Result<Vec<Profile>, StorageError> {
        let wanted = normal_email(email);
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut prefix = wanted.clone().into_bytes();
        prefix.push(0);
        let mut found: Vec<Profile> = Vec::new();
        for entry in self.tree(TreeId::Emails).scan_prefix(&prefix) {
            let (key, _) = entry?;
            let Some(id) = keys::profile_from(&key[prefix.len()..]) else { continue };
            let Some(profile) = self.profile(id)? else { continue };
            let current = profile.attributes.get("email").and_then(|e| e.as_str()).map(normal_email);
            if current.as_deref() == Some(wanted.as_str()) && !found.iter().any(|p| p.id == profile.id) {
                found.push(profile);
            }
        }
        found.sort_by_key(|p| p.id);
        Ok(found)
    }

    /// The stored event with this id, if any.
    pub fn event(&self, id: &str) -> Result<Option<Event>, StorageError> {
        let Some(key) = self.tree(TreeId::EventIds).get(id.as_bytes())? else {
            return Ok(None);
        };
        self.tree(TreeId::Events).get(key)?.map(|raw| decode(&raw, "event")).transpose()
    }

    /// A profile's events, oldest first.
    pub fn events_of(&self, id: ProfileId) -> Result<Vec<Event>, StorageError> {
        let writes = WriteSet::new(self);
        let Some(id) = live_id(&writes, id)? else {
            return Ok(Vec::new());
        };
        self.tree(TreeId::Events)
            .scan_prefix(keys::profile(id))
            .map(|entry| decode(&entry?.1, "event"))
            .collect()
    }

    /// A profile's newest `limit` events, newest first: a reverse range scan, so a profile with
    /// years of history costs what the page shows.
    pub fn latest_events_of(&self, id: ProfileId, limit: usize) -> Result<Vec<Event>, StorageError> {
        let writes = WriteSet::new(self);
        let Some(id) = live_id(&writes, id)? else {
            return Ok(Vec::new());
        };
        self.tree(TreeId::Events)
            .scan_prefix(keys::profile(id))
            .rev()
            .take(limit)
            .map(|entry| decode(&entry?.1, "event"))
            .collect()
    }

    /// A profile's events at or after `since` (all of them for `None`), oldest first: a range
    /// scan, so a rule with an event window reads only the window.
    pub fn events_of_since(&self, id: ProfileId, since: Option<i64>) -> Result<Vec<Event>, StorageError> {
        let Some(since) = since else {
            return self.events_of(id);
        };
        self.events_of_where(id, since, &|_| true)
    }

    /// A profile's events at or after `since` whose name `keep` accepts, oldest first. The
    /// others are not decoded: only their name is read, which a rule reading one kind of event
    /// among many makes most of the window.
    pub fn events_of_where(
        &self,
        id: ProfileId,
        since: i64,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Event>, StorageError> {
        let writes = WriteSet::new(self);
        let Some(id) = live_id(&writes, id)? else {
            return Ok(Vec::new());
        };
        let prefix = keys::profile(id);
        let mut start = prefix.to_vec();
        start.extend_from_slice(&keys::time(since));
        let mut events = Vec::new();
        for entry in self.tree(TreeId::Events).range(start..) {
            let (key, raw) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            if let Some(event) = kept_event(&raw, keep)? {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// [`Storage::events_of_where`] for each of `ids`, in one read of the store (one round trip
    /// on a database server, where reading a page of profiles one by one costs one each). The
    /// ids are profiles as just read: one stitched into another since has no events left.
    pub fn events_of_many(
        &self,
        ids: &[ProfileId],
        since: i64,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Vec<Event>>, StorageError> {
        let ranges: Vec<(Vec<u8>, Vec<u8>)> = ids
            .iter()
            .map(|id| {
                let prefix = keys::profile(*id);
                let mut start = prefix.to_vec();
                start.extend_from_slice(&keys::time(since));
                // Event keys are 24 bytes, so 32 bytes of 0xFF are past the last profile's.
                (start, super::backend::prefix_end(&prefix).unwrap_or_else(|| vec![0xFF; 32]))
            })
            .collect();
        self.tree(TreeId::Events)
            .scan_many(&ranges)?
            .into_iter()
            .map(|entries| {
                let mut events = Vec::new();
                for (_, raw) in entries {
                    if let Some(event) = kept_event(&raw, keep)? {
                        events.push(event);
                    }
                }
                Ok(events)
            })
            .collect()
    }

    /// A campaign's events, oldest first, collected. Prefer [`Storage::campaign_record`] where the
    /// record may be long.
    pub fn campaign_events(&self, campaign: &str) -> Result<Vec<Event>, StorageError> {
        self.campaign_record(campaign).collect()
    }

    /// A campaign's events, oldest first, read as the caller goes: memory stays at one event
    /// whatever the record's length.
    pub fn campaign_record(&self, campaign: &str) -> impl Iterator<Item = Result<Event, StorageError>> + '_ {
        self.campaign_record_since(campaign, i64::MIN)
    }

    /// The highest profile id stored (ids are handed out in increasing order), 0 with none:
    /// with [`Storage::profile_exactly`], a uniform sample of profiles without a scan.
    pub fn profile_id_bound(&self) -> Result<u64, StorageError> {
        Ok(self
            .tree(TreeId::Profiles)
            .last()?
            .and_then(|(key, _)| keys::profile_from(&key))
            .map_or(0, |id| id.0))
    }

    /// The profile stored under exactly this id (a merged-away id names none: no alias is
    /// followed, so a sample never meets a survivor twice).
    pub fn profile_exactly(&self, id: ProfileId) -> Result<Option<Profile>, StorageError> {
        self.tree(TreeId::Profiles).get(keys::profile(id))?.map(|raw| decode(&raw, "profile")).transpose()
    }

    /// Every live profile, by id.
    pub fn scan_profiles(&self) -> impl Iterator<Item = Result<Profile, StorageError>> + '_ {
        self.tree(TreeId::Profiles).iter().map(|entry| decode(&entry?.1, "profile"))
    }

    /// Every event, grouped by profile and oldest first within a profile.
    pub fn scan_events(&self) -> impl Iterator<Item = Result<Event, StorageError>> + '_ {
        self.tree(TreeId::Events).iter().map(|entry| decode(&entry?.1, "event"))
    }

    /// How many events are stored.
    pub fn event_count(&self) -> usize {
        self.tree(TreeId::Events).len()
    }

    /// Reads ahead what planning `events` will read: whether their ids were seen, who their
    /// identities belong to, and those profiles (with their segment marks): four requests for a
    /// batch instead of about four for each event on a database server. A stitched (aliased)
    /// profile is still followed key by key.
    fn prefetch_for_events(
        &self,
        writes: &mut WriteSet<'_>,
        events: &[NewEvent],
    ) -> Result<(), StorageError> {
        let ids: Vec<&[u8]> = events.iter().map(|e| e.id.as_bytes()).collect();
        writes.prefetch(TreeId::EventIds, &ids)?;
        let identities: Vec<Vec<u8>> = events
            .iter()
            .flat_map(|e| identities(e.user_id.as_deref(), e.anonymous_id.as_deref()))
            .map(|identity| identity.key())
            .collect();
        self.prefetch_people(writes, &identities)
    }

    /// Reads ahead who `identities` (keys) belong to, those profiles and their segment marks.
    fn prefetch_people(&self, writes: &mut WriteSet<'_>, identities: &[Vec<u8>]) -> Result<(), StorageError> {
        writes.prefetch(TreeId::Identities, identities)?;
        let mut owners = Vec::new();
        for key in identities {
            if let Some(owner) = writes.get(TreeId::Identities, key)? {
                owners.push(owner);
            }
        }
        writes.prefetch(TreeId::Profiles, &owners)?;
        if self.segments_read_anything() {
            writes.prefetch(TreeId::SegmentDirty, &owners)?;
        }
        Ok(())
    }

    fn plan_event(
        &self,
        writes: &mut WriteSet<'_>,
        event: &NewEvent,
        now: i64,
        queue_trigger: bool,
    ) -> Result<IngestOutcome, StorageError> {
        if let Some(reason) = event.problem() {
            return Ok(IngestOutcome::Rejected { reason });
        }
        if writes.contains(TreeId::EventIds, event.id.as_bytes())? {
            return Ok(IngestOutcome::Duplicate);
        }
        let profile =
            resolve(self, writes, identities(event.user_id.as_deref(), event.anonymous_id.as_deref()), now)?;
        let key = keys::event(profile, event.timestamp, self.backend.next_id()?);
        let stored = Event {
            id: event.id.clone(),
            profile,
            name: event.name.clone(),
            timestamp: event.timestamp,
            properties: event.properties.clone(),
            campaign: event.campaign.clone(),
        };
        writes.put(TreeId::Events, key.clone(), encode(&stored)?);
        writes.put(TreeId::EventIds, event.id.as_bytes().to_vec(), key.clone());
        if let Some(campaign) = &event.campaign {
            writes.put(TreeId::CampaignEvents, keys::campaign_event(campaign, &key), key.clone());
        }
        if queue_trigger {
            writes.put(TreeId::Triggers, self.backend.next_id()?.to_be_bytes().to_vec(), key);
        }
        mark_event(writes, profile, &event.name)?;
        Ok(IngestOutcome::Stored { profile })
    }
}

fn identities(user_id: Option<&str>, anonymous_id: Option<&str>) -> Vec<Identity> {
    let present = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    present(user_id)
        .map(Identity::User)
        .into_iter()
        .chain(present(anonymous_id).map(Identity::Anonymous))
        .collect()
}

/// Finds the profile of these identities (the first one wins a conflict), creating it if none
/// exists, attaching identities it lacks, and merging the profiles of the others into it.
fn resolve(
    storage: &Storage,
    writes: &mut WriteSet<'_>,
    identities: Vec<Identity>,
    now: i64,
) -> Result<ProfileId, StorageError> {
    let mut found = Vec::with_capacity(identities.len());
    for identity in &identities {
        let owner = match writes.get(TreeId::Identities, &identity.key())? {
            Some(raw) => {
                let id = keys::profile_from(&raw).ok_or_else(|| corrupt("identity", "bad profile id"))?;
                live_id(writes, id)?
            }
            None => None,
        };
        found.push(owner);
    }
    // A profile that already belongs to another known user never becomes this user's: a
    // write-key holder could otherwise take over a victim's profile (and its messages) by
    // sending the victim's user id with an anonymous id of their own.
    let user = identities.iter().find_map(|i| match i {
        Identity::User(id) => Some(id.as_str()),
        Identity::Anonymous(_) => None,
    });
    let first = found.iter().flatten().next().copied();
    let first = match (first, user) {
        (Some(owner), Some(user))
            if !storage.merge_known_users && belongs_to_other_user(writes, owner, user)? =>
        {
            None
        }
        (first, _) => first,
    };
    let survivor = match first {
        Some(id) => id,
        None => {
            let id = ProfileId(storage.backend.next_id()? + 1);
            let profile = Profile {
                id,
                identities: Vec::new(),
                attributes: BTreeMap::new(),
                computed: BTreeMap::new(),
                consents: BTreeMap::new(),
                consent_history: Vec::new(),
                suppressions: BTreeMap::new(),
                timezone: None,
                locale: None,
                created_at: now,
                updated_at: now,
            };
            put_profile(writes, &profile)?;
            id
        }
    };
    for (identity, owner) in identities.into_iter().zip(found) {
        match owner {
            Some(owner) if owner == survivor => {}
            Some(other)
                if !storage.merge_known_users
                    && knows_user(writes, other)?
                    && knows_user(writes, survivor)? =>
            {
                // Two known customers are not merged silently: the identity stays where it is,
                // and the refusal is on the audit log for a person to judge.
                tracing::warn!(profile = %other, into = %survivor, "Merge of two known users refused.");
                storage.plan_audit(
                    writes,
                    &super::AuditRecord {
                        at: now,
                        actor: "system".into(),
                        action: "merge_refused".into(),
                        target: other.to_string(),
                        detail: serde_json::json!({
                            "into": survivor.to_string(),
                            "reason": "both profiles carry a user id; set `storage.merge_known_users` to merge them"
                        }),
                    },
                )?;
            }
            Some(other) => merge(writes, other, survivor, now)?,
            None => {
                let mut profile = load_profile(writes, survivor)?;
                writes.put(TreeId::Identities, identity.key(), keys::profile(survivor).to_vec());
                profile.identities.push(identity);
                profile.updated_at = now;
                put_profile(writes, &profile)?;
            }
        }
    }
    Ok(survivor)
}

/// Whether profile `id` carries a user id.
fn knows_user(writes: &WriteSet<'_>, id: ProfileId) -> Result<bool, StorageError> {
    Ok(load_profile(writes, id)?.identities.iter().any(|i| matches!(i, Identity::User(_))))
}

/// Whether profile `id` carries a user id other than `user`.
fn belongs_to_other_user(writes: &WriteSet<'_>, id: ProfileId, user: &str) -> Result<bool, StorageError> {
    Ok(load_profile(writes, id)?
        .identities
        .iter()
        .any(|i| matches!(i, Identity::User(other) if other != user)))
}

/// Merges profile `from` into `into`: identities, attributes and consents the survivor lacks,
/// and every event, which keeps its time and order.
fn merge(writes: &mut WriteSet<'_>, from: ProfileId, into: ProfileId, now: i64) -> Result<(), StorageError> {
    let loser = load_profile(writes, from)?;
    let mut survivor = load_profile(writes, into)?;
    for identity in &loser.identities {
        writes.put(TreeId::Identities, identity.key(), keys::profile(into).to_vec());
        if !survivor.identities.contains(identity) {
            survivor.identities.push(identity.clone());
        }
    }
    for (name, value) in loser.attributes {
        survivor.attributes.entry(name).or_insert(value);
    }
    for (channel, suppression) in loser.suppressions {
        survivor.suppressions.entry(channel).or_insert(suppression);
    }
    for (purpose, consent) in loser.consents {
        let newer = survivor.consents.get(&purpose).is_none_or(|c| c.updated_at < consent.updated_at);
        if newer {
            survivor.consents.insert(purpose, consent);
        }
    }
    // Both histories are proof: kept together, in time order (the next change trims to the limit).
    survivor.consent_history.extend(loser.consent_history);
    survivor.consent_history.sort_by_key(|change| change.at);
    survivor.timezone = survivor.timezone.or(loser.timezone);
    survivor.locale = survivor.locale.or(loser.locale);
    survivor.created_at = survivor.created_at.min(loser.created_at);
    survivor.updated_at = now;
    index_email(writes, &survivor);
    put_profile(writes, &survivor)?;
    writes.remove(TreeId::Profiles, keys::profile(from).to_vec());
    writes.storage().forget_in_segments(writes, from)?;
    writes.storage().forget_in_journeys(writes, from, Some(into))?;
    writes.put(TreeId::ProfileAliases, keys::profile(from).to_vec(), keys::profile(into).to_vec());

    for (key, raw) in writes.scan_prefix(TreeId::Events, &keys::profile(from))? {
        let mut event: Event = decode(&raw, "event")?;
        event.profile = into;
        let moved = keys::event_rekeyed(&key, into);
        writes.remove(TreeId::Events, key);
        writes.put(TreeId::Events, moved.clone(), encode(&event)?);
        writes.put(TreeId::EventIds, event.id.as_bytes().to_vec(), moved.clone());
        if let Some(campaign) = &event.campaign {
            writes.put(TreeId::CampaignEvents, keys::campaign_event(campaign, &moved), moved);
        }
    }
    tracing::info!(from = %from, into = %into, "Profiles stitched.");
    Ok(())
}

/// Follows stitching aliases to the live profile, if any.
fn live_id(writes: &WriteSet<'_>, mut id: ProfileId) -> Result<Option<ProfileId>, StorageError> {
    for _ in 0..MAX_ALIAS_DEPTH {
        if writes.contains(TreeId::Profiles, &keys::profile(id))? {
            return Ok(Some(id));
        }
        match writes.get(TreeId::ProfileAliases, &keys::profile(id))? {
            Some(raw) => id = keys::profile_from(&raw).ok_or_else(|| corrupt("alias", "bad profile id"))?,
            None => return Ok(None),
        }
    }
    Err(corrupt("alias", "stitching chain longer than 64"))
}

/// The stored event `raw` if `keep` accepts its name. The others are not decoded: only their
/// name is read, which a rule reading one kind of event among many makes most of the window.
fn kept_event(raw: &[u8], keep: &dyn Fn(&str) -> bool) -> Result<Option<Event>, StorageError> {
    /// An event's name, borrowed from its stored form; the rest is skipped unread.
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(borrow)]
        name: std::borrow::Cow<'a, str>,
    }
    let named: Named<'_> = decode_borrowed(raw, "event")?;
    if keep(&named.name) { Ok(Some(decode(raw, "event")?)) } else { Ok(None) }
}

fn load_profile(writes: &WriteSet<'_>, id: ProfileId) -> Result<Profile, StorageError> {
    let raw = writes
        .get(TreeId::Profiles, &keys::profile(id))?
        .ok_or_else(|| corrupt("profile", &format!("{id} is referenced but missing")))?;
    decode(&raw, "profile")
}

/// A profile's email as the index keeps it: trimmed and lowercase.
pub(crate) fn normal_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The index key of `email` for profile `id`.
fn email_key(email: &str, id: ProfileId) -> Vec<u8> {
    let mut key = normal_email(email).into_bytes();
    key.push(0);
    key.extend_from_slice(&keys::profile(id));
    key
}

/// Indexes the profile's `email` attribute, if it has one (an email that changed leaves an
/// entry that lookups skip).
fn index_email(writes: &mut WriteSet<'_>, profile: &Profile) {
    if let Some(email) =
        profile.attributes.get("email").and_then(|e| e.as_str()).filter(|e| !e.trim().is_empty())
    {
        writes.put(TreeId::Emails, email_key(email, profile.id), Vec::new());
    }
}

/// Writes a profile, marking it changed for the saved segments (its attributes, consents or
/// identities may be what one of them reads).
fn put_profile(writes: &mut WriteSet<'_>, profile: &Profile) -> Result<(), StorageError> {
    writes.put(TreeId::Profiles, keys::profile(profile.id).to_vec(), encode(profile)?);
    let change = ProfileChange { attributes: true, ..Default::default() };
    writes.storage().mark_changed(writes, profile.id, &change)
}

/// Marks `profile` changed for the saved segments by an event named `name`.
fn mark_event(writes: &mut WriteSet<'_>, profile: ProfileId, name: &str) -> Result<(), StorageError> {
    let mut change = ProfileChange::default();
    change.add_event(name);
    writes.storage().mark_changed(writes, profile, &change)
}

fn corrupt(what: &str, reason: &str) -> StorageError {
    StorageError::Corrupt { what: what.to_owned(), reason: reason.to_owned() }
}
