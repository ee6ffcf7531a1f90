//! Journeys, their versions, and where each profile is in them.
//!
//! Six trees:
//! - `journeys` (records, by id) and `journey_versions` (journey id + 0 + version, u32 BE → spec);
//! - `journey_positions` (profile id + journey id → the profile's place while it is inside),
//!   keyed by profile first so an event finds the journeys its profile is in with one prefix scan;
//! - `journey_timers` (journey id + 0 + due time + profile id → nothing): each journey's due-time
//!   index, soonest first, so a paused journey's timers are simply not read and a million
//!   waiting profiles cost storage, not memory;
//! - `journey_entries` (journey id + 0 + profile id → entry record), kept after a profile leaves,
//!   for re-entry rules;
//! - `journey_counts` (journey id + 0 + version + step id → counts).
//!
//! A profile's move (its new place, its timer, its entry record and the counts it changes) is
//! one transaction, so a crash leaves it wholly before or wholly after a step.

use std::collections::BTreeMap;

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode, keys};
use crate::journey::{EntryRecord, Journey, JourneySpec, Position, StepCounts};
use crate::profile::ProfileId;

/// A change to one step's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Count {
    /// A profile arrived.
    Entered,
    /// A profile started waiting (+1) or stopped (-1).
    Waiting(i64),
    /// A profile went on.
    Passed,
    /// A profile's time through ended here, with this outcome.
    Ended(String),
    /// A message step did not send, for this reason.
    Skipped(String),
}

/// One profile's move through a journey, applied in one transaction.
#[derive(Debug)]
pub(crate) struct JourneyMove {
    /// The journey.
    pub journey: String,
    /// The profile.
    pub profile: ProfileId,
    /// Its place before the move, if it was inside: its timer is removed.
    pub before: Option<Position>,
    /// Its place after the move; `None`: it left.
    pub after: Option<Position>,
    /// Its entry record, when the move changes it.
    pub entry: Option<EntryRecord>,
    /// Count changes, by (version, step).
    pub counts: Vec<(u32, String, Count)>,
}

fn journey_prefix(journey: &str) -> Vec<u8> {
    let mut key = journey.as_bytes().to_vec();
    key.push(0);
    key
}

