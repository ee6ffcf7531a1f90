//! How the store's tables are laid out in PostgreSQL, and the schema's migrations.
//!
//! Every table keeps the store's byte keys and values (`k`, `v`): `bytea` sorts bytewise, as sled
//! does, so both backends scan in the same order. Beside them, columns derived from the key or
//! value when a row is written:
//!
//! - `profile_id` on the tables keyed by profile (profiles, their events, sends, journey
//!   positions, upkeep marks, aliases): the distribution column. On Citus,
//!   `SELECT create_distributed_table('<schema>.<table>', 'profile_id', colocate_with => ...)` shards
//!   them by customer unchanged, because every unique key includes `profile_id`, and Baton names
//!   it in every read of one profile's rows, so such a read goes to one shard.
//! - `at` (ms since the epoch) on events and their two indexes (event ids, campaign events):
//!   these are partitioned by month of `at`, so retention drops whole months, and a profile's
//!   or a campaign's reads stay index ranges within each month.
//!
//! Depends on: the store's table names.

use crate::store::TreeId;

/// The columns a table has beside `k` and `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Nothing else.
    Plain,
    /// `profile_id`: the key starts with the profile id (8 bytes, big-endian).
    Profile,
    /// `profile_id` and `at`, partitioned by month: events, keyed profile + time + sequence.
    Events,
    /// `at`, partitioned by month, from the key after its NUL-ended prefix: campaign id + 0 +
    /// time + sequence.
    TimedAfterPrefix,
    /// `at`, partitioned by month, from the value, which is an event's key: event id → event.
    TimedByValue,
}

impl Layout {
    pub(super) fn of(tree: TreeId) -> Layout {
        match tree {
            TreeId::Profiles
            | TreeId::ProfileAliases
            | TreeId::ProfileSends
            | TreeId::SegmentDirty
            | TreeId::JourneyPositions => Layout::Profile,
            TreeId::Events => Layout::Events,
            TreeId::CampaignEvents => Layout::TimedAfterPrefix,
            TreeId::EventIds => Layout::TimedByValue,
            _ => Layout::Plain,
        }
    }

    pub(super) fn has_profile(self) -> bool {
        matches!(self, Layout::Profile | Layout::Events)
    }

    pub(super) fn partitioned(self) -> bool {
        matches!(self, Layout::Events | Layout::TimedAfterPrefix | Layout::TimedByValue)
    }

