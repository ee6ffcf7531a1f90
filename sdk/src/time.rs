//! Dates as Segment's libraries send them: ISO-8601 text read as milliseconds since the epoch,
//! with no dependency (a plugin carries this into every component).

/// Reads an ISO-8601 date or date-time as milliseconds since the Unix epoch, as Segment's
/// libraries send them: `2025-06-30`, `2025-06-30T10:00:00Z`, with fractions of a second
/// (`.123`), an offset (`+02:00`, `-0500`) or a space instead of the `T`. Without an offset, UTC.
/// `None` for anything else, or a date that does not exist (`2025-02-30`).
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = bytes.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    let time =
        rest.strip_prefix('T').or_else(|| rest.strip_prefix('t')).or_else(|| rest.strip_prefix(' '))?;
    let tb = time.as_bytes();
    let two = |at: usize| -> Option<i64> {
        let part = tb.get(at..at + 2)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| i64::from(part[0] - b'0') * 10 + i64::from(part[1] - b'0'))
    };
    let (hour, minute) = (two(0)?, two(3)?);
    if tb.get(2) != Some(&b':') || hour > 23 || minute > 59 {
        return None;
    }
    let mut at = 5;
    let mut second = 0;
    if tb.get(at) == Some(&b':') {
        second = two(at + 1)?;
        if second > 60 {
            return None;
        }
        at += 3;
    }
    let mut millis = 0;
    if tb.get(at) == Some(&b'.') || tb.get(at) == Some(&b',') {
        at += 1;
        let start = at;
        while tb.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let fraction = &time[start..at];
        if fraction.is_empty() {
            return None;
        }
        // Milliseconds: the first three digits, padded.
        millis = format!("{fraction:0<3}")[..3].parse::<i64>().ok()?;
    }
    ms += ((hour * 60 + minute) * 60 + second.min(59)) * 1_000 + millis;
    let zone = &time[at..];
    let offset_minutes = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let zb = zone[1..].as_bytes();
            let num = |a: usize| -> Option<i64> {
                let p = zb.get(a..a + 2)?;
                p.iter().all(u8::is_ascii_digit).then(|| i64::from(p[0] - b'0') * 10 + i64::from(p[1] - b'0'))
            };
            let (h, m) = match zb.len() {
                2 => (num(0)?, 0),
                4 => (num(0)?, num(2)?),
                5 if zb[2] == b':' => (num(0)?, num(3)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    Some(ms - offset_minutes * 60_000)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    /// Expected values from Python 3.11's `datetime.fromisoformat(...).timestamp() * 1000`.
    #[test]
    fn iso_8601_dates_read_as_python_reads_them() {
        let cases = [
            ("1970-01-01", Some(0)),
            ("1969-12-31T23:59:59Z", Some(-1_000)),
            ("2025-06-30", Some(1_751_241_600_000)),
            ("2025-06-29T22:30:00Z", Some(1_751_236_200_000)),
            ("2025-06-30T00:30:00+02:00", Some(1_751_236_200_000)),
            ("2025-06-29T17:30:00-0500", Some(1_751_236_200_000)),
            ("2025-06-29 22:30:00.5", Some(1_751_236_200_500)),
            ("2025-06-29T22:30:00.123456Z", Some(1_751_236_200_123)),
            ("2025-06-29T22:30Z", Some(1_751_236_200_000)),
            ("2024-02-29", Some(1_709_164_800_000)),
            ("2025-02-29", None),
            ("2025-13-01", None),
            ("2025-06-30T25:00:00Z", None),
            ("2025-06-30T10:00:00+2", None),
            ("30/06/2025", None),
            ("", None),
            ("12.5", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text), expected, "{text}");
        }
    }
}
