//! Text of single values exactly as ClickHouse prints them: integers, floats (shortest
//! round-trip digits, JavaScript-style exponent thresholds, no `+` in exponents), booleans and
//! `DateTime64(9)`; plus the varint of the binary formats.

use std::io::Write;

use super::column::Cells;

const NS_PER_SEC: i64 = 1_000_000_000;

pub(super) fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

pub(super) fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// A float as ClickHouse's text formats print it: `nan`, `inf`, `-inf`, `-0`, `0.000001`,
/// `1e-7`, `100000000000000000000`, `1e21`, `1.7976931348623157e308`.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    // Rust's `{:e}` yields the shortest digits that round-trip, as ClickHouse's dragonbox does;
    // only the layout differs.
    let mut buf = [0u8; 32];
    let len = {
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        write!(cursor, "{v:e}").expect("a float in scientific form fits in 32 bytes");
        cursor.position() as usize
    };
    let text = &buf[..len];
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e = text
        .iter()
        .position(|&b| b == b'e')
        .expect("`{:e}` has an exponent");
    let exponent: i32 = std::str::from_utf8(&text[e + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("`{:e}` exponent is an integer");
    let mut digits = [0u8; 20];
    let mut count = 0;
    for &b in text[..e].iter().filter(|b| b.is_ascii_digit()) {
        digits[count] = b;
        count += 1;
    }
    let digits = &digits[..count];
    let k = count as i32;
    // `point`: where the decimal point goes, counted in digits from the left.
    let point = exponent + 1;
    if negative {
        out.push(b'-');
    }
    if k <= point && point <= 21 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (point - k) as usize));
    } else if 0 < point && point <= 21 {
        out.extend_from_slice(&digits[..point as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-point) as usize));
        out.extend_from_slice(digits);
    } else {
        out.push(digits[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        write_i64(out, exponent as i64);
    }
}

pub(super) fn write_bool(out: &mut Vec<u8>, v: u8) {
    out.extend_from_slice(if v != 0 { b"true" } else { b"false" });
}

/// `YYYY-MM-DD hh:mm:ss.fffffffff` in UTC, as ClickHouse prints `DateTime64(9)`.
pub(super) fn write_datetime64(out: &mut Vec<u8>, ns: i64) {
    let secs = ns.div_euclid(NS_PER_SEC);
    let frac = ns.rem_euclid(NS_PER_SEC) as u64;
    let (year, month, day) = crate::text::civil_from_days(secs.div_euclid(86_400));
    let second_of_day = secs.rem_euclid(86_400) as u64;
    // i64 nanoseconds span 1677..2262, so the year always has four digits.
    debug_assert!((1000..=9999).contains(&year));
    let mut buf = *b"0000-00-00 00:00:00.000000000";
    let mut put = |end: usize, width: usize, mut v: u64| {
        for i in (end - width..end).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(4, 4, year as u64);
    put(7, 2, month as u64);
    put(10, 2, day as u64);
    put(13, 2, second_of_day / 3600);
    put(16, 2, second_of_day / 60 % 60);
    put(19, 2, second_of_day % 60);
    put(29, 9, frac);
    out.extend_from_slice(&buf);
}

/// The unquoted, unescaped text of a non-NULL cell (a string's own bytes).
pub(super) fn write_text(out: &mut Vec<u8>, cells: &Cells<'_>, row: usize) {
    match *cells {
        Cells::Int(v) | Cells::Narrow { values: v, .. } => write_i64(out, v[row]),
        Cells::UInt(v) => write_u64(out, v[row]),
        Cells::Float(v) => write_f64(out, v[row]),
        Cells::Bool(v) => write_bool(out, v[row]),
        Cells::Str(v) => out.extend_from_slice(v.get(row)),
        Cells::DateTime(v) => write_datetime64(out, v[row]),
        Cells::Nothing => unreachable!("Nothing cells are always NULL"),
    }
}

/// LEB128, as ClickHouse's `writeVarUInt`.
pub(super) fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Varint length, then the bytes: ClickHouse's `writeStringBinary`.
pub(super) fn write_binary_string(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