    /// The columns of the primary key (every unique key must hold the distribution column and
    /// the partition column).
    fn key_columns(self) -> &'static str {
        match self {
            Layout::Plain => "k",
            Layout::Profile => "k, profile_id",
            Layout::Events => "k, profile_id, at",
            Layout::TimedAfterPrefix | Layout::TimedByValue => "k, at",
        }
    }

    /// The profile id a row's key names.
    pub(super) fn profile(self, key: &[u8]) -> Option<i64> {
        self.has_profile().then(|| lower_profile(key))
    }

    /// The time of a row, from its key or, for [`Layout::TimedByValue`], its value.
    pub(super) fn time(self, key: &[u8], value: Option<&[u8]>) -> Option<i64> {
        let stamp = match self {
            Layout::Events => key.get(8..16)?,
            Layout::TimedAfterPrefix => {
                let nul = key.iter().position(|b| *b == 0)?;
                key.get(nul + 1..nul + 9)?
            }
            Layout::TimedByValue => value?.get(8..16)?,
            Layout::Plain | Layout::Profile => return None,
        };
        let raw = u64::from_be_bytes(stamp.try_into().ok()?);
        // Keys hold times with the sign bit flipped, so that they sort (keys::time).
        Some((raw ^ (1 << 63)) as i64)
    }

    /// The time of a row known from its key alone (to name its partition in a read).
    pub(super) fn time_from_key(self, key: &[u8]) -> Option<i64> {
        match self {
            Layout::TimedByValue => None,
            _ => self.time(key, None),
        }
    }

    /// The insert-or-replace of many rows at once, from arrays: keys, values, then the derived
    /// columns in the order [`Layout::columns`] gives.
    pub(super) fn upsert(self, table: &str) -> String {
        let (columns, arrays) = match self {
            Layout::Plain => ("k, v", "$1::bytea[], $2::bytea[]"),
            Layout::Profile => ("k, v, profile_id", "$1::bytea[], $2::bytea[], $3::int8[]"),
            Layout::Events => ("k, v, profile_id, at", "$1::bytea[], $2::bytea[], $3::int8[], $4::int8[]"),
            Layout::TimedAfterPrefix | Layout::TimedByValue => {
                ("k, v, at", "$1::bytea[], $2::bytea[], $3::int8[]")
            }
        };
        format!(
            "INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) \
             ON CONFLICT ({}) DO UPDATE SET v = EXCLUDED.v",
            self.key_columns()
        )
    }

    fn create(self, table: &str) -> String {
        let (extra, partition) = match self {
            Layout::Plain => ("", ""),
            Layout::Profile => (", profile_id bigint NOT NULL", ""),
            Layout::Events => {
                (", profile_id bigint NOT NULL, at bigint NOT NULL", " PARTITION BY RANGE (at)")
            }
            Layout::TimedAfterPrefix | Layout::TimedByValue => {
                (", at bigint NOT NULL", " PARTITION BY RANGE (at)")
            }
        };
        let mut sql = format!(
            "CREATE TABLE {table} (k bytea NOT NULL, v bytea NOT NULL{extra}, PRIMARY KEY ({})){partition};\n",
            self.key_columns()
        );
        if self.partitioned() {
            // Times outside the months Baton makes partitions for. No default partition: a row
            // whose month has no partition yet is refused, not parked where the month's
            // partition could not be made afterwards.
            let (first, last) = (month_start(FIRST_YEAR), month_start(LAST_YEAR + 1));
            sql.push_str(&format!(
                "CREATE TABLE {table}_before PARTITION OF {table} FOR VALUES FROM (MINVALUE) TO ({first});\n\
                 CREATE TABLE {table}_after PARTITION OF {table} FOR VALUES FROM ({last}) TO (MAXVALUE);\n"
            ));
        }
        sql
    }
}

/// The lowest profile id a key at or after `key` can name (the first 8 bytes, padded with zeros);
/// ids past `i64::MAX` are never handed out, so larger bytes clamp there.
pub(super) fn lower_profile(key: &[u8]) -> i64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    i64::try_from(u64::from_be_bytes(bytes)).unwrap_or(i64::MAX)
}

/// The highest profile id a key below `key` (or at it, when `included`) can name.
pub(super) fn upper_profile(key: &[u8], included: bool) -> i64 {
    let id = lower_profile(key);
    // A key below an 8-byte-or-shorter bound has its first 8 bytes below the padded bound, unless
    // it is the bound itself, which only an included 8-byte bound admits.
    if key.len() < 8 || (key.len() == 8 && !included) { id.saturating_sub(1) } else { id }
}

/// The years Baton keeps events by the month; times before and after go to one partition each.
const FIRST_YEAR: i16 = 1970;
const LAST_YEAR: i16 = 2199;

/// Midnight UTC on the first of January of `year`, in ms.
fn month_start(year: i16) -> i64 {
    month_bounds(year, 1).map_or(0, |(from, _)| from)
}

/// A month's bounds in ms: midnight UTC on its first day, and on the next month's.
fn month_bounds(year: i16, month: i8) -> Option<(i64, i64)> {
    let first = jiff::civil::Date::new(year, month, 1).ok()?;
    let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
    let ms = |d: jiff::civil::Date| {
        d.to_zoned_datetime(jiff::tz::TimeZone::UTC).map(|z| z.timestamp().as_millisecond()).ok()
    };
    Some((ms(first)?, ms(next)?))
}

/// The month a time falls in, as the partition's name suffix and its bounds in ms, for times in
/// 1970 to 2199 (the others go to the partitions before and after).
pub(super) fn month_of(at: i64) -> Option<(String, i64, i64)> {
    let when = jiff::Timestamp::from_millisecond(at).ok()?.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    if !(FIRST_YEAR..=LAST_YEAR).contains(&when.year()) {
        return None;
    }
    let (from, to) = month_bounds(when.year(), when.month())?;
    Some((format!("p{:04}_{:02}", when.year(), when.month()), from, to))
}