fn version_key(journey: &str, version: u32) -> Vec<u8> {
    let mut key = journey_prefix(journey);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn position_key(profile: ProfileId, journey: &str) -> Vec<u8> {
    let mut key = keys::profile(profile).to_vec();
    key.extend_from_slice(journey.as_bytes());
    key
}

fn timer_key(journey: &str, due: i64, profile: ProfileId) -> Vec<u8> {
    let mut key = journey_prefix(journey);
    key.extend_from_slice(&keys::time(due));
    key.extend_from_slice(&keys::profile(profile));
    key
}

fn entry_key(journey: &str, profile: ProfileId) -> Vec<u8> {
    let mut key = journey_prefix(journey);
    key.extend_from_slice(&keys::profile(profile));
    key
}

fn counts_key(journey: &str, version: u32, step: &str) -> Vec<u8> {
    let mut key = version_key(journey, version);
    key.extend_from_slice(step.as_bytes());
    key
}

impl Storage {
    /// Stores a journey's record and, when given, a version of its spec, in one durable write.
    pub fn put_journey(
        &self,
        journey: &Journey,
        version: Option<(u32, &JourneySpec)>,
    ) -> Result<(), StorageError> {
        {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            writes.put(TreeId::Journeys, journey.id.as_bytes().to_vec(), encode(journey)?);
            if let Some((number, spec)) = version {
                writes.put(TreeId::JourneyVersions, version_key(&journey.id, number), encode(spec)?);
            }
            writes.commit()?;
        }
        self.backend.durable()
    }

    /// A journey's record.
    pub fn journey(&self, id: &str) -> Result<Option<Journey>, StorageError> {
        self.tree(TreeId::Journeys).get(id.as_bytes())?.map(|raw| decode(&raw, "journey")).transpose()
    }

    /// Every journey, by id.
    pub fn journeys(&self) -> Result<Vec<Journey>, StorageError> {
        self.tree(TreeId::Journeys).iter().map(|entry| decode(&entry?.1, "journey")).collect()
    }

    /// One version of a journey's spec.
    pub fn journey_version(&self, id: &str, version: u32) -> Result<Option<JourneySpec>, StorageError> {
        self.tree(TreeId::JourneyVersions)
            .get(version_key(id, version))?
            .map(|raw| decode(&raw, "journey version"))
            .transpose()
    }

    /// Where `profile` is in `journey`, if it is inside.
    pub fn journey_position(
        &self,
        profile: ProfileId,
        journey: &str,
    ) -> Result<Option<Position>, StorageError> {
        self.tree(TreeId::JourneyPositions)
            .get(position_key(profile, journey))?
            .map(|raw| decode(&raw, "journey position"))
            .transpose()
    }

    /// Every journey `profile` is in.
    pub fn journey_positions_of(&self, profile: ProfileId) -> Result<Vec<Position>, StorageError> {
        self.tree(TreeId::JourneyPositions)
            .scan_prefix(keys::profile(profile))
            .map(|entry| decode(&entry?.1, "journey position"))
            .collect()
    }

    /// Every profile inside `journey` (a scan of every position: for ending a journey or moving
    /// its profiles to a new version, not for hot paths).
    pub fn journey_positions(&self, journey: &str) -> Result<Vec<Position>, StorageError> {
        let mut found = Vec::new();
        for entry in self.tree(TreeId::JourneyPositions).iter() {
            let (key, raw) = entry?;
            if key.get(8..) == Some(journey.as_bytes()) {
                found.push(decode(&raw, "journey position")?);
            }
        }
        Ok(found)
    }

    /// `profile`'s record of its times through `journey`.
    pub fn journey_entry(
        &self,
        journey: &str,
        profile: ProfileId,
    ) -> Result<Option<EntryRecord>, StorageError> {
        self.tree(TreeId::JourneyEntries)
            .get(entry_key(journey, profile))?
            .map(|raw| decode(&raw, "journey entry"))
            .transpose()
    }

    /// Up to `limit` timers of `journey` due at `now`, soonest first: (due time, profile).
    pub fn due_journey_timers(
        &self,
        journey: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(i64, ProfileId)>, StorageError> {
        let start = journey_prefix(journey);
        let mut end = start.clone();
        end.extend_from_slice(&keys::time(now.saturating_add(1)));
        let mut due = Vec::new();
        for entry in self.tree(TreeId::JourneyTimers).range(start.clone()..end).keys().take(limit) {
            let key = entry?;
            let rest = &key[start.len()..];
            let (Some(time), Some(profile)) = (rest.get(..8), rest.get(8..16)) else {
                return Err(StorageError::Corrupt {
                    what: "journey timer".into(),
                    reason: "short key".into(),
                });
            };
            let time = (u64::from_be_bytes(time.try_into().unwrap_or_default()) ^ (1 << 63)) as i64;
            let profile = keys::profile_from(profile).ok_or_else(|| StorageError::Corrupt {
                what: "journey timer".into(),
                reason: "bad profile".into(),
            })?;
            due.push((time, profile));
        }
        Ok(due)
    }

    /// How many of `journey`'s timers come due in [`from`, `to`), by UTC day (its first ms), then
    /// the version and step whose wait they end.
    pub fn journey_due_by_day(
        &self,
        journey: &str,
        from: i64,
        to: i64,
    ) -> Result<BTreeMap<(i64, u32, String), u64>, StorageError> {
        const DAY: i64 = 86_400_000;
        let prefix = journey_prefix(journey);
        let (mut start, mut end) = (prefix.clone(), prefix.clone());
        start.extend_from_slice(&keys::time(from));
        end.extend_from_slice(&keys::time(to));
        let mut due = BTreeMap::new();
        for entry in self.tree(TreeId::JourneyTimers).range(start..end) {
            let (key, raw) = entry?;
            let Some(time) = key.get(prefix.len()..prefix.len() + 8) else { continue };
            let time = (u64::from_be_bytes(time.try_into().unwrap_or_default()) ^ (1 << 63)) as i64;
            let (version, step): (u32, String) = decode(&raw, "journey timer")?;
            *due.entry((time.div_euclid(DAY) * DAY, version, step)).or_insert(0) += 1;
        }
        Ok(due)
    }

    /// How many timers `journey` has (waiting profiles).
    pub fn journey_timer_count(&self, journey: &str) -> usize {
        self.tree(TreeId::JourneyTimers).scan_prefix(journey_prefix(journey)).keys().count()
    }

    /// The counts of every step of one version of a journey, by step id.
    pub fn journey_counts(
        &self,
        journey: &str,
        version: u32,
    ) -> Result<BTreeMap<String, StepCounts>, StorageError> {
        let prefix = version_key(journey, version);
        let mut counts = BTreeMap::new();
        for entry in self.tree(TreeId::JourneyCounts).scan_prefix(&prefix) {
            let (key, raw) = entry?;
            let step = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            counts.insert(step, decode(&raw, "journey counts")?);
        }
        Ok(counts)
    }

    /// Applies profiles' moves, each whole, in one transaction, durably.
    pub(crate) fn apply_journey_moves(&self, moves: &[JourneyMove]) -> Result<(), StorageError> {
        if moves.is_empty() {
            return Ok(());
        }
        self.apply_journey_moves_unflushed(moves)?;
        self.backend.durable()
    }

    /// [`Storage::apply_journey_moves`] for moves made in answer to queued triggers, without
    /// waiting for the flush: the triggers' flushed clearing carries them to disk, and a crash
    /// before it leaves the triggers queued, to be answered again.
    pub(crate) fn apply_journey_moves_unflushed(&self, moves: &[JourneyMove]) -> Result<(), StorageError> {
        if moves.is_empty() {
            return Ok(());
        }
        {
            let _writer = self.lock_writer()?;
            let mut writes = WriteSet::new(self);
            let mut counts: BTreeMap<Vec<u8>, StepCounts> = BTreeMap::new();
            for change in moves {
                self.plan_journey_move(&mut writes, &mut counts, change)?;
            }
            for (key, value) in counts {
                writes.put(TreeId::JourneyCounts, key, encode(&value)?);
            }
            writes.commit()?;
        }
        Ok(())
    }

    /// Removes timers nobody waits for any more: (due time, profile) of `journey`.
    pub(crate) fn drop_journey_timers(
        &self,
        journey: &str,
        timers: &[(i64, ProfileId)],
    ) -> Result<(), StorageError> {
        if timers.is_empty() {
            return Ok(());
        }
        let _writer = self.lock_writer()?;
        let mut writes = WriteSet::new(self);
        for (due, profile) in timers {
            writes.remove(TreeId::JourneyTimers, timer_key(journey, *due, *profile));
        }
        // Losing this removal to a crash only brings the stale timer back, to be dropped again.
        writes.commit()
    }

    fn plan_journey_move(
        &self,
        writes: &mut WriteSet<'_>,
        counts: &mut BTreeMap<Vec<u8>, StepCounts>,
        change: &JourneyMove,
    ) -> Result<(), StorageError> {
        let (journey, profile) = (&change.journey, change.profile);
        if let Some(due) = change.before.as_ref().and_then(|p| p.waiting.due()) {
            writes.remove(TreeId::JourneyTimers, timer_key(journey, due, profile));
        }
        match &change.after {
            Some(position) => {
                writes.put(TreeId::JourneyPositions, position_key(profile, journey), encode(position)?);
                if let Some(due) = position.waiting.due() {
                    // The timer names the step it ends, so a calendar reads what comes due
                    // without loading every position.
                    let ends = encode(&(position.version, &position.step))?;
                    writes.put(TreeId::JourneyTimers, timer_key(journey, due, profile), ends);
                }
            }
            None => writes.remove(TreeId::JourneyPositions, position_key(profile, journey)),
        }
        if let Some(entry) = &change.entry {
            writes.put(TreeId::JourneyEntries, entry_key(journey, profile), encode(entry)?);
        }
        for (version, step, count) in &change.counts {
            let key = counts_key(journey, *version, step);
            if !counts.contains_key(&key) {
                let stored = match writes.get(TreeId::JourneyCounts, &key)? {
                    Some(raw) => decode(&raw, "journey counts")?,
                    None => StepCounts::default(),
                };
                counts.insert(key.clone(), stored);
            }
            let Some(step_counts) = counts.get_mut(&key) else { continue };
            match count {
                Count::Entered => step_counts.entered += 1,
                Count::Waiting(n) => {
                    step_counts.waiting = step_counts.waiting.saturating_add_signed(*n);
                }
                Count::Passed => step_counts.passed += 1,
                Count::Ended(outcome) => *step_counts.ended.entry(outcome.clone()).or_default() += 1,
                Count::Skipped(reason) => *step_counts.skipped.entry(reason.clone()).or_default() += 1,
            }
        }
        Ok(())
    }

    /// Takes `profile` out of every journey, in `writes`: it was erased (`into` is `None`: its
    /// entry records go too), or merged into `into`, which takes over each place it does not
    /// already have in a journey of its own (an anonymous visitor who entered a journey and then
    /// signed in goes on where they were).
    pub(super) fn forget_in_journeys(
        &self,
        writes: &mut WriteSet<'_>,
        profile: ProfileId,
        into: Option<ProfileId>,
    ) -> Result<(), StorageError> {
        if self.tree(TreeId::Journeys).is_empty() {
            return Ok(());
        }
        let mut counts = BTreeMap::new();
        for (_, raw) in writes.scan_prefix(TreeId::JourneyPositions, &keys::profile(profile))? {
            let position: Position = decode(&raw, "journey position")?;
            let journey = position.journey.clone();
            let mut leave = JourneyMove {
                journey: journey.clone(),
                profile,
                before: Some(position.clone()),
                after: None,
                entry: None,
                counts: Vec::new(),
            };
            let survivor_free = match into {
                Some(survivor) => {
                    !writes.contains(TreeId::JourneyPositions, &position_key(survivor, &journey))?
                }
                None => false,
            };
            match into {
                Some(survivor) if survivor_free => {
                    self.plan_journey_move(writes, &mut counts, &leave)?;
                    let moved = Position { profile: survivor, ..position };
                    let arrive = JourneyMove {
                        journey,
                        profile: survivor,
                        before: None,
                        after: Some(moved),
                        entry: None,
                        counts: Vec::new(),
                    };
                    self.plan_journey_move(writes, &mut counts, &arrive)?;
                }
                _ => {
                    if position.waiting.due().is_some() {
                        leave.counts.push((position.version, position.step.clone(), Count::Waiting(-1)));
                    }
                    self.plan_journey_move(writes, &mut counts, &leave)?;
                }
            }
        }
        if into.is_none() {
            for entry in self.tree(TreeId::Journeys).iter().keys() {
                let journey = String::from_utf8_lossy(&entry?).into_owned();
                writes.remove(TreeId::JourneyEntries, entry_key(&journey, profile));
            }
        }
        for (key, value) in counts {
            writes.put(TreeId::JourneyCounts, key, encode(&value)?);
        }
        Ok(())
    }
}
