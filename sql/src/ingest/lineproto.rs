//! InfluxDB line protocol → one [`DecodedTable`](super::DecodedTable) per measurement.
//!
//! `measurement[,tag=value…] field=value[,field=value…] [timestamp]`, one point per line:
//!
//! - Measurement, tag keys, tag values and field keys: a backslash before `,`, space, `=` or
//!   `\` stands for that byte; a backslash before anything else is itself. A measurement may
//!   hold a raw `=`; a tag value may not. Tag values are never empty.
//! - Field values: `"string"` (`\"` and `\\` are escapes, other backslashes are literal, the
//!   string may span lines), `12i` (Int64), `12u` (UInt64), floats (`-1.5`, `1e9`, `.5`, `5.`;
//!   no `inf`/`NaN`), booleans `t T true True TRUE f F false False FALSE`.
//! - The timestamp is an optional signed integer in the request's [`Precision`]; absent, the
//!   point takes `now_ns`.
//! - Blank lines, lines whose first non-blank byte is `#`, leading blanks, extra spaces between
//!   sections, trailing spaces and CRLF line ends are accepted.
//!
//! Tags become Symbol columns and fields typed columns; a field keeps the type it first had in
//! the request (a line that changes it is rejected, as InfluxDB does). Every row also gets the
//! shard key in `symbol`: the `symbol` tag, else `host`, else `hostname`, else the series key
//! (measurement and tags sorted by key, escaped as line protocol: `cpu,host=a,region=eu`).
//! A bad line is reported with its line number, byte offset and reason; the other lines are
//! still decoded.

use super::builder::{Collector, Item, Row, Span, Val};
use super::{excerpt, DecodeError, Decoded, ErrorSink, Limits, Location, Precision, Reason};

/// How to read one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineOptions {
    pub precision: Precision,
    /// The timestamp of points that have none, in nanoseconds (the request's arrival time).
    pub now_ns: i64,
    pub limits: Limits,
    /// Column types fixed in advance, (table, column, type): see
    /// [`Collector::with_pins`](super::builder::Collector::with_pins). Usually empty.
    pub pins: Vec<(String, String, super::ColumnType)>,
}

impl LineOptions {
    /// Nanosecond precision and default limits.
    pub fn new(now_ns: i64) -> LineOptions {
        LineOptions {
            precision: Precision::Nanoseconds,
            now_ns,
            limits: Limits::default(),
            pins: Vec::new(),
        }
    }
}

/// Decodes a line-protocol body. Fails as a whole only over a [`Limits`] bound of the body;
/// bad lines are in [`Decoded::errors`].
pub fn decode(body: &[u8], opts: &LineOptions) -> Result<Decoded, DecodeError> {
    LineDecoder::default().decode(body, opts)
}

/// A line-protocol decoder whose scratch buffers are kept from one body to the next.
#[derive(Debug, Default)]
pub struct LineDecoder {
    row: Row,
}

impl LineDecoder {
    pub fn decode(&mut self, body: &[u8], opts: &LineOptions) -> Result<Decoded, DecodeError> {
        opts.limits.check_body(body.len())?;
        let mut collector = Collector::new(opts.limits.clone()).with_pins(opts.pins.clone());
        let mut sink = ErrorSink::new(opts.limits.errors_max);
        // Valid UTF-8 as a whole (the usual case) spares a check per line.
        let body_utf8 = std::str::from_utf8(body).is_ok();
        let mut p = Parser {
            d: body,
            pos: 0,
            line: 1,
            precision: opts.precision,
            now_ns: opts.now_ns,
        };
        let n = body.len();
        loop {
            // Blank lines, leading blanks and comments.
            while p.pos < n {
                match body[p.pos] {
                    b' ' | b'\t' => p.pos += 1,
                    b'\n' => {
                        p.pos += 1;
                        p.line += 1;
                    }
                    b'\r' if p.pos + 1 == n || body[p.pos + 1] == b'\n' => p.pos += 1,
                    b'#' => {
                        while p.pos < n && body[p.pos] != b'\n' {
                            p.pos += 1;
                        }
                    }
                    _ => break,
                }
            }
            if p.pos >= n {
                break;
            }
            let start = p.pos;
            let line = p.line;
            let result = match p.line(&mut self.row) {
                Ok(()) => {
                    if !body_utf8 && std::str::from_utf8(&body[start..p.pos]).is_err() {
                        Err((Reason::InvalidUtf8, start))
                    } else {
                        collector.check_rows(1)?;
                        let at = Location::Line {
                            line,
                            offset: start as u32,
                        };
                        collector
                            .commit(body, &self.row, at, false)
                            .map_err(|r| (r, start))
                    }
                }
                Err(e) => {
                    p.pos = line_end(body, start);
                    let newlines = body[start..p.pos].iter().filter(|&&b| b == b'\n').count();
                    p.line = line + newlines as u32;
                    Err(e)
                }
            };
            if let Err((reason, offset)) = result {
                let at = Location::Line {
                    line,
                    offset: offset as u32,
                };
                sink.push(at, reason);
            }
        }
        Ok(Decoded {
            rows: collector.rows,
            tables: collector.finish(),
            errors: sink.errors,
            rejected: sink.rejected,
        })
    }
}

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

