//! Text forms of values as ClickHouse prints and parses them: timestamps, floats, escapes.

use crate::types::Value;

const NS_PER_SEC: i64 = 1_000_000_000;

/// `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

/// Day number since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD hh:mm:ss.fffffffff` (UTC), as ClickHouse prints `DateTime64(9)`.
pub fn format_ts_ns(ns: i64) -> String {
    let mut s = String::with_capacity(29);
    write_ts_ns(&mut s, ns);
    s
}

pub fn write_ts_ns(out: &mut String, ns: i64) {
    use std::fmt::Write;
    let secs = ns.div_euclid(NS_PER_SEC);
    let frac = ns.rem_euclid(NS_PER_SEC);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:09}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD hh:mm:ss[.f{1,9}]`, and RFC 3339 forms
/// (`T` separator, `Z` or `±hh:mm` offset) into ns since the epoch (UTC).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    // Only ASCII can be a date; checking first keeps every slice below on char boundaries.
    if !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)? as u32, num(8..10)? as u32);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ns = days_from_civil(y, mo, d).checked_mul(86_400 * NS_PER_SEC)?;
    if b.len() == 10 {
        return Some(ns);
    }
    if !matches!(b[10], b' ' | b'T') || b.len() < 19 || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    ns = ns.checked_add((h * 3600 + mi * 60 + se) * NS_PER_SEC)?;
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let start = at + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start {
            return None;
        }
        let digits = &s[start..end.min(start + 9)];
        let frac: i64 = digits.parse().ok()?;
        ns = ns.checked_add(frac * 10i64.pow(9 - digits.len() as u32))?;
        at = end;
    }
    match &s[at..] {
        "" | "Z" | "z" => Some(ns),
        off if (off.starts_with('+') || off.starts_with('-'))
            && off.len() == 6
            && &off[3..4] == ":" =>
        {
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let oh: i64 = off[1..3].parse().ok()?;
            let om: i64 = off[4..6].parse().ok()?;
            ns.checked_sub(sign * (oh * 3600 + om * 60) * NS_PER_SEC)
        }
        _ => None,
    }
}

/// A float as ClickHouse prints it (shortest round-trip digits, its exponent rules, `inf`,
/// `-inf`, `nan`); one implementation shared with the output formats.
pub fn format_f64(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    crate::format::write_float_text(&mut out, v);
    String::from_utf8(out).expect("ASCII")
}

/// The text of a value as TabSeparated prints it (unescaped).
pub fn format_value(v: &Value) -> String {
    match v {
        Value::Null => "\\N".into(),
        Value::Int(x) => x.to_string(),
        Value::UInt(x) => x.to_string(),
        Value::Float(x) => format_f64(*x),
        Value::Bool(x) => (if *x { "true" } else { "false" }).into(),
        Value::Str(s) => s.clone(),
        Value::Ts(ns) => format_ts_ns(*ns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let ns = 1_763_649_000_123_456_789; // 2025-11-20 14:30:00.123456789
        assert_eq!(format_ts_ns(ns), "2025-11-20 14:30:00.123456789");
        assert_eq!(parse_datetime("2025-11-20 14:30:00.123456789"), Some(ns));
        assert_eq!(parse_datetime("2025-11-20T14:30:00.123456789Z"), Some(ns));
        assert_eq!(
            parse_datetime("2025-11-20T16:30:00.123456789+02:00"),
            Some(ns)
        );
        assert_eq!(
            parse_datetime("2025-11-20 14:30:00"),
            Some(ns - 123_456_789)
        );
        assert_eq!(
            parse_datetime("2025-11-20 14:30:00.5"),
            Some(ns - 123_456_789 + 500_000_000)
        );
        assert_eq!(
            parse_datetime("2025-11-20"),
            Some(ns - 123_456_789 - 52_200 * NS_PER_SEC)
        );
        assert_eq!(format_ts_ns(-1), "1969-12-31 23:59:59.999999999");
        assert_eq!(parse_datetime("2025-11-20T14:30:00+0é00"), None);
        assert_eq!(parse_datetime("9999-12-31 23:59:59"), None, "past i64 ns");
        for bad in [
            "",
            "2025-13-01",
            "2025-11-20 25:00:00",
            "2025-11-20 14:30",
            "2025-11-20 14:30:00.",
            "x",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn floats_print_like_clickhouse() {
        assert_eq!(format_f64(1.5), "1.5");
        assert_eq!(format_f64(100.0), "100");
        assert_eq!(format_f64(f64::NAN), "nan");
        assert_eq!(format_f64(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_f64(1e300), "1e300");
        assert_eq!(format_f64(1e-7), "1e-7");
    }
}
