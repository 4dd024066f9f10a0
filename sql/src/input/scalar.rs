//! Text → typed value for the text input formats: integers, floats, bools, timestamps, NULL markers.

use std::num::IntErrorKind;

use storage::ColumnType;

use super::builder::{Cell, Reason};

/// The value of `text` for a column of type `ty`. NULL markers are the caller's business.
pub(crate) fn parse_text(ty: ColumnType, text: &[u8]) -> Result<Cell<'_>, Reason> {
    match ty {
        ColumnType::Int64 => parse_i64(text).map(Cell::I64),
        ColumnType::UInt64 => parse_u64(text).map(Cell::U64),
        ColumnType::Float64 => parse_f64(text).map(Cell::F64),
        ColumnType::Bool => parse_bool(text).map(Cell::Bool).ok_or(Reason::Parse),
        ColumnType::Timestamp => parse_timestamp(text).map(Cell::I64),
        ColumnType::Symbol | ColumnType::String => Ok(Cell::Str(text)),
    }
}

/// A JSON/SQL boolean literal for a column of type `ty`: numbers take 1/0, strings the word.
pub(crate) fn bool_cell(ty: ColumnType, v: bool) -> Result<Cell<'static>, Reason> {
    match ty {
        ColumnType::Bool => Ok(Cell::Bool(v)),
        ColumnType::Int64 => Ok(Cell::I64(v as i64)),
        ColumnType::UInt64 => Ok(Cell::U64(v as u64)),
        ColumnType::Float64 => Ok(Cell::F64(if v { 1.0 } else { 0.0 })),
        ColumnType::Symbol | ColumnType::String => {
            Ok(Cell::Str(if v { b"true" } else { b"false" }))
        }
        ColumnType::Timestamp => Err(Reason::Parse),
    }
}

pub(crate) fn is_string(ty: ColumnType) -> bool {
    matches!(ty, ColumnType::Symbol | ColumnType::String)
}

/// Whether an unquoted text field means NULL: `\N` always; for non-string columns also the
/// empty field and `NULL`/`null` (they could not be values of those types anyway).
pub(crate) fn is_null_text(ty: ColumnType, text: &[u8]) -> bool {
    text == b"\\N" || (!is_string(ty) && (text.is_empty() || text.eq_ignore_ascii_case(b"null")))
}

fn ascii(text: &[u8]) -> Result<&str, Reason> {
    if text.is_ascii() {
        std::str::from_utf8(text).map_err(|_| Reason::Parse)
    } else {
        Err(Reason::Parse)
    }
}

fn int_reason(kind: &IntErrorKind) -> Reason {
    match kind {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => Reason::OutOfRange,
        _ => Reason::Parse,
    }
}

pub(crate) fn parse_i64(text: &[u8]) -> Result<i64, Reason> {
    ascii(text)?
        .parse::<i64>()
        .map_err(|e| int_reason(e.kind()))
}

pub(crate) fn parse_u64(text: &[u8]) -> Result<u64, Reason> {
    let s = ascii(text)?;
    s.parse::<u64>().map_err(|e| {
        let negative =
            s.len() > 1 && s.starts_with('-') && s[1..].bytes().all(|b| b.is_ascii_digit());
        if negative {
            Reason::OutOfRange
        } else {
            int_reason(e.kind())
        }
    })
}

pub(crate) fn parse_f64(text: &[u8]) -> Result<f64, Reason> {
    ascii(text)?.parse::<f64>().map_err(|_| Reason::Parse)
}

/// `true/false`, `1/0`, `t/f`, `yes/no`, `y/n`, `on/off`, any ASCII case.
pub(crate) fn parse_bool(text: &[u8]) -> Option<bool> {
    const TRUE: [&[u8]; 5] = [b"true", b"1", b"t", b"yes", b"on"];
    const FALSE: [&[u8]; 5] = [b"false", b"0", b"f", b"no", b"off"];
    if TRUE.iter().any(|w| text.eq_ignore_ascii_case(w)) || text.eq_ignore_ascii_case(b"y") {
        Some(true)
    } else if FALSE.iter().any(|w| text.eq_ignore_ascii_case(w)) || text.eq_ignore_ascii_case(b"n")
    {
        Some(false)
    } else {
        None
    }
}

