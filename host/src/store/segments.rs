//! Saved segments and their stored membership.
//!
//! Five trees: `segments` (records, by id), `segment_members` (segment id + 0 + profile id →
//! since and score), `segment_rechecks` (segment id + 0 + profile id → when to judge again),
//! `segment_due` (that time + segment id + 0 + profile id: the due-time index, soonest first)
//! and `segment_dirty` (profile id → what changed since the segments last judged it).
//!
//! Every write that changes a profile (an event, traits, consents, a merge) marks it in
//! `segment_dirty` in its own transaction, so no change a segment reads is lost to a crash
//! between ingest and upkeep. Upkeep writes the new membership, its `segment_entered` and
//! `segment_exited` events (queued for the triggered campaigns) and the removal of the marks it
//! answered in one transaction.

use serde::{Deserialize, Serialize};

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode, keys};
use crate::profile::{Event, ProfileId};
use crate::segment::{
    ProfileChange, SEGMENT_ENTERED, SEGMENT_EXITED, SavedSegment, SegmentInterest, SegmentMember,
};

/// A member as stored: the profile is in the key.
#[derive(Serialize, Deserialize)]
struct Stored {
    since: i64,
    score: Option<f64>,
}

/// A segment's verdict on one profile, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// The segment.
    pub segment: String,
    /// The profile judged.
    pub profile: ProfileId,
    /// In the segment, with this score; `None`: not in it.
    pub member: Option<Option<f64>>,
    /// When to judge again with no new data (a window ending), if ever.
    pub recheck_at: Option<i64>,
    /// Record no event for a change (a first build, a profile erased or merged away).
    pub quiet: bool,
}

/// One upkeep's writes, applied in one transaction.
#[derive(Debug, Default)]
pub(crate) struct SegmentWrite {
    /// The verdicts to store.
    pub verdicts: Vec<Verdict>,
    /// The time of the change, for `since` and the events.
    pub now: i64,
    /// Change marks answered: each is removed unless a newer change was added meanwhile.
    pub answered: Vec<(ProfileId, ProfileChange)>,
    /// Due-time entries answered: removed, unless a verdict put the same entry back.
    pub due_done: Vec<(i64, String, ProfileId)>,
    /// Queue the entry and exit events for the triggered campaigns (some campaign reacts to
    /// them); otherwise they are only recorded.
    pub queue_triggers: bool,
}

/// The segment records one write touches, decoded once and written once at its end with their
/// new member counts.
#[derive(Default)]
struct Records {
    loaded: std::collections::HashMap<String, Option<SavedSegment>>,
    changed: std::collections::HashSet<String>,
}

impl Records {
    fn get(&mut self, writes: &WriteSet<'_>, id: &str) -> Result<Option<&mut SavedSegment>, StorageError> {
        if !self.loaded.contains_key(id) {
            let record = writes
                .get(TreeId::Segments, id.as_bytes())?
                .map(|raw| decode::<SavedSegment>(&raw, "segment"))
                .transpose()?;
            self.loaded.insert(id.to_owned(), record);
        }
        Ok(self.loaded.get_mut(id).and_then(Option::as_mut))
    }

    fn write(self, writes: &mut WriteSet<'_>) -> Result<(), StorageError> {
        for id in self.changed {
            if let Some(Some(record)) = self.loaded.get(&id) {
                writes.put(TreeId::Segments, id.as_bytes().to_vec(), encode(record)?);
            }
        }
        Ok(())
    }
}

/// How many profiles entered and left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Moves {
    pub entered: usize,
    pub exited: usize,
}

fn member_key(segment: &str, profile: ProfileId) -> Vec<u8> {
    let mut key = keys::campaign_prefix(segment);
    key.extend_from_slice(&keys::profile(profile));
    key
}

fn due_key(at: i64, segment: &str, profile: ProfileId) -> Vec<u8> {
    let mut key = keys::time(at).to_vec();
    key.extend_from_slice(&member_key(segment, profile));
    key
}

/// Reads a due-time key back.
fn due_from(key: &[u8]) -> Option<(i64, String, ProfileId)> {
    let at = i64::from_be_bytes(key.get(..8)?.try_into().ok()?) ^ i64::MIN;
    let rest = key.get(8..)?;
    let nul = rest.iter().position(|b| *b == 0)?;
    let segment = String::from_utf8(rest[..nul].to_vec()).ok()?;
    let profile = keys::profile_from(rest.get(nul + 1..)?)?;
    Some((at, segment, profile))
}