/// Bytes that end (or escape within) a measurement.
const MEASUREMENT_STOP: [bool; 256] = byte_set(b", \\\n\r");
/// Bytes that end (or escape within) a tag key, tag value or field key.
const KEY_STOP: [bool; 256] = byte_set(b",= \\\n\r");
/// Bytes that end an unquoted field value or a timestamp.
const VALUE_STOP: [bool; 256] = byte_set(b", \n\r");

/// Whether `\` followed by `b` is an escape in names and tag values.
#[inline]
fn escapable(b: u8) -> bool {
    matches!(b, b',' | b' ' | b'=' | b'\\')
}

/// The end of the token starting at `i` (the first stop byte, or the end of the body), and
/// whether the token holds escapes. A `\r` only ends a token before `\n` or the end of the body.
#[inline(always)]
fn scan(d: &[u8], mut i: usize, stop: &[bool; 256]) -> (usize, bool) {
    let mut escaped = false;
    while i < d.len() {
        let c = d[i];
        if !stop[c as usize] {
            i += 1;
            continue;
        }
        match c {
            b'\\' => {
                if i + 1 < d.len() && escapable(d[i + 1]) {
                    escaped = true;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            b'\r' if i + 1 < d.len() && d[i + 1] != b'\n' => i += 1,
            _ => break,
        }
    }
    (i, escaped)
}

/// Copies `src` into `scratch` with escapes resolved.
fn unescape(src: &[u8], scratch: &mut Vec<u8>, is_escape: fn(u8) -> bool) -> Span {
    let start = scratch.len();
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'\\' && i + 1 < src.len() && is_escape(src[i + 1]) {
            scratch.push(src[i + 1]);
            i += 2;
        } else {
            scratch.push(src[i]);
            i += 1;
        }
    }
    Span {
        start: start as u32,
        end: scratch.len() as u32,
        scratch: true,
    }
}

/// Where the line starting at `start` ends (after its `\n`), with the quoting rules of the
/// parser: used to skip a bad line.
fn line_end(d: &[u8], start: usize) -> usize {
    let n = d.len();
    let mut i = start;
    let (mut fields, mut quoted, mut after_equals) = (false, false, false);
    while i < n {
        let c = d[i];
        if quoted {
            match c {
                b'\\' if i + 1 < n && matches!(d[i + 1], b'"' | b'\\') => i += 2,
                b'"' => {
                    quoted = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match c {
            b'\n' => return i + 1,
            b'\\' if i + 1 < n && escapable(d[i + 1]) => {
                i += 2;
                after_equals = false;
                continue;
            }
            b' ' => fields = true,
            b'"' if fields && after_equals => quoted = true,
            _ => {}
        }
        after_equals = c == b'=';
        i += 1;
    }
    n
}

struct Parser<'a> {
    d: &'a [u8],
    pos: usize,
    /// The 1-based line `pos` is on.
    line: u32,
    precision: Precision,
    now_ns: i64,
}

type LineResult<T> = Result<T, (Reason, usize)>;

fn syntax<T>(message: &'static str, at: usize) -> LineResult<T> {
    Err((Reason::Syntax(message), at))
}

impl Parser<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.d.get(self.pos).copied()
    }

    #[inline]
    fn at_eol(&self) -> bool {
        match self.d.get(self.pos) {
            None | Some(b'\n') => true,
            Some(b'\r') => self.pos + 1 == self.d.len() || self.d[self.pos + 1] == b'\n',
            _ => false,
        }
    }

    #[inline]
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    #[inline]
    fn token(&mut self, row: &mut Row, stop: &[bool; 256]) -> Span {
        let start = self.pos;
        let (end, escaped) = scan(self.d, start, stop);
        self.pos = end;
        if escaped {
            unescape(&self.d[start..end], &mut row.scratch, escapable)
        } else {
            Span::body(start, end)
        }
    }

    /// Parses the line at `pos` into `row` and moves past its line end.
    fn line(&mut self, row: &mut Row) -> LineResult<()> {
        row.clear();
        let start = self.pos;
        row.measurement = self.token(row, &MEASUREMENT_STOP);
        if row.measurement.len() == 0 {
            return syntax("missing measurement", start);
        }
        while self.peek() == Some(b',') {
            self.pos += 1;
            let key_at = self.pos;
            let key = self.token(row, &KEY_STOP);
            if self.peek() != Some(b'=') {
                return syntax("missing '=' after tag key", self.pos);
            }
            if key.len() == 0 {
                return syntax("empty tag key", key_at);
            }
            self.pos += 1;
            let value_at = self.pos;
            let value = self.token(row, &KEY_STOP);
            if self.peek() == Some(b'=') {
                return syntax("unescaped '=' in tag value", self.pos);
            }
            if value.len() == 0 {
                return syntax("missing tag value", value_at);
            }
            row.items.push(Item {
                key,
                val: Val::Tag(value),
            });
        }
        row.series_raw = Some(Span::body(start, self.pos));
        if self.peek() != Some(b' ') {
            return syntax("missing field set", self.pos);
        }
        self.skip_spaces();
        if self.at_eol() {
            return syntax("missing field set", self.pos);
        }
        loop {
            let key_at = self.pos;
            let key = self.token(row, &KEY_STOP);
            if self.peek() != Some(b'=') {
                return syntax("missing '=' after field key", self.pos);
            }
            if key.len() == 0 {
                return syntax("empty field key", key_at);
            }
            self.pos += 1;
            let val = self.field_value(row)?;
            row.items.push(Item { key, val });
            if self.peek() != Some(b',') {
                break;
            }
            self.pos += 1;
        }
        row.ts = self.now_ns;
        if self.peek() == Some(b' ') {
            self.skip_spaces();
            if !self.at_eol() {
                let at = self.pos;
                let (end, _) = scan(self.d, at, &VALUE_STOP);
                let text = &self.d[at..end];
                let value = parse_i64(text).map_err(|e| (e.reason("timestamp", text), at))?;
                row.ts = self.precision.to_ns(value).ok_or_else(|| {
                    (
                        Reason::OutOfRange {
                            kind: "timestamp",
                            text: excerpt(text),
                        },
                        at,
                    )
                })?;
                self.pos = end;
                self.skip_spaces();
            }
        }
        if !self.at_eol() {
            return syntax("unexpected text after the field set", self.pos);
        }
        if self.peek() == Some(b'\r') {
            self.pos += 1;
        }
        if self.peek() == Some(b'\n') {
            self.pos += 1;
            self.line += 1;
        }
        Ok(())
    }

    fn field_value(&mut self, row: &mut Row) -> LineResult<Val> {
        let at = self.pos;
        if self.peek() == Some(b'"') {
            return self.string(row);
        }
        let (end, _) = scan(self.d, at, &VALUE_STOP);
        self.pos = end;
        let text = &self.d[at..end];
        parse_value(text).map_err(|r| (r, at))
    }

    fn string(&mut self, row: &mut Row) -> LineResult<Val> {
        let d = self.d;
        let quote = self.pos;
        let mut i = quote + 1;
        let mut escaped = false;
        loop {
            match d.get(i) {
                None => return syntax("unterminated string", quote),
                Some(b'"') => break,
                Some(b'\\') if i + 1 < d.len() && matches!(d[i + 1], b'"' | b'\\') => {
                    escaped = true;
                    i += 2;
                }
                Some(b'\n') => {
                    self.line += 1;
                    i += 1;
                }
                Some(_) => i += 1,
            }
        }
        let span = if escaped {
            unescape(&d[quote + 1..i], &mut row.scratch, |b| {
                matches!(b, b'"' | b'\\')
            })
        } else {
            Span::body(quote + 1, i)
        };
        self.pos = i + 1;
        if !(self.at_eol() || matches!(self.peek(), Some(b',' | b' '))) {
            return syntax("unexpected text after a closing quote", self.pos);
        }
        Ok(Val::Str(span))
    }
}

/// Why a number did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    Syntax,
    Range,
}