/// The bounds of the month a partition's name suffix (`p2025_06`) stands for.
pub(super) fn month_named(suffix: &str) -> Option<(i64, i64)> {
    let (year, month) = suffix.strip_prefix('p')?.split_once('_')?;
    month_bounds(year.parse().ok()?, month.parse().ok()?)
}

/// The tables kept by the month, which retention drops a month of together.
pub(super) const BY_MONTH: [TreeId; 3] = [TreeId::Events, TreeId::EventIds, TreeId::CampaignEvents];

/// The statement that makes `table`'s partition for one month, if missing.
pub(super) fn partition(table: &str, month: &(String, i64, i64)) -> String {
    let (suffix, from, to) = month;
    format!(
        "CREATE TABLE IF NOT EXISTS {table}_{suffix} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})"
    )
}

/// Ids are taken from the database in blocks of this many, so an id costs a round trip once in
/// a block; the rest are handed out in memory.
pub(super) const ID_BLOCK: u64 = 1024;

/// The schema's migrations, in order: version N is the Nth. A released migration is never
/// edited; a change is a new one.
pub(super) fn migrations(schema: &str) -> Vec<(&'static str, String)> {
    let mut first =
        format!("CREATE SEQUENCE {schema}.ids INCREMENT BY {ID_BLOCK} MINVALUE 0 START WITH 0;\n");
    for tree in TreeId::ALL {
        first.push_str(&Layout::of(tree).create(&format!("{schema}.{}", tree.name())));
    }
    vec![("the store's tables", first)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_bounds_hold_every_key_between_them() {
        let key = |id: u64, rest: &[u8]| [&id.to_be_bytes()[..], rest].concat();
        // A profile's range: from its 8 bytes to the next id's.
        assert_eq!(lower_profile(&key(7, &[])), 7);
        assert_eq!(upper_profile(&key(8, &[]), false), 7);
        assert_eq!(upper_profile(&key(7, &[]), true), 7);
        // A longer bound keeps its profile; a shorter one pads.
        assert_eq!(upper_profile(&key(7, &[1, 2]), false), 7);
        assert_eq!(lower_profile(&[0, 0]), 0);
        assert_eq!(upper_profile(&[1], false), (1i64 << 56) - 1);
        // Past the ids ever handed out.
        assert_eq!(lower_profile(&[0xFF; 9]), i64::MAX);
    }

    #[test]
    fn times_come_from_where_each_layout_keeps_them() {
        let stamp = |t: i64| ((t as u64) ^ (1 << 63)).to_be_bytes();
        let event = [&7u64.to_be_bytes()[..], &stamp(-5)[..], &9u64.to_be_bytes()[..]].concat();
        assert_eq!(Layout::Events.time(&event, None), Some(-5));
        let indexed = [b"spring".as_slice(), &[0], &stamp(1_750_000_000_000)[..], &[1; 8]].concat();
        assert_eq!(Layout::TimedAfterPrefix.time(&indexed, None), Some(1_750_000_000_000));
        assert_eq!(Layout::TimedByValue.time(b"evt-1", Some(&event)), Some(-5));
        assert_eq!(Layout::TimedByValue.time_from_key(b"evt-1"), None);
    }

    #[test]
    fn months_split_at_midnight_utc_on_the_first() {
        let june = month_of(1_750_000_000_000).unwrap();
        assert_eq!(june.0, "p2025_06");
        assert_eq!((june.1, june.2), (1_748_736_000_000, 1_751_328_000_000));
        assert_eq!(month_of(june.2).unwrap().0, "p2025_07");
        assert_eq!(month_of(june.2 - 1).unwrap().0, "p2025_06");
        assert_eq!(month_of(-1), None);
        assert_eq!(month_of(i64::MAX), None);
        assert_eq!(month_named("p2025_06"), Some((june.1, june.2)));
        assert_eq!(month_named("before"), None);
        assert_eq!(month_start(FIRST_YEAR), 0);
    }
}