fn i64_from(raw: &[u8], what: &str) -> Result<i64, StorageError> {
    let bytes: [u8; 8] = raw.try_into().map_err(|_| StorageError::Corrupt {
        what: what.to_owned(),
        reason: format!("expected 8 bytes, found {}", raw.len()),
    })?;
    Ok(i64::from_be_bytes(bytes))
}

impl Storage {
    /// Tells the store what saved segments read, so that its writes mark the profiles they change.
    pub(crate) fn set_segment_interest(&self, interest: SegmentInterest) {
        *self.segment_interest.write().unwrap_or_else(|p| p.into_inner()) = interest;
    }

    /// Marks `profile` for the segments when `change` is something they read.
    /// Whether any saved segment reads profiles at all (else no change is ever marked).
    pub(super) fn segments_read_anything(&self) -> bool {
        self.segment_interest.read().unwrap_or_else(|p| p.into_inner()).any
    }

    pub(super) fn mark_changed(
        &self,
        writes: &mut WriteSet<'_>,
        profile: ProfileId,
        change: &ProfileChange,
    ) -> Result<(), StorageError> {
        let wanted = {
            let interest = self.segment_interest.read().unwrap_or_else(|p| p.into_inner());
            interest.any
                && ((change.attributes && interest.attributes)
                    || change.every_event && (interest.every_event || !interest.events.is_empty())
                    || change.events.iter().any(|name| interest.wants_event(name)))
        };
        if !wanted {
            return Ok(());
        }
        let key = keys::profile(profile).to_vec();
        let mut mark: ProfileChange = match writes.get(TreeId::SegmentDirty, &key)? {
            Some(raw) => decode(&raw, "profile change")?,
            None => ProfileChange::default(),
        };
        let before = mark.clone();
        mark.absorb(change);
        if mark != before || before == ProfileChange::default() {
            writes.put(TreeId::SegmentDirty, key, encode(&mark)?);
        }
        Ok(())
    }

    /// Takes `profile` out of every segment with no event, in `writes`: it was erased, or merged
    /// into another profile (which is judged again as changed).
    pub(super) fn forget_in_segments(
        &self,
        writes: &mut WriteSet<'_>,
        profile: ProfileId,
    ) -> Result<(), StorageError> {
        if self.tree(TreeId::Segments).is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = self.segment_ids()?;
        let mut records = Records::default();
        for segment in ids {
            let verdict = Verdict { segment, profile, member: None, recheck_at: None, quiet: true };
            self.plan_verdict(writes, &mut records, &verdict, 0, false)?;
        }
        records.write(writes)?;
        writes.remove(TreeId::SegmentDirty, keys::profile(profile).to_vec());
        Ok(())
    }

