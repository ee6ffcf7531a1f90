//! What measurement keeps: each campaign's latest results and its daily series, in the
//! `measurements` tree. Keys: the campaign id for its results; the campaign id, NUL, `day:` and
//! the day (`YYYY-MM-DD`, which sorts by date) for a day of its series; the campaign id, NUL and
//! `series` for the state of its last series update.

use super::writes::WriteSet;
use super::{Storage, StorageError, TreeId, decode, encode, keys};
use crate::engine::{DayFigures, SeriesState};
use crate::measurement::CampaignResults;
use crate::profile::Event;

fn day_prefix(campaign: &str) -> Vec<u8> {
    let mut key = keys::campaign_prefix(campaign);
    key.extend_from_slice(b"day:");
    key
}

fn state_key(campaign: &str) -> Vec<u8> {
    let mut key = keys::campaign_prefix(campaign);
    key.extend_from_slice(b"series");
    key
}

impl Storage {
    /// Keeps a campaign's results as its latest, durably.
    pub fn put_campaign_results(&self, results: &CampaignResults) -> Result<(), StorageError> {
        let mut writes = WriteSet::new(self);
        writes.put(TreeId::Measurements, results.campaign.as_bytes().to_vec(), encode(results)?);
        writes.commit()?;
        self.backend.durable()
    }

    /// A campaign's latest kept results.
    pub fn campaign_results(&self, campaign: &str) -> Result<Option<CampaignResults>, StorageError> {
        self.tree(TreeId::Measurements)
            .get(campaign.as_bytes())?
            .map(|raw| decode(&raw, "campaign results"))
            .transpose()
    }

    /// The state of a campaign's last series update, if there was one.
    pub fn series_state(&self, campaign: &str) -> Result<Option<SeriesState>, StorageError> {
        self.tree(TreeId::Measurements)
            .get(state_key(campaign))?
            .map(|raw| decode(&raw, "series state"))
            .transpose()
    }

    /// A campaign's kept days, oldest first.
    pub fn series_days(&self, campaign: &str) -> Result<Vec<DayFigures>, StorageError> {
        self.tree(TreeId::Measurements)
            .scan_prefix(day_prefix(campaign))
            .map(|entry| decode(&entry?.1, "series day"))
            .collect()
    }

    /// Replaces a campaign's days from `from_day` on (every day when `None`) with `days`, and
    /// keeps `state`, in one atomic, durable write: a reader sees the old series or the new one.
    pub fn replace_series(
        &self,
        campaign: &str,
        from_day: Option<&str>,
        days: &[DayFigures],
        state: &SeriesState,
    ) -> Result<(), StorageError> {
        let prefix = day_prefix(campaign);
        let mut start = prefix.clone();
        start.extend_from_slice(from_day.unwrap_or_default().as_bytes());
        let mut writes = WriteSet::new(self);
        for entry in self.tree(TreeId::Measurements).range(start..) {
            let (key, _) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            writes.remove(TreeId::Measurements, key.to_vec());
        }
        for day in days {
            let mut key = prefix.clone();
            key.extend_from_slice(day.day.as_bytes());
            writes.put(TreeId::Measurements, key, encode(day)?);
        }
        writes.put(TreeId::Measurements, state_key(campaign), encode(state)?);
        writes.commit()?;
        self.backend.durable()
    }

    /// A campaign's record from `since` (ms) on, in time order: its time index read from there.
    pub fn campaign_record_since(
        &self,
        campaign: &str,
        since: i64,
    ) -> impl Iterator<Item = Result<Event, StorageError>> + '_ {
        let prefix = keys::campaign_prefix(campaign);
        let mut start = prefix.clone();
        start.extend_from_slice(&keys::time(since));
        let events = self.tree(TreeId::Events);
        self.tree(TreeId::CampaignEvents)
            .range(start..)
            .take_while(move |entry| entry.as_ref().map_or(true, |(key, _)| key.starts_with(&prefix)))
            .filter_map(move |entry| {
                let event = (|| {
                    let (_, event_key) = entry?;
                    // An index entry whose event was erased (privacy deletion) is skipped.
                    events.get(&event_key)?.map(|raw| decode(&raw, "event")).transpose()
                })();
                event.transpose()
            })
    }
}
