//! Dates for the `date` and `local_date` filters: what the reference accepts as a date (epoch
//! seconds, `now`, ISO 8601 and the common written forms), strftime with Ruby's directives, and
//! month and day names in the locales Baton's readers use most.
//!
//! Depends on the crate's `Context` and `value`.

use jiff::ZonedDateTime as Zoned;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use crate::Context;
use crate::value::Value;

/// A value as a moment in the context's time zone, or `None` when it is not a date (the filter
/// then returns its input unchanged, as the reference does).
pub(crate) fn parse(context: &Context, value: &Value) -> Option<Zoned> {
    let tz = &context.time_zone;
    let from_seconds = |s: i64| jiff::Timestamp::from_second(s).ok().map(|t| t.to_zoned_datetime(tz.clone()));
    match value {
        Value::Int(i) => from_seconds(*i),
        Value::Float(f) => from_seconds(*f as i64),
        Value::Str(s) | Value::Safe(s) => {
            let s = s.trim();
            match s {
                "" => None,
                "now" | "today" => jiff::Timestamp::from_millisecond(context.now_ms)
                    .ok()
                    .map(|t| t.to_zoned_datetime(tz.clone())),
                digits if digits.bytes().all(|b| b.is_ascii_digit()) => from_seconds(digits.parse().ok()?),
                text => parse_text(text, tz),
            }
        }
        _ => None,
    }
}

fn parse_text(text: &str, tz: &TimeZone) -> Option<Zoned> {
    // A moment with an offset is converted into the reader's zone.
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Some(t.to_zoned_datetime(tz.clone()));
    }
    for pattern in ["%Y-%m-%d %H:%M:%S %z", "%a, %d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M:%S %z"] {
        if let Ok(t) = jiff::fmt::strtime::parse(pattern, text).and_then(|b| b.to_timestamp()) {
            return Some(t.to_zoned_datetime(tz.clone()));
        }
    }
    // A wall-clock time without an offset is read in the reader's zone.
    if let Ok(dt) = text.parse::<DateTime>() {
        return dt.to_zoned_datetime(tz.clone()).ok();
    }
    if let Ok(d) = text.parse::<Date>() {
        return d.to_zoned_datetime(tz.clone()).ok();
    }
    for pattern in
        ["%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d", "%B %d, %Y %H:%M", "%b %d, %Y %H:%M"]
    {
        if let Ok(broken) = jiff::fmt::strtime::parse(pattern, text) {
            let dt = broken
                .to_datetime()
                .or_else(|_| broken.to_date().map(|d| d.to_datetime(jiff::civil::Time::midnight())));
            if let Ok(dt) = dt {
                return dt.to_zoned_datetime(tz.clone()).ok();
            }
        }
    }
    None
}

/// Formats with strftime directives, Ruby's included (`%c`, `%x`, `%X`, `%r`, `%L`); names in
/// `locale`. An unknown directive is printed as written, as Ruby does.
pub(crate) fn format(time: &Zoned, pattern: &str, locale: &str) -> String {
    let names = Names::of(locale);
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let spec = &rest[at..];
        // `%`, flags, width, then one directive (with `:` prefixes for offsets).
        let mut end = 1;
        let bytes = spec.as_bytes();
        while end < bytes.len() && matches!(bytes[end], b'-' | b'_' | b'0' | b'^' | b'#' | b':') {
            end += 1;
        }
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        let Some(directive) = spec[end..].chars().next() else {
            out.push_str(spec);
            return out;
        };
        let piece = &spec[..end + directive.len_utf8()];
        let upper = spec[1..end].contains('^');
        let named = |name: &str| if upper { name.to_uppercase() } else { name.to_string() };
        match directive {
            'c' => out.push_str(&format(time, "%a %b %e %H:%M:%S %Y", locale)),
            'x' => out.push_str(&format(time, "%m/%d/%y", locale)),
            'X' => out.push_str(&format(time, "%H:%M:%S", locale)),
            'r' => out.push_str(&format(time, "%I:%M:%S %p", locale)),
            'L' => out.push_str(&format!("{:03}", time.millisecond())),
            'A' => out.push_str(&named(names.days[weekday(time)])),
            'a' => out.push_str(&named(names.days_short[weekday(time)])),
            'B' => out.push_str(&named(names.months[month(time)])),
            'b' | 'h' => out.push_str(&named(names.months_short[month(time)])),
            _ => match jiff::fmt::strtime::format(piece, time) {
                Ok(text) => out.push_str(&text),
                Err(_) => out.push_str(piece),
            },
        }
        rest = &spec[piece.len()..];
    }
    out.push_str(rest);
    out
}

/// `short`, `medium`, `long` or `full` in the locale's order, or a strftime pattern.
pub(crate) fn format_local(time: &Zoned, style: &str, locale: &str) -> String {
    let names = Names::of(locale);
    let pattern = match style {
        "short" => names.short,
        "medium" => names.medium,
        "long" => names.long,
        "full" => names.full,
        pattern => pattern,
    };
    format(time, pattern, locale)
}