    fn segment_ids(&self) -> Result<Vec<String>, StorageError> {
        self.tree(TreeId::Segments)
            .iter()
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    /// Stores a segment's record, durably.
    pub fn put_segment(&self, segment: &SavedSegment) -> Result<(), StorageError> {
        {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            // The member count belongs to upkeep: a record rewritten meanwhile keeps it.
            let members = match writes.get(TreeId::Segments, segment.id.as_bytes())? {
                Some(raw) => decode::<SavedSegment>(&raw, "segment")?.members,
                None => 0,
            };
            let record = SavedSegment { members, ..segment.clone() };
            writes.put(TreeId::Segments, segment.id.as_bytes().to_vec(), encode(&record)?);
            writes.commit()?;
        }
        self.backend.durable()?;
        self.announce(super::plugins::SEGMENTS_CHANGE);
        Ok(())
    }

    /// A saved segment.
    pub fn segment(&self, id: &str) -> Result<Option<SavedSegment>, StorageError> {
        self.tree(TreeId::Segments).get(id.as_bytes())?.map(|raw| decode(&raw, "segment")).transpose()
    }

    /// Every saved segment, by id.
    pub fn segments(&self) -> Result<Vec<SavedSegment>, StorageError> {
        self.tree(TreeId::Segments).iter().values().map(|raw| decode(&raw?, "segment")).collect()
    }

    /// Deletes a segment with its members and due times, durably. False if there was none.
    pub fn delete_segment(&self, id: &str) -> Result<bool, StorageError> {
        let prefix = keys::campaign_prefix(id);
        {
            let _writer = self.lock_writer()?;
            if self.tree(TreeId::Segments).get(id.as_bytes())?.is_none() {
                return Ok(false);
            }
            // In slices, so a segment of millions never makes one huge transaction; the record
            // goes last, so a crash halfway leaves a segment whose delete can be repeated.
            loop {
                let mut writes = WriteSet::new(self);
                let mut n = 0;
                for entry in self.tree(TreeId::SegmentMembers).scan_prefix(&prefix).keys().take(10_000) {
                    writes.remove(TreeId::SegmentMembers, entry?.to_vec());
                    n += 1;
                }
                for entry in self.tree(TreeId::SegmentRechecks).scan_prefix(&prefix).take(10_000) {
                    let (key, raw) = entry?;
                    let profile = keys::profile_from(&key[prefix.len()..]).ok_or_else(|| {
                        super::StorageError::Corrupt {
                            what: "segment recheck".into(),
                            reason: "bad profile id".into(),
                        }
                    })?;
                    writes.remove(TreeId::SegmentDue, due_key(i64_from(&raw, "recheck")?, id, profile));
                    writes.remove(TreeId::SegmentRechecks, key.to_vec());
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                writes.commit()?;
            }
            self.tree(TreeId::Segments).remove(id.as_bytes())?;
        }
        self.backend.durable()?;
        self.announce(super::plugins::SEGMENTS_CHANGE);
        Ok(true)
    }

    /// Members of a segment in profile id order, after `after`, at most `limit`.
    pub fn segment_members(
        &self,
        id: &str,
        after: Option<ProfileId>,
        limit: usize,
    ) -> Result<Vec<SegmentMember>, StorageError> {
        let prefix = keys::campaign_prefix(id);
        let start = match after {
            Some(after) => member_key(id, ProfileId(after.0.saturating_add(1))),
            None => prefix.clone(),
        };
        let mut members = Vec::new();
        for entry in self.tree(TreeId::SegmentMembers).range(start..) {
            let (key, raw) = entry?;
            if !key.starts_with(&prefix) || members.len() >= limit {
                break;
            }
            let profile = keys::profile_from(&key[prefix.len()..]).ok_or_else(|| {
                super::StorageError::Corrupt { what: "segment member".into(), reason: "bad key".into() }
            })?;
            let stored: Stored = decode(&raw, "segment member")?;
            members.push(SegmentMember { profile, since: stored.since, score: stored.score });
        }
        Ok(members)
    }

    /// Whether `profile` is in segment `id`, and since when.
    pub fn segment_member(
        &self,
        id: &str,
        profile: ProfileId,
    ) -> Result<Option<SegmentMember>, StorageError> {
        let Some(raw) = self.tree(TreeId::SegmentMembers).get(member_key(id, profile))? else {
            return Ok(None);
        };
        let stored: Stored = decode(&raw, "segment member")?;
        Ok(Some(SegmentMember { profile, since: stored.since, score: stored.score }))
    }

    /// When segment `id` judges `profile` again with no new data, if it is due to.
    pub fn segment_recheck(&self, id: &str, profile: ProfileId) -> Result<Option<i64>, StorageError> {
        self.tree(TreeId::SegmentRechecks)
            .get(member_key(id, profile))?
            .map(|raw| i64_from(&raw, "recheck"))
            .transpose()
    }

    /// Up to `limit` profiles changed since the segments last judged them, with what changed.
    pub(crate) fn changed_profiles(
        &self,
        limit: usize,
    ) -> Result<Vec<(ProfileId, ProfileChange)>, StorageError> {
        let mut changed = Vec::new();
        for entry in self.tree(TreeId::SegmentDirty).iter().take(limit) {
            let (key, raw) = entry?;
            let profile = keys::profile_from(&key).ok_or_else(|| super::StorageError::Corrupt {
                what: "segment mark".into(),
                reason: "bad key".into(),
            })?;
            changed.push((profile, decode(&raw, "profile change")?));
        }
        Ok(changed)
    }

    /// How many profiles wait to be judged again because they changed.
    pub fn changed_profile_count(&self) -> usize {
        self.tree(TreeId::SegmentDirty).len()
    }

    /// Up to `limit` due-time entries at or before `now`, soonest first.
    pub(crate) fn due_rechecks(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(i64, String, ProfileId)>, StorageError> {
        let end = keys::time(now.saturating_add(1));
        let mut due = Vec::new();
        for key in self.tree(TreeId::SegmentDue).range(..end.to_vec()).keys().take(limit) {
            let key = key?;
            due.push(due_from(&key).ok_or_else(|| super::StorageError::Corrupt {
                what: "segment due time".into(),
                reason: "bad key".into(),
            })?);
        }
        Ok(due)
    }

    /// The soonest due time, if any.
    pub fn next_segment_recheck(&self) -> Result<Option<i64>, StorageError> {
        Ok(self.tree(TreeId::SegmentDue).first()?.and_then(|(key, _)| due_from(&key)).map(|(at, _, _)| at))
    }

    /// Applies an upkeep's verdicts, events and answered marks in one durable transaction.
    pub(crate) fn apply_segment_write(&self, write: &SegmentWrite) -> Result<Moves, StorageError> {
        let moves = {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let mut moves = Moves::default();
            for (at, segment, profile) in &write.due_done {
                writes.remove(TreeId::SegmentDue, due_key(*at, segment, *profile));
            }
            let mut records = Records::default();
            for verdict in &write.verdicts {
                let moved =
                    self.plan_verdict(&mut writes, &mut records, verdict, write.now, write.queue_triggers)?;
                moves.entered += usize::from(moved == Some(true));
                moves.exited += usize::from(moved == Some(false));
            }
            records.write(&mut writes)?;
            for (profile, answered) in &write.answered {
                let key = keys::profile(*profile).to_vec();
                let now_marked: Option<ProfileChange> = writes
                    .get(TreeId::SegmentDirty, &key)?
                    .map(|raw| decode(&raw, "profile change"))
                    .transpose()?;
                // A change that arrived while upkeep judged stays marked, to be judged next time.
                if now_marked.as_ref() == Some(answered) {
                    writes.remove(TreeId::SegmentDirty, key);
                }
            }
            writes.commit()?;
            moves
        };
        self.backend.durable()?;
        Ok(moves)
    }

    /// Plans one verdict: membership, member count, due time and (unless quiet) the event.
    /// Returns `Some(true)` for an entry, `Some(false)` for an exit.
    fn plan_verdict(
        &self,
        writes: &mut WriteSet<'_>,
        records: &mut Records,
        verdict: &Verdict,
        now: i64,
        queue_triggers: bool,
    ) -> Result<Option<bool>, StorageError> {
        let Some(record) = records.get(writes, &verdict.segment)? else {
            return Ok(None); // deleted meanwhile
        };
        let key = member_key(&verdict.segment, verdict.profile);
        let was = writes.get(TreeId::SegmentMembers, &key)?;
        let moved = match (&was, verdict.member) {
            (None, Some(score)) => {
                writes.put(TreeId::SegmentMembers, key.clone(), encode(&Stored { since: now, score })?);
                record.members += 1;
                Some(true)
            }
            (Some(raw), Some(score)) => {
                let stored: Stored = decode(raw, "segment member")?;
                if stored.score != score {
                    let kept = Stored { since: stored.since, score };
                    writes.put(TreeId::SegmentMembers, key.clone(), encode(&kept)?);
                }
                None
            }
            (Some(_), None) => {
                writes.remove(TreeId::SegmentMembers, key.clone());
                record.members = record.members.saturating_sub(1);
                Some(false)
            }
            (None, None) => None,
        };
        let version = record.version;
        if moved.is_some() {
            records.changed.insert(verdict.segment.clone());
        }
        let old_due =
            writes.get(TreeId::SegmentRechecks, &key)?.map(|raw| i64_from(&raw, "recheck")).transpose()?;
        if old_due != verdict.recheck_at {
            if let Some(at) = old_due {
                writes.remove(TreeId::SegmentDue, due_key(at, &verdict.segment, verdict.profile));
            }
            match verdict.recheck_at {
                Some(at) => {
                    writes.put(TreeId::SegmentRechecks, key, at.to_be_bytes().to_vec());
                }
                None => writes.remove(TreeId::SegmentRechecks, key),
            }
        }
        if let Some(at) = verdict.recheck_at {
            // Put back when missing: new, or the answered entry removed above.
            let due = due_key(at, &verdict.segment, verdict.profile);
            if !writes.contains(TreeId::SegmentDue, &due)? {
                writes.put(TreeId::SegmentDue, due, Vec::new());
            }
        }
        if let (Some(entered), false) = (moved, verdict.quiet) {
            let name = if entered { SEGMENT_ENTERED } else { SEGMENT_EXITED };
            let mut properties = serde_json::Map::new();
            properties.insert("segment".into(), verdict.segment.clone().into());
            properties.insert("version".into(), version.into());
            let event = Event {
                id: format!("{name}:{}:{}:{}", verdict.segment, verdict.profile, self.backend.next_id()?),
                profile: verdict.profile,
                name: name.to_owned(),
                timestamp: now,
                properties,
                campaign: None,
            };
            self.put_event(writes, &event, queue_triggers)?;
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_read_back_and_sort_by_time() {
        let a = due_key(-5, "lapsed", ProfileId(7));
        let b = due_key(1_700_000_000_000, "a", ProfileId(1));
        assert!(a < b);
        assert_eq!(due_from(&a), Some((-5, "lapsed".into(), ProfileId(7))));
        assert_eq!(due_from(&b), Some((1_700_000_000_000, "a".into(), ProfileId(1))));
    }
}