impl NumError {
    fn reason(self, kind: &'static str, text: &[u8]) -> Reason {
        match self {
            NumError::Syntax => Reason::BadValue {
                kind,
                text: excerpt(text),
            },
            NumError::Range => Reason::OutOfRange {
                kind,
                text: excerpt(text),
            },
        }
    }
}

/// An unquoted field value.
fn parse_value(text: &[u8]) -> Result<Val, Reason> {
    let (Some(&first), Some(&last)) = (text.first(), text.last()) else {
        return Err(Reason::Syntax("missing field value"));
    };
    match (first, last) {
        (b't' | b'T' | b'f' | b'F', _) => match text {
            b"t" | b"T" | b"true" | b"True" | b"TRUE" => Ok(Val::Bool(true)),
            b"f" | b"F" | b"false" | b"False" | b"FALSE" => Ok(Val::Bool(false)),
            _ => Err(NumError::Syntax.reason("boolean", text)),
        },
        (_, b'i') => parse_i64(&text[..text.len() - 1])
            .map(Val::I64)
            .map_err(|e| e.reason("integer", text)),
        (_, b'u') => parse_u64(&text[..text.len() - 1])
            .map(Val::U64)
            .map_err(|e| e.reason("unsigned integer", text)),
        (b'0'..=b'9' | b'-' | b'.', _) => parse_f64(text)
            .map(Val::F64)
            .map_err(|e| e.reason("float", text)),
        _ => Err(NumError::Syntax.reason("field value (strings must be quoted)", text)),
    }
}