fn weekday(time: &Zoned) -> usize {
    time.weekday().to_sunday_zero_offset() as usize
}

fn month(time: &Zoned) -> usize {
    (time.month() - 1) as usize
}

/// A locale's names and date patterns (CLDR's, for the languages Baton ships).
struct Names {
    days: [&'static str; 7],
    days_short: [&'static str; 7],
    months: [&'static str; 12],
    months_short: [&'static str; 12],
    short: &'static str,
    medium: &'static str,
    long: &'static str,
    full: &'static str,
}

impl Names {
    /// The names for a locale tag (`fr`, `fr-CA`, `pt_BR`); English for any other language.
    fn of(locale: &str) -> Names {
        let language = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match language.as_str() {
            "fr" => Names {
                days: ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
                days_short: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
                months: [
                    "janvier",
                    "février",
                    "mars",
                    "avril",
                    "mai",
                    "juin",
                    "juillet",
                    "août",
                    "septembre",
                    "octobre",
                    "novembre",
                    "décembre",
                ],
                months_short: [
                    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
                    "nov.", "déc.",
                ],
                short: "%d/%m/%Y",
                medium: "%-d %b %Y",
                long: "%-d %B %Y",
                full: "%A %-d %B %Y",
            },
            "de" => Names {
                days: ["Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"],
                days_short: ["So.", "Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa."],
                months: [
                    "Januar",
                    "Februar",
                    "März",
                    "April",
                    "Mai",
                    "Juni",
                    "Juli",
                    "August",
                    "September",
                    "Oktober",
                    "November",
                    "Dezember",
                ],
                months_short: [
                    "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.",
                    "Dez.",
                ],
                short: "%d.%m.%Y",
                medium: "%d.%m.%Y",
                long: "%-d. %B %Y",
                full: "%A, %-d. %B %Y",
            },
            "es" => Names {
                days: ["domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"],
                days_short: ["dom", "lun", "mar", "mié", "jue", "vie", "sáb"],
                months: [
                    "enero",
                    "febrero",
                    "marzo",
                    "abril",
                    "mayo",
                    "junio",
                    "julio",
                    "agosto",
                    "septiembre",
                    "octubre",
                    "noviembre",
                    "diciembre",
                ],
                months_short: [
                    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic",
                ],
                short: "%-d/%-m/%y",
                medium: "%-d %b %Y",
                long: "%-d de %B de %Y",
                full: "%A, %-d de %B de %Y",
            },
            "it" => Names {
                days: ["domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"],
                days_short: ["dom", "lun", "mar", "mer", "gio", "ven", "sab"],
                months: [
                    "gennaio",
                    "febbraio",
                    "marzo",
                    "aprile",
                    "maggio",
                    "giugno",
                    "luglio",
                    "agosto",
                    "settembre",
                    "ottobre",
                    "novembre",
                    "dicembre",
                ],
                months_short: [
                    "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
                ],
                short: "%d/%m/%y",
                medium: "%-d %b %Y",
                long: "%-d %B %Y",
                full: "%A %-d %B %Y",
            },
            "pt" => Names {
                days: [
                    "domingo",
                    "segunda-feira",
                    "terça-feira",
                    "quarta-feira",
                    "quinta-feira",
                    "sexta-feira",
                    "sábado",
                ],
                days_short: ["dom.", "seg.", "ter.", "qua.", "qui.", "sex.", "sáb."],
                months: [
                    "janeiro",
                    "fevereiro",
                    "março",
                    "abril",
                    "maio",
                    "junho",
                    "julho",
                    "agosto",
                    "setembro",
                    "outubro",
                    "novembro",
                    "dezembro",
                ],
                months_short: [
                    "jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.",
                    "dez.",
                ],
                short: "%d/%m/%Y",
                medium: "%-d de %b de %Y",
                long: "%-d de %B de %Y",
                full: "%A, %-d de %B de %Y",
            },
            "nl" => Names {
                days: ["zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"],
                days_short: ["zo", "ma", "di", "wo", "do", "vr", "za"],
                months: [
                    "januari",
                    "februari",
                    "maart",
                    "april",
                    "mei",
                    "juni",
                    "juli",
                    "augustus",
                    "september",
                    "oktober",
                    "november",
                    "december",
                ],
                months_short: [
                    "jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec",
                ],
                short: "%d-%m-%Y",
                medium: "%-d %b %Y",
                long: "%-d %B %Y",
                full: "%A %-d %B %Y",
            },
            _ => Names {
                days: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
                days_short: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
                months: [
                    "January",
                    "February",
                    "March",
                    "April",
                    "May",
                    "June",
                    "July",
                    "August",
                    "September",
                    "October",
                    "November",
                    "December",
                ],
                months_short: [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
                ],
                short: "%-m/%-d/%y",
                medium: "%b %-d, %Y",
                long: "%B %-d, %Y",
                full: "%A, %B %-d, %Y",
            },
        }
    }
}
