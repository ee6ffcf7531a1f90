//! Key layouts. Big-endian throughout so that byte order is numeric and time order, and prefix
//! scans return a profile's or a campaign's events oldest first.

use crate::profile::ProfileId;

/// Maps an `i64` timestamp to bytes that sort in time order (sign bit flipped).
pub(crate) fn time(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

/// Profile key: the id as 8 bytes.
pub(crate) fn profile(id: ProfileId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// Reads a profile id back from its 8-byte key.
pub(crate) fn profile_from(raw: &[u8]) -> Option<ProfileId> {
    Some(ProfileId(u64::from_be_bytes(raw.get(..8)?.try_into().ok()?)))
}

/// Event key: profile (8) + time (8) + sequence (8).
pub(crate) fn event(profile: ProfileId, ts: i64, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(24);
    key.extend_from_slice(&self::profile(profile));
    key.extend_from_slice(&time(ts));
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The same event filed under another profile (identity stitching keeps time and sequence).
pub(crate) fn event_rekeyed(key: &[u8], to: ProfileId) -> Vec<u8> {
    let mut moved = self::profile(to).to_vec();
    moved.extend_from_slice(key.get(8..).unwrap_or_default());
    moved
}

/// Campaign index key: campaign id + 0 + time (8) + sequence (8). Campaign ids contain no NUL.
pub(crate) fn campaign_event(campaign: &str, event_key: &[u8]) -> Vec<u8> {
    let mut key = campaign_prefix(campaign);
    key.extend_from_slice(event_key.get(8..).unwrap_or_default());
    key
}

/// The prefix of every index key of one campaign.
pub(crate) fn campaign_prefix(campaign: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(campaign.len() + 17);
    key.extend_from_slice(campaign.as_bytes());
    key.push(0);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_in_time_order_across_the_epoch() {
        let times = [i64::MIN, -1_000, -1, 0, 1, 1_750_000_000_000, i64::MAX];
        let keys: Vec<[u8; 8]> = times.iter().map(|t| time(*t)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn rekeying_keeps_time_and_sequence() {
        let key = event(ProfileId(7), 42, 9);
        let moved = event_rekeyed(&key, ProfileId(8));
        assert_eq!(moved, event(ProfileId(8), 42, 9));
        assert_eq!(profile_from(&moved), Some(ProfileId(8)));
    }
}