/// Years whose timestamps fit i64 nanoseconds with room for a ±24h offset
/// (the representable range is 1677-09-21 … 2262-04-11).
const YEARS_NS: std::ops::RangeInclusive<i64> = 1678..=2261;

/// An integer (nanoseconds since the epoch) or a date-time string
/// (`2026-11-20 14:30:00.123456789`, `2026-11-20`, RFC 3339).
pub(crate) fn parse_timestamp(text: &[u8]) -> Result<i64, Reason> {
    let digits = match text.first() {
        Some(b'-' | b'+') => &text[1..],
        _ => text,
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        return parse_i64(text);
    }
    let s = ascii(text)?.trim();
    // `parse_datetime` multiplies out the year unchecked; keep it within i64 nanoseconds.
    let year = s
        .get(..4)
        .filter(|y| y.bytes().all(|b| b.is_ascii_digit()) && s.as_bytes().get(4) == Some(&b'-'));
    match year.and_then(|y| y.parse::<i64>().ok()) {
        Some(y) if YEARS_NS.contains(&y) => crate::text::parse_datetime(s).ok_or(Reason::Parse),
        Some(_) if looks_like_date(s) => Err(Reason::OutOfRange),
        _ => Err(Reason::Parse),
    }
}

/// `YYYY-MM-DD` at the start: a date whose year is merely out of range.
fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[8..10].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_ranges() {
        assert_eq!(parse_i64(b"-42"), Ok(-42));
        assert_eq!(parse_i64(b"+7"), Ok(7));
        assert_eq!(parse_i64(b"9223372036854775808"), Err(Reason::OutOfRange));
        assert_eq!(parse_i64(b"1.0"), Err(Reason::Parse));
        assert_eq!(parse_i64("٣".as_bytes()), Err(Reason::Parse));
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"-1"), Err(Reason::OutOfRange));
        assert_eq!(parse_u64(b"-"), Err(Reason::Parse));
    }

    #[test]
    fn floats_bools_nulls() {
        assert_eq!(parse_f64(b"1e3"), Ok(1000.0));
        assert!(parse_f64(b"nan").unwrap().is_nan());
        assert_eq!(parse_f64(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"abc"), Err(Reason::Parse));
        assert_eq!(parse_bool(b"TRUE"), Some(true));
        assert_eq!(parse_bool(b"0"), Some(false));
        assert_eq!(parse_bool(b"2"), None);
        assert!(is_null_text(ColumnType::Float64, b""));
        assert!(is_null_text(ColumnType::Float64, b"NULL"));
        assert!(is_null_text(ColumnType::String, b"\\N"));
        assert!(!is_null_text(ColumnType::String, b""));
        assert!(!is_null_text(ColumnType::String, b"NULL"));
    }

    #[test]
    fn timestamps() {
        let ns = 1_795_185_000_123_456_789; // 2026-11-20 14:30:00.123456789
        assert_eq!(parse_timestamp(b"2026-11-20 14:30:00.123456789"), Ok(ns));
        assert_eq!(parse_timestamp(b"2026-11-20T14:30:00.123456789Z"), Ok(ns));
        assert_eq!(parse_timestamp(b"1795185000123456789"), Ok(ns));
        assert_eq!(parse_timestamp(b"-5"), Ok(-5));
        assert_eq!(
            parse_timestamp(b"9999-01-01 00:00:00"),
            Err(Reason::OutOfRange)
        );
        assert_eq!(parse_timestamp(b"0000-01-01"), Err(Reason::OutOfRange));
        assert_eq!(
            parse_timestamp(b"99999999999999999999"),
            Err(Reason::OutOfRange)
        );
        assert_eq!(
            parse_timestamp("2026-11-20T14:30:00+1é00".as_bytes()),
            Err(Reason::Parse)
        );
        assert_eq!(
            parse_timestamp(b"2026-11-20 14:30:00+1x:00"),
            Err(Reason::Parse)
        );
        assert_eq!(parse_timestamp(b"yesterday"), Err(Reason::Parse));
        assert_eq!(parse_timestamp(b""), Err(Reason::Parse));
    }
}