#[inline]
pub(crate) fn parse_u64(digits: &[u8]) -> Result<u64, NumError> {
    if digits.is_empty() {
        return Err(NumError::Syntax);
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(NumError::Syntax);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(d as u64))
            .ok_or(NumError::Range)?;
    }
    Ok(v)
}

#[inline]
pub(crate) fn parse_i64(text: &[u8]) -> Result<i64, NumError> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_u64(digits)?;
    if negative {
        if magnitude <= 1 << 63 {
            Ok((magnitude as i64).wrapping_neg())
        } else {
            Err(NumError::Range)
        }
    } else {
        i64::try_from(magnitude).map_err(|_| NumError::Range)
    }
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `-?(digits[.digits*] | .digits)([eE][+-]?digits)?`, correctly rounded; infinities and NaN
/// are not numbers here, and a value too large for f64 is out of range.
pub(crate) fn parse_f64(text: &[u8]) -> Result<f64, NumError> {
    let n = text.len();
    let mut i = 0;
    let negative = text.first() == Some(&b'-');
    if negative {
        i = 1;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let int_start = i;
    while i < n && text[i].is_ascii_digit() {
        if digits < 19 {
            mantissa = mantissa * 10 + (text[i] - b'0') as u64;
        }
        digits += 1;
        i += 1;
    }
    let int_len = i - int_start;
    let mut frac_len = 0;
    if i < n && text[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < n && text[i].is_ascii_digit() {
            if digits < 19 {
                mantissa = mantissa * 10 + (text[i] - b'0') as u64;
            }
            digits += 1;
            i += 1;
        }
        frac_len = i - frac_start;
    }
    if int_len + frac_len == 0 {
        return Err(NumError::Syntax);
    }
    let mut exponent = false;
    if i < n && matches!(text[i], b'e' | b'E') {
        exponent = true;
        i += 1;
        if i < n && matches!(text[i], b'+' | b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < n && text[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return Err(NumError::Syntax);
        }
    }
    if i != n {
        return Err(NumError::Syntax);
    }
    if !exponent && digits <= 15 && frac_len < POW10.len() {
        // Clinger's fast path: mantissa and power of ten are exact, so one division rounds
        // correctly.
        let v = mantissa as f64 / POW10[frac_len];
        return Ok(if negative { -v } else { v });
    }
    let s = std::str::from_utf8(text).map_err(|_| NumError::Syntax)?;
    let v: f64 = s.parse().map_err(|_| NumError::Syntax)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(NumError::Range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::DecodedTable;
    use storage::{ColumnType, Values};

    fn opts() -> LineOptions {
        LineOptions::new(42)
    }

    fn dec(body: &str) -> Decoded {
        let d = decode(body.as_bytes(), &opts()).unwrap();
        for t in &d.tables {
            t.check_invariants();
        }
        d
    }

    fn only(d: &Decoded) -> &DecodedTable {
        assert_eq!(d.tables.len(), 1, "{:?}", d.errors);
        &d.tables[0]
    }

    /// Column `name` of `t` as display strings, NULL as "∅".
    fn col(t: &DecodedTable, name: &str) -> Vec<String> {
        let c = t
            .batch
            .columns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        (0..c.data.len())
            .map(|i| {
                if !c.data.is_valid(i) {
                    return "∅".to_string();
                }
                match &c.data.values {
                    Values::I64(v) => v[i].to_string(),
                    Values::U64(v) => format!("{}u", v[i]),
                    Values::F64(v) => format!("{:?}", v[i]),
                    Values::Bool(v) => (v[i] != 0).to_string(),
                    Values::Sym(v) => format!("#{}", t.batch.symbols[v[i] as usize]),
                    Values::Str(v) => format!("{:?}", String::from_utf8_lossy(v.get(i))),
                }
            })
            .collect()
    }

    fn ty(t: &DecodedTable, name: &str) -> ColumnType {
        t.schema().find(|(n, _)| *n == name).unwrap().1
    }

    fn reasons(d: &Decoded) -> Vec<String> {
        d.errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn typical_trade_line() {
        let d = dec(
            "trades,symbol=AAPL,exchange=NASDAQ price=187.25,volume=100i 1732111200000000000\n",
        );
        let t = only(&d);
        assert_eq!(t.name(), "trades");
        assert_eq!(
            t.schema().collect::<Vec<_>>(),
            vec![
                ("timestamp", ColumnType::Timestamp),
                ("symbol", ColumnType::Symbol),
                ("exchange", ColumnType::Symbol),
                ("price", ColumnType::Float64),
                ("volume", ColumnType::Int64),
            ]
        );
        assert_eq!(col(t, "timestamp"), ["1732111200000000000"]);
        assert_eq!(col(t, "symbol"), ["#AAPL"]);
        assert_eq!(col(t, "exchange"), ["#NASDAQ"]);
        assert_eq!(col(t, "price"), ["187.25"]);
        assert_eq!(col(t, "volume"), ["100"]);
        assert_eq!(t.origins, [Location::Line { line: 1, offset: 0 }]);
        assert_eq!(d.rows, 1);
        assert!(d.errors.is_empty());
    }

    #[test]
    fn each_tag_value_is_interned_once_per_batch() {
        let d = dec("t,symbol=A,ex=X p=1\nt,symbol=B,ex=X p=2\nt,symbol=A,ex=Y p=3\n");
        let t = only(&d);
        assert_eq!(t.batch.symbols, ["A", "X", "B", "Y"]);
        assert_eq!(col(t, "symbol"), ["#A", "#B", "#A"]);
        assert_eq!(col(t, "ex"), ["#X", "#X", "#Y"]);
    }

    #[test]
    fn measurements_become_tables_in_order_of_appearance() {
        let d = dec("b,host=h x=1\na,host=h y=2i\nb,host=h x=3\n");
        let names: Vec<&str> = d.tables.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(col(d.table("b").unwrap(), "x"), ["1.0", "3.0"]);
        assert_eq!(
            d.table("b").unwrap().origins[1],
            Location::Line {
                line: 3,
                offset: 27
            }
        );
        assert_eq!(d.rows, 3);
    }

    #[test]
    fn missing_fields_are_nulls() {
        let d = dec("m,symbol=S a=1i\nm,symbol=S b=2i\nm,symbol=S a=3i,b=4i\n");
        let t = only(&d);
        assert_eq!(col(t, "a"), ["1", "∅", "3"]);
        assert_eq!(col(t, "b"), ["∅", "2", "4"]);
        let d = dec("m,symbol=S,x=1 a=1i\nm,symbol=S a=2i\n");
        assert_eq!(col(only(&d), "x"), ["#1", "∅"]);
    }

    #[test]
    fn escapes_in_names_and_tag_values() {
        let d = dec(r#"we\,ird\ m\=x,t\ k\,\=ey=v\ a\,l\=ue\\,plain=a\b f\ k\=\,=1i"#);
        let t = only(&d);
        assert_eq!(t.name(), "we,ird m=x");
        assert_eq!(col(t, "t k,=ey"), ["#v a,l=ue\\"]);
        assert_eq!(
            col(t, "plain"),
            ["#a\\b"],
            "a backslash before other bytes is literal"
        );
        assert_eq!(col(t, "f k=,"), ["1"]);
        // A raw '=' is fine in a measurement, not in a tag value.
        assert_eq!(only(&dec("a=b f=1")).name(), "a=b");
        let d = dec("m,t=a=b f=1");
        assert_eq!(reasons(&d), ["line 1 (byte 5): unescaped '=' in tag value"]);
    }

    #[test]
    fn quoted_strings() {
        let d = dec(
            "m,host=h s=\"a \\\"q\\\" b\\\\c, d=e \\n\",e=\"\",u=\"caf\u{e9} \u{1F600}\"\nm,host=h s=\"multi\nline\" 5\nm,host=h s=\"x\"\n",
        );
        let t = only(&d);
        assert_eq!(ty(t, "s"), ColumnType::String);
        assert_eq!(
            col(t, "s"),
            [r#""a \"q\" b\\c, d=e \\n""#, "\"multi\\nline\"", "\"x\""]
        );
        assert_eq!(col(t, "e"), ["\"\"", "∅", "∅"]);
        assert_eq!(col(t, "u"), ["\"caf\u{e9} \u{1F600}\"", "∅", "∅"]);
        assert_eq!(col(t, "timestamp"), ["42", "5", "42"]);
        assert_eq!(
            t.origins[2],
            Location::Line {
                line: 4,
                offset: 80
            }
        );
    }

    #[test]
    fn numbers_and_booleans() {
        let d = dec("m,host=h i=-9223372036854775808i,u=18446744073709551615u,f=-1.5e-3,g=1E5,h=.5,j=5.,k=1.e3,l=7,n=0.1,o=123456789012345678901234567890\n");
        let t = only(&d);
        assert_eq!(col(t, "i"), ["-9223372036854775808"]);
        assert_eq!(col(t, "u"), ["18446744073709551615u"]);
        assert_eq!(ty(t, "u"), ColumnType::UInt64);
        assert_eq!(col(t, "f"), ["-0.0015"]);
        assert_eq!(col(t, "g"), ["100000.0"]);
        assert_eq!(col(t, "h"), ["0.5"]);
        assert_eq!(col(t, "j"), ["5.0"]);
        assert_eq!(col(t, "k"), ["1000.0"]);
        assert_eq!(col(t, "l"), ["7.0"]);
        assert_eq!(col(t, "n"), ["0.1"]);
        assert_eq!(col(t, "o"), ["1.2345678901234568e29"]);
        let mut body = String::new();
        for (n, b) in [
            "t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE",
        ]
        .iter()
        .enumerate()
        {
            body += &format!("m,host=h b={b} {n}\n");
        }
        let t = dec(&body);
        assert_eq!(
            col(only(&t), "b"),
            ["true", "true", "true", "true", "true", "false", "false", "false", "false", "false"]
        );
    }

    #[test]
    fn float_parser_matches_std_on_awkward_inputs() {
        for s in [
            "0",
            "-0",
            "0.1",
            "0.3",
            "1.7976931348623157e308",
            "4.9e-324",
            "2.2250738585072014e-308",
            "9007199254740993",
            "123456789012345.6",
            "1234567890123456.7",
            "0.000000000000000000001",
            "1e22",
            "1e23",
            "3.14159265358979323846264338327950288",
            "100000000000000000000000",
        ] {
            let ours = parse_f64(s.as_bytes()).unwrap();
            let std: f64 = s.parse().unwrap();
            assert_eq!(ours.to_bits(), std.to_bits(), "{s}");
        }
        for bad in [
            "", "-", ".", "e5", "1e", "1e+", "--1", "1.2.3", "inf", "NaN", "1_0", "+1", "0x10",
            "1 ",
        ] {
            assert!(parse_f64(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert_eq!(parse_f64(b"1e400"), Err(NumError::Range));
    }

    #[test]
    fn bad_values_are_line_errors() {
        let cases = [
            ("m f=1.5i", "line 1 (byte 4): invalid integer '1.5i'"),
            ("m f=i", "line 1 (byte 4): invalid integer 'i'"),
            (
                "m f=9223372036854775808i",
                "line 1 (byte 4): integer '9223372036854775808i' is out of range",
            ),
            ("m f=-1u", "line 1 (byte 4): invalid unsigned integer '-1u'"),
            (
                "m f=18446744073709551616u",
                "line 1 (byte 4): unsigned integer '18446744073709551616u' is out of range",
            ),
            ("m f=tru", "line 1 (byte 4): invalid boolean 'tru'"),
            (
                "m f=yes",
                "line 1 (byte 4): invalid field value (strings must be quoted) 'yes'",
            ),
            (
                "m f=1e999",
                "line 1 (byte 4): float '1e999' is out of range",
            ),
            ("m f=1.2.3", "line 1 (byte 4): invalid float '1.2.3'"),
            ("m f=", "line 1 (byte 4): missing field value"),
            ("m f=1 12x", "line 1 (byte 6): invalid timestamp '12x'"),
            (
                "m f=1 99999999999999999999",
                "line 1 (byte 6): timestamp '99999999999999999999' is out of range",
            ),
            (
                "m f=1 1 2",
                "line 1 (byte 8): unexpected text after the field set",
            ),
            ("m f=\"abc", "line 1 (byte 4): unterminated string"),
            (
                "m f=\"abc\"x",
                "line 1 (byte 9): unexpected text after a closing quote",
            ),
            ("m", "line 1 (byte 1): missing field set"),
            ("m ", "line 1 (byte 2): missing field set"),
            ("m,t=1", "line 1 (byte 5): missing field set"),
            ("m,t f=1", "line 1 (byte 3): missing '=' after tag key"),
            ("m,=v f=1", "line 1 (byte 2): empty tag key"),
            ("m,t= f=1", "line 1 (byte 4): missing tag value"),
            ("m,t=v, f=1", "line 1 (byte 6): missing '=' after tag key"),
            ("m f", "line 1 (byte 3): missing '=' after field key"),
            ("m =1", "line 1 (byte 2): empty field key"),
            ("m f=1,", "line 1 (byte 6): missing '=' after field key"),
            (",t=v f=1", "line 1 (byte 0): missing measurement"),
            ("m f=1,f=2", "line 1 (byte 0): 'f' is given twice"),
            ("m,t=a,t=b f=1", "line 1 (byte 0): 't' is given twice"),
            ("m,x=a x=1", "line 1 (byte 0): 'x' is given twice"),
            (
                "m timestamp=1",
                "line 1 (byte 0): 'timestamp' is reserved: it is the designated timestamp column",
            ),
            (
                "m,timestamp=a f=1",
                "line 1 (byte 0): 'timestamp' is reserved: it is the designated timestamp column",
            ),
            (
                "m symbol=\"A\"",
                "line 1 (byte 0): 'symbol' is reserved: it is the shard key; send it as a tag",
            ),
            ("a/b f=1", "line 1 (byte 0): invalid measurement name 'a/b'"),
        ];
        let mut wrong = Vec::new();
        for (line, want) in cases {
            let d = decode(line.as_bytes(), &opts()).unwrap();
            if reasons(&d) != [want] {
                wrong.push(format!("{line:?} => {:?}", reasons(&d)));
            }
            assert!(d.tables.is_empty(), "{line:?}");
            assert_eq!(d.rejected, 1);
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn pinned_types_keep_a_bad_first_line_from_claiming_a_column() {
        let body = "m,host=a x=\"s\" 1\nm,host=a x=3i 2\nm,host=a y=1.5 3\n";
        // Unpinned, the first line decides that x is a String, and the good line 2 is refused.
        let d = decode(body.as_bytes(), &opts()).unwrap();
        assert_eq!(col(only(&d), "x"), ["\"s\"", "∅"]);
        assert_eq!(d.rejected, 1, "{:?}", reasons(&d));
        // Pinned to the table's Int64, line 1 is the one refused.
        let pinned = LineOptions {
            pins: vec![("m".into(), "x".into(), ColumnType::Int64)],
            ..opts()
        };
        let d = decode(body.as_bytes(), &pinned).unwrap();
        let t = only(&d);
        assert_eq!(col(t, "x"), ["3", "∅"]);
        assert_eq!(
            reasons(&d),
            ["line 1 (byte 0): column 'x' of table 'm' is Int64, the value is String"]
        );
    }

    #[test]
    fn good_lines_survive_bad_ones_and_errors_say_where() {
        let body = "m,host=a x=1i 1\nm,host=a x=1.5 2\n\nm,host=a x=\"two\nlines\" 3\n  m,host=a x=3i 4\nm,host=a y=1 5 junk\nm,host=a x=5i 6";
        let d = decode(body.as_bytes(), &opts()).unwrap();
        let t = only(&d);
        assert_eq!(col(t, "x"), ["1", "3", "5"]);
        assert_eq!(col(t, "timestamp"), ["1", "4", "6"]);
        assert_eq!(
            reasons(&d),
            [
                "line 2 (byte 16): column 'x' is Int64 earlier in this request but Float64 here",
                "line 4 (byte 34): column 'x' is Int64 earlier in this request but String here",
                "line 7 (byte 92): unexpected text after the field set",
            ]
        );
        assert_eq!(
            t.origins,
            [
                Location::Line { line: 1, offset: 0 },
                Location::Line {
                    line: 6,
                    offset: 61
                },
                Location::Line {
                    line: 8,
                    offset: 97
                },
            ]
        );
        // A failed line creates neither its table nor its columns.
        let d = dec("m,host=a x=1i\nm,host=a,t=new x=1.5,y=2\nz f=\"\n");
        assert_eq!(only(&d).schema().count(), 4);
        assert_eq!(d.rejected, 2);
    }

    #[test]
    fn comments_blank_lines_crlf_and_spaces() {
        let d = dec("# header\r\n\r\n   \t m,host=h  f=1i   7  \r\n  # indented comment\nm,host=h f=2i\r\n\n");
        let t = only(&d);
        assert_eq!(col(t, "f"), ["1", "2"]);
        assert_eq!(col(t, "timestamp"), ["7", "42"]);
        assert_eq!(
            t.origins[1],
            Location::Line {
                line: 5,
                offset: 60
            }
        );
        assert!(dec("").tables.is_empty());
        assert!(dec("\n\n# only\n").errors.is_empty());
        // A bare \r inside a token is an ordinary byte.
        let d = dec("m,host=h s=\"a\rb\",t=1\r");
        assert_eq!(col(only(&d), "s"), ["\"a\\rb\""]);
    }

    #[test]
    fn precision_scales_timestamps() {
        let cases = [
            ("ns", 1i64),
            ("n", 1),
            ("us", 1_000),
            ("u", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
        ];
        for (name, factor) in cases {
            let mut o = opts();
            o.precision = Precision::parse(name).unwrap();
            let d = decode(b"m,host=h f=1 -3\nm,host=h f=1\n", &o).unwrap();
            assert_eq!(
                col(only(&d), "timestamp"),
                [(-3 * factor).to_string(), "42".to_string()],
                "{name}"
            );
        }
        assert_eq!(Precision::parse("x"), None);
        assert_eq!(Precision::parse(""), None);
        let mut o = opts();
        o.precision = Precision::Hours;
        let d = decode(b"m f=1 9223372036854775\n", &o).unwrap();
        assert_eq!(
            reasons(&d),
            ["line 1 (byte 6): timestamp '9223372036854775' is out of range"]
        );
    }

    #[test]
    fn shard_key_rule() {
        let d = dec(concat!(
            "m,host=h1,symbol=S f=1\n",
            "m,hostname=n1,host=h2 f=1\n",
            "m,hostname=n2 f=1\n",
            "m,zone=a,region=eu\\ west f=1\n",
            "m,region=eu\\ west,zone=a f=1\n",
            "m f=1\n",
        ));
        let t = only(&d);
        assert_eq!(
            col(t, "symbol"),
            [
                "#S",
                "#h2",
                "#n2",
                "#m,region=eu\\ west,zone=a",
                "#m,region=eu\\ west,zone=a",
                "#m"
            ]
        );
        assert_eq!(col(t, "host"), ["#h1", "#h2", "∅", "∅", "∅", "∅"]);
        let d = dec("my\\ m,b=2 f=1\n");
        assert_eq!(col(only(&d), "symbol"), ["#my\\ m,b=2"]);
    }

    #[test]
    fn invalid_utf8_rejects_only_its_line() {
        let mut body =
            b"m,host=a f=1i\nm,host=\xff f=2i\nm,host=b s=\"\xc3\x28\"\nm,host=c f=3i\n".to_vec();
        let d = decode(&body, &opts()).unwrap();
        assert_eq!(col(only(&d), "host"), ["#a", "#c"]);
        assert_eq!(
            reasons(&d),
            [
                "line 2 (byte 14): invalid UTF-8",
                "line 3 (byte 28): invalid UTF-8"
            ]
        );
        body.truncate(13);
        assert!(decode(&body, &opts()).unwrap().errors.is_empty());
    }

    #[test]
    fn limits() {
        let mut o = opts();
        o.limits.errors_max = 2;
        let d = decode(b"x\ny\nz\nm f=1\n", &o).unwrap();
        assert_eq!(d.errors.len(), 2);
        assert_eq!(d.rejected, 3);
        assert_eq!(d.rows, 1);

        let mut o = opts();
        o.limits.rows_max = 2;
        assert_eq!(
            decode(b"m f=1\nm f=2\nm f=3\n", &o),
            Err(DecodeError::TooManyRows { max: 2 })
        );
        assert_eq!(DecodeError::TooManyRows { max: 2 }.http_status(), 413);
        o.limits.body_bytes_max = 4;
        assert_eq!(
            decode(b"m f=1", &o),
            Err(DecodeError::BodyTooLarge { len: 5, max: 4 })
        );

        let mut o = opts();
        o.limits.tables_max = 1;
        o.limits.columns_max = 4;
        let d = decode(b"a f=1\nb f=1\na g=1,h=2\na g=1\n", &o).unwrap();
        assert_eq!(
            reasons(&d),
            [
                "line 2 (byte 6): more than 1 tables in one request",
                "line 3 (byte 12): table 'a' would have more than 4 columns",
            ]
        );
        assert_eq!(d.rows, 2);

        let long = "v".repeat(storage::dict::SYMBOL_BYTES_MAX + 1);
        let d = dec(&format!("m,t={long} f=1\n"));
        assert_eq!(
            reasons(&d),
            ["line 1 (byte 0): tag value of 4097 bytes is over the limit of 4096 bytes"]
        );
        let mut o = opts();
        o.limits.string_bytes_max = 3;
        let d = decode(b"m s=\"abcd\"\nm s=\"abc\"\n", &o).unwrap();
        assert_eq!(
            reasons(&d),
            ["line 1 (byte 0): string field of 4 bytes is over the limit of 3 bytes"]
        );
    }

    #[test]
    fn decoder_reuse_gives_the_same_answer() {
        let mut dec = LineDecoder::default();
        let body = b"m,host=a\\ b f=\"x\\\"y\",g=1i 1\nq,symbol=S v=2 2\n";
        let a = dec.decode(body, &opts()).unwrap();
        let b = dec.decode(body, &opts()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.rows, 2);
    }

    /// `cargo test -p sql --release ingest::lineproto::tests::speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn speed() {
        let symbols = [
            "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "NFLX",
        ];
        let mut body = String::new();
        let lines = 1_000_000;
        for i in 0..lines {
            body += &format!(
                "trades,symbol={},exchange=NASDAQ price={}.{:02},volume={}i {}\n",
                symbols[i % symbols.len()],
                100 + i % 300,
                i % 100,
                1 + i % 1000,
                1_732_111_200_000_000_000i64 + i as i64 * 1000
            );
        }
        let mut dec = LineDecoder::default();
        let o = opts();
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t0 = std::time::Instant::now();
            let d = dec.decode(body.as_bytes(), &o).unwrap();
            let s = t0.elapsed().as_secs_f64();
            assert_eq!(d.rows, lines);
            best = best.min(s);
        }
        println!(
            "line protocol: {lines} lines, {} bytes, best {:.1} ms: {:.2} M lines/s, {:.0} MB/s",
            body.len(),
            best * 1e3,
            lines as f64 / best / 1e6,
            body.len() as f64 / best / 1e6
        );
    }
}
