//! Calendar arithmetic for policy dates and messages: `YYYY-MM-DD`, RFC 3339 instants, `2027-01-15 08:00 UTC`.
//!
//! The `time` crate's parser and formatter were about 40 KB of the wasm module for these three
//! uses; the tests check this code against `time` (a dev-dependency) on every shape it accepts.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A fixed-width run of ASCII digits.
fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |n, &b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
}

/// `YYYY-MM-DD` as days since 1970-01-01; `None` unless it is a real date.
pub(crate) fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (i64::from(digits(&b[..4])?), digits(&b[5..7])?, digits(&b[8..])?);
    let valid = (1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day);
    valid.then(|| days_from_civil(year, month, day))
}

/// An RFC 3339 instant (`2027-01-15T08:00:00Z`, `…t…z`, `… 08:00…`, `….5+08:00`) in Unix ms.
/// Leap seconds (`:60`) are not accepted.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = parse_date(s.get(..10)?)?;
    let (hour, minute, second) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // Milliseconds, truncated (as `unix_timestamp_nanos() / 1_000_000`).
        let padded: Vec<u8> = fraction[..n].iter().copied().chain(*b"000").take(3).collect();
        millis = i64::from(digits(&padded)?);
        rest = &fraction[n..];
    }
    let offset_minutes = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = i64::from(h * 60 + m);
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Some((seconds - offset_minutes * 60) * 1000 + millis)
}

/// A moment for people: `2027-01-15 08:00 UTC`; outside years 0–9999, `… ms after 1970`.
pub(crate) fn format_utc(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    if !(0..=9999).contains(&year) {
        return format!("{ms} ms after 1970");
    }
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", of_day / 3600, of_day % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    fn time_ms(s: &str) -> Option<i64> {
        let t = time::OffsetDateTime::parse(s, &Rfc3339).ok()?;
        i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
    }

    #[test]
    fn rfc3339_as_the_time_crate_reads_it() {
        let cases = [
            "2027-01-15T08:00:00Z",
            "2027-01-15t08:00:00z",
            "2027-01-15T08:00:00.5+08:00",
            "2027-01-15T08:00:00.123456789-10:30",
            "2024-02-29T23:59:59Z",
            "1969-12-31T23:59:59.999Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2027-01-15T08:00:00",
            "2027-01-15 08:00:00Z",
            "2023-02-29T00:00:00Z",
            "2027-13-01T00:00:00Z",
            "2027-01-15T24:00:00Z",
            "2027-01-15T08:00:00.Z",
            "2027-01-15T08:00:00+8:00",
            "2027-01-15T08:00:00+24:00",
            "2027-1-15T08:00:00Z",
            "2027-01-15",
        ];
        for s in cases {
            assert_eq!(parse_rfc3339(s), time_ms(s), "{s}");
        }
        assert_eq!(parse_rfc3339("2027-01-15T08:00:00Z"), Some(1_800_000_000_000));
    }

    #[test]
    fn dates_as_the_time_crate_reads_them() {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        for s in [
            "2027-01-15",
            "2024-02-29",
            "2023-02-29",
            "2000-02-29",
            "1900-02-29",
            "1970-01-01",
            "2027-04-31",
            "2027-00-10",
            "2027-1-15",
            "27-01-15",
            "2027-01-15x",
            "０２７-01-15",
        ] {
            let want =
                time::Date::parse(s, format).ok().map(|d| i64::from(d.to_julian_day()) - 2_440_588);
            assert_eq!(parse_date(s), want, "{s}");
        }
    }

    proptest::proptest! {
        /// Every day from year 1 to 9999 round-trips, and formats as `time` formats it.
        #[test]
        fn formatting_matches_the_time_crate(ms in -62_135_596_800_000i64..253_402_300_799_999) {
            let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            let want = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap().format(&format).unwrap();
            proptest::prop_assert_eq!(format_utc(ms), want);
            let days = ms.div_euclid(86_400_000);
            let (y, m, d) = civil_from_days(days);
            proptest::prop_assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn out_of_range_moments_are_still_readable() {
        assert_eq!(format_utc(i64::MAX), format!("{} ms after 1970", i64::MAX));
        assert_eq!(format_utc(1_800_000_000_000), "2027-01-15 08:00 UTC");
    }
}
