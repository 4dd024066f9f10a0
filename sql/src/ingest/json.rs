//! Ronto's JSON write body (`POST /write/json`), typed against an existing table.
//!
//! `{"table": "trades", "rows": [{"timestamp": …, "symbol": "AAPL", "price": 1.5}, …]}` or
//! `{"table": "trades", "columns": {"timestamp": […], "symbol": […], …}}`. The table must
//! exist: the caller reads its name with [`table_name`], looks the schema up and calls
//! [`decode`]. Values are typed by the table's columns:
//!
//! | column | accepts |
//! |---|---|
//! | Int64, UInt64 | integers (also integral numbers such as `1e3` or `2.0`) in range |
//! | Float64 | any number |
//! | Bool | `true`, `false` |
//! | Timestamp | integer nanoseconds, or a string `2026-11-20 14:30:00.123456789` / RFC 3339 |
//! | Symbol, String | strings |
//!
//! `null` or an absent key is NULL, refused for the designated timestamp and symbol columns.
//! A row with an unknown column, a value of the wrong type or a missing designated column is
//! rejected alone, with its 0-based index; a body whose JSON is broken fails as a whole with
//! the byte offset. Nesting is bounded and skipped without recursion.

use std::collections::HashMap;

use storage::dict::SYMBOL_BYTES_MAX;
use storage::{Batch, ColumnBuf, ColumnType, TableSchema};

use super::builder::{ColBuilder, Interner};
use super::lineproto::{parse_f64, parse_i64, parse_u64};
use super::{
    excerpt, DecodeError, Decoded, DecodedTable, ErrorSink, Limits, Location, Reason, I64_END_F64,
};

/// Containers nested deeper than this (inside a skipped value) are refused.
const DEPTH_MAX: usize = 64;

/// How to read one body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonOptions {
    pub limits: Limits,
}

fn malformed(offset: usize, message: &'static str) -> DecodeError {
    DecodeError::Malformed { offset, message }
}

/// A string of the body (no escapes) or of the scratch buffer.
#[derive(Debug, Clone, Copy)]
enum Str {
    Body(usize, usize),
    Scratch,
}

/// One value: a scalar, or the start of a container (not yet consumed).
#[derive(Debug, Clone, Copy)]
enum Tok {
    Null,
    Bool(bool),
    /// A number's text and whether it is a plain integer (no fraction, no exponent).
    Num(usize, usize, bool),
    Str(Str),
    Object,
    Array,
}

impl Tok {
    fn kind(self) -> &'static str {
        match self {
            Tok::Null => "null",
            Tok::Bool(_) => "a boolean",
            Tok::Num(..) => "a number",
            Tok::Str(_) => "a string",
            Tok::Object => "an object",
            Tok::Array => "an array",
        }
    }
}

struct Lexer<'a> {
    d: &'a [u8],
    pos: usize,
    scratch: Vec<u8>,
}

impl<'a> Lexer<'a> {
    fn new(d: &'a [u8]) -> Lexer<'a> {
        let pos = if d.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 };
        Lexer {
            d,
            pos,
            scratch: Vec::new(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.d.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.d.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, message: &'static str) -> Result<(), DecodeError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(malformed(self.pos, message))
        }
    }

    fn str_bytes(&self, s: Str) -> &[u8] {
        match s {
            Str::Body(a, b) => &self.d[a..b],
            Str::Scratch => &self.scratch,
        }
    }

    /// A string at `pos` (its opening quote). Escapes are resolved into `scratch`.
    fn string(&mut self) -> Result<Str, DecodeError> {
        let quote = self.pos;
        if self.d.get(quote) != Some(&b'"') {
            return Err(malformed(quote, "expected a string"));
        }
        let start = quote + 1;
        let mut i = start;
        loop {
            match self.d.get(i) {
                None => return Err(malformed(quote, "unterminated string")),
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Str::Body(start, i));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return Err(malformed(i, "control character in a string")),
                Some(_) => i += 1,
            }
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.d[start..i]);
        loop {
            match self.d.get(i) {
                None => return Err(malformed(quote, "unterminated string")),
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Str::Scratch);
                }
                Some(b'\\') => {
                    let esc = *self
                        .d
                        .get(i + 1)
                        .ok_or_else(|| malformed(i, "unterminated string"))?;
                    i += 2;
                    let c = match esc {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let ch = self.unicode_escape(&mut i)?;
                            let mut buf = [0u8; 4];
                            self.scratch
                                .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => return Err(malformed(i - 2, "invalid escape in a string")),
                    };
                    self.scratch.push(c);
                }
                Some(&c) if c < 0x20 => return Err(malformed(i, "control character in a string")),
                Some(&c) => {
                    self.scratch.push(c);
                    i += 1;
                }
            }
        }
    }

    /// The character of `\uXXXX` (a surrogate pair takes two escapes); `i` is after `\u`.
    fn unicode_escape(&self, i: &mut usize) -> Result<char, DecodeError> {
        let hex4 = |at: usize| -> Result<u32, DecodeError> {
            let h = self
                .d
                .get(at..at + 4)
                .ok_or_else(|| malformed(at, "short \\u escape"))?;
            let s = std::str::from_utf8(h).map_err(|_| malformed(at, "bad \\u escape"))?;
            if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(malformed(at, "bad \\u escape"));
            }
            u32::from_str_radix(s, 16).map_err(|_| malformed(at, "bad \\u escape"))
        };
        let at = *i;
        let hi = hex4(at)?;
        *i += 4;
        let code = if (0xD800..0xDC00).contains(&hi) {
            if self.d.get(*i..*i + 2) != Some(b"\\u") {
                return Err(malformed(at, "lone surrogate in \\u escape"));
            }
            let lo = hex4(*i + 2)?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(malformed(at, "lone surrogate in \\u escape"));
            }
            *i += 6;
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| malformed(at, "lone surrogate in \\u escape"))
    }

    /// A JSON number at `pos`: its text and whether it is a plain integer.
    fn number(&mut self) -> Result<Tok, DecodeError> {
        let d = self.d;
        let start = self.pos;
        let mut i = start;
        if d.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits = |i: &mut usize| {
            let s = *i;
            while d.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        let int_start = i;
        let n = digits(&mut i);
        if n == 0 || (n > 1 && d[int_start] == b'0') {
            return Err(malformed(start, "invalid number"));
        }
        let mut integer = true;
        if d.get(i) == Some(&b'.') {
            i += 1;
            integer = false;
            if digits(&mut i) == 0 {
                return Err(malformed(start, "invalid number"));
            }
        }
        if let Some(b'e' | b'E') = d.get(i) {
            i += 1;
            integer = false;
            if let Some(b'+' | b'-') = d.get(i) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return Err(malformed(start, "invalid number"));
            }
        }
        self.pos = i;
        Ok(Tok::Num(start, i, integer))
    }

    /// The next value; containers are only peeked (`pos` stays on `{` or `[`).
    fn value(&mut self) -> Result<Tok, DecodeError> {
        let first = self.peek();
        let at = self.pos;
        let lit = |this: &mut Self, word: &[u8], tok: Tok| {
            if this.d[at..].starts_with(word) {
                this.pos += word.len();
                Ok(tok)
            } else {
                Err(malformed(at, "invalid literal"))
            }
        };
        match first {
            None => Err(malformed(self.pos, "unexpected end of data")),
            Some(b'{') => Ok(Tok::Object),
            Some(b'[') => Ok(Tok::Array),
            Some(b'"') => Ok(Tok::Str(self.string()?)),
            Some(b't') => lit(self, b"true", Tok::Bool(true)),
            Some(b'f') => lit(self, b"false", Tok::Bool(false)),
            Some(b'n') => lit(self, b"null", Tok::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(malformed(self.pos, "expected a value")),
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<Str, DecodeError> {
        self.ws();
        let k = self.string()?;
        self.expect(b':', "expected ':' after a key")?;
        Ok(k)
    }

    /// Skips one value, containers included, with a bounded stack instead of recursion.
    fn skip(&mut self) -> Result<(), DecodeError> {
        let mut stack: Vec<u8> = Vec::new();
        loop {
            let opened = match self.value()? {
                Tok::Object => {
                    self.pos += 1;
                    if self.eat(b'}') {
                        false
                    } else {
                        stack.push(b'}');
                        self.key()?;
                        true
                    }
                }
                Tok::Array => {
                    self.pos += 1;
                    if self.eat(b']') {
                        false
                    } else {
                        stack.push(b']');
                        true
                    }
                }
                _ => false,
            };
            if stack.len() > DEPTH_MAX {
                return Err(malformed(self.pos, "nesting too deep"));
            }
            if opened {
                continue;
            }
            loop {
                let Some(&close) = stack.last() else {
                    return Ok(());
                };
                if self.eat(b',') {
                    if close == b'}' {
                        self.key()?;
                    }
                    break;
                }
                self.expect(close, "expected ',' or the end of a container")?;
                stack.pop();
            }
        }
    }
}

/// The `table` a body names, read without decoding its rows.
pub fn table_name(body: &[u8]) -> Result<String, DecodeError> {
    let mut lx = Lexer::new(body);
    lx.expect(b'{', "expected an object")?;
    if lx.eat(b'}') {
        return Err(DecodeError::Missing("table"));
    }
    loop {
        let k = lx.key()?;
        if lx.str_bytes(k) == b"table" {
            lx.ws();
            let at = lx.pos;
            return match lx.value()? {
                Tok::Str(s) => String::from_utf8(lx.str_bytes(s).to_vec())
                    .map_err(|_| malformed(at, "invalid UTF-8")),
                _ => Err(malformed(at, "'table' must be a string")),
            };
        }
        lx.skip()?;
        if !lx.eat(b',') {
            lx.expect(b'}', "expected ',' or '}'")?;
            return Err(DecodeError::Missing("table"));
        }
    }
}

/// Decodes a body for the table `schema` describes. Rejected rows are in
/// [`Decoded::errors`]; the good rows are in the one table of [`Decoded::tables`] (none when
/// no row is good), whose columns carry the table's names and types in table order. Columns no
/// row gave a value are left out (the shard stores them as NULL).
pub fn decode(
    body: &[u8],
    schema: &TableSchema,
    opts: &JsonOptions,
) -> Result<Decoded, DecodeError> {
    opts.limits.check_body(body.len())?;
    std::str::from_utf8(body).map_err(|e| malformed(e.valid_up_to(), "invalid UTF-8"))?;
    let mut d = Decoder::new(schema, &opts.limits);
    let mut lx = Lexer::new(body);
    lx.expect(b'{', "expected an object")?;
    let (mut table, mut data) = (false, false);
    if !lx.eat(b'}') {
        loop {
            lx.ws();
            let key_at = lx.pos;
            let k = lx.key()?;
            match lx.str_bytes(k) {
                b"table" => {
                    lx.ws();
                    let at = lx.pos;
                    let Tok::Str(s) = lx.value()? else {
                        return Err(malformed(at, "'table' must be a string"));
                    };
                    let name = lx.str_bytes(s);
                    if name != schema.name.as_bytes() {
                        return Err(DecodeError::TableMismatch {
                            body: excerpt(name),
                            schema: schema.name.clone(),
                        });
                    }
                    table = true;
                }
                key @ (b"rows" | b"columns") => {
                    if data {
                        return Err(malformed(key_at, "a body has one 'rows' or one 'columns'"));
                    }
                    data = true;
                    if key == b"rows" {
                        d.rows(&mut lx)?;
                    } else {
                        d.columns(&mut lx)?;
                    }
                }
                _ => {
                    return Err(malformed(
                        key_at,
                        "unknown key (expected 'table', 'rows' or 'columns')",
                    ))
                }
            }
            if !lx.eat(b',') {
                lx.expect(b'}', "expected ',' or '}'")?;
                break;
            }
        }
    }
    if lx.peek().is_some() {
        return Err(malformed(lx.pos, "unexpected data after the object"));
    }
    if !table {
        return Err(DecodeError::Missing("table"));
    }
    if !data {
        return Err(DecodeError::Missing("rows' or 'columns"));
    }
    Ok(d.finish())
}

/// A date-time string in nanoseconds. `parse_datetime` computes in i64 nanoseconds, so only
/// ASCII text with a year i64 nanoseconds can hold reaches it.
fn datetime_ns(text: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(text).ok()?.trim();
    if !s.is_ascii() || s.len() < 4 {
        return None;
    }
    let year: i64 = s[..4].parse().ok()?;
    if !(1678..=2261).contains(&year) {
        return None;
    }
    crate::text::parse_datetime(s)
}

struct Decoder<'s> {
    schema: &'s TableSchema,
    limits: &'s Limits,
    cols: Vec<ColBuilder>,
    index: HashMap<&'s str, usize>,
    interner: Interner,
    rows: usize,
    origins: Vec<Location>,
    sink: ErrorSink,
    /// Columnar form: the first error of each row; those rows are dropped at the end.
    bad: Vec<Option<Reason>>,
    /// Strings may have been interned for rows that were then rejected.
    dirty: bool,
}

impl<'s> Decoder<'s> {
    fn new(schema: &'s TableSchema, limits: &'s Limits) -> Decoder<'s> {
        Decoder {
            schema,
            limits,
            cols: schema
                .columns
                .iter()
                .map(|c| ColBuilder::new(c.name.clone(), c.ty, 0))
                .collect(),
            index: schema
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.as_str(), i))
                .collect(),
            interner: Interner::default(),
            rows: 0,
            origins: Vec::new(),
            sink: ErrorSink::new(limits.errors_max),
            bad: Vec::new(),
            dirty: false,
        }
    }

    /// The column a key names, or the key for the error message.
    fn lookup(&self, lx: &Lexer<'_>, k: Str) -> Result<usize, String> {
        let name = lx.str_bytes(k);
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| self.index.get(n).copied())
            .ok_or_else(|| excerpt(name))
    }

    fn check_rows(&self, rows: usize) -> Result<(), DecodeError> {
        if rows >= self.limits.rows_max {
            return Err(DecodeError::TooManyRows {
                max: self.limits.rows_max,
            });
        }
        Ok(())
    }

    /// Appends `tok` to column `c` in the column's type; on error nothing is appended.
    fn put(&mut self, c: usize, tok: Tok, lx: &Lexer<'_>) -> Result<(), Reason> {
        let col = &mut self.cols[c];
        let ty = col.ty;
        let text = |a: usize, b: usize| &lx.d[a..b];
        let wrong = |got: &'static str| Reason::WrongJsonType {
            column: col.name.clone(),
            expected: ty,
            got,
        };
        let range = |t: &[u8]| Reason::OutOfRange {
            kind: ty.name(),
            text: excerpt(t),
        };
        match (ty, tok) {
            (_, Tok::Null) => {
                if c == self.schema.ts_index || c == self.schema.key_index {
                    return Err(Reason::Null {
                        column: col.name.clone(),
                    });
                }
                col.push_null();
            }
            (ColumnType::Int64 | ColumnType::Timestamp, Tok::Num(a, b, integer)) => {
                let t = text(a, b);
                let v = if integer {
                    parse_i64(t).map_err(|_| range(t))?
                } else if ty == ColumnType::Timestamp {
                    return Err(wrong("a fractional number"));
                } else {
                    let f = parse_f64(t).map_err(|_| range(t))?;
                    if f.fract() != 0.0 {
                        return Err(wrong("a fractional number"));
                    }
                    if !(-I64_END_F64..I64_END_F64).contains(&f) {
                        return Err(range(t));
                    }
                    f as i64
                };
                col.push_i64(v);
            }
            (ColumnType::UInt64, Tok::Num(a, b, integer)) => {
                let t = text(a, b);
                let v = if integer {
                    if t.first() == Some(&b'-') {
                        return Err(range(t));
                    }
                    parse_u64(t).map_err(|_| range(t))?
                } else {
                    let f = parse_f64(t).map_err(|_| range(t))?;
                    if f.fract() != 0.0 {
                        return Err(wrong("a fractional number"));
                    }
                    if !(0.0..18_446_744_073_709_551_616.0).contains(&f) {
                        return Err(range(t));
                    }
                    f as u64
                };
                col.push_u64(v);
            }
            (ColumnType::Float64, Tok::Num(a, b, _)) => {
                let t = text(a, b);
                col.push_f64(parse_f64(t).map_err(|_| range(t))?);
            }
            (ColumnType::Bool, Tok::Bool(v)) => col.push_bool(v),
            (ColumnType::Timestamp, Tok::Str(s)) => {
                let t = lx.str_bytes(s);
                let ns = datetime_ns(t).ok_or_else(|| Reason::BadValue {
                    kind: "timestamp",
                    text: excerpt(t),
                })?;
                col.push_i64(ns);
            }
            (ColumnType::Symbol, Tok::Str(s)) => {
                let t = lx.str_bytes(s);
                if t.len() > SYMBOL_BYTES_MAX {
                    return Err(Reason::TooLong {
                        what: "symbol value",
                        len: t.len(),
                        max: SYMBOL_BYTES_MAX,
                    });
                }
                let last = col.last_code;
                let code = if last != u32::MAX && self.interner.get(last).as_bytes() == t {
                    last
                } else {
                    self.interner.intern(t)
                };
                col.push_code(code);
            }
            (ColumnType::String, Tok::Str(s)) => {
                let t = lx.str_bytes(s);
                if t.len() > self.limits.string_bytes_max {
                    return Err(Reason::TooLong {
                        what: "string",
                        len: t.len(),
                        max: self.limits.string_bytes_max,
                    });
                }
                col.push_str(t);
            }
            (_, tok) => return Err(wrong(tok.kind())),
        }
        Ok(())
    }

    fn rows(&mut self, lx: &mut Lexer<'_>) -> Result<(), DecodeError> {
        lx.expect(b'[', "'rows' must be an array")?;
        if lx.eat(b']') {
            return Ok(());
        }
        let mut index = 0usize;
        loop {
            self.check_rows(index)?;
            let at = Location::Row { row: index as u32 };
            let stamp = index as u32 + 1;
            if lx.peek() != Some(b'{') {
                let tok = lx.value()?;
                if matches!(tok, Tok::Array) {
                    lx.skip()?;
                }
                let reason = Reason::BadValue {
                    kind: "row (expected an object)",
                    text: tok.kind().into(),
                };
                self.sink.push(at, reason);
            } else {
                lx.pos += 1;
                let r0 = self.rows;
                let mut error: Option<Reason> = None;
                if !lx.eat(b'}') {
                    loop {
                        let k = lx.key()?;
                        let c = self.lookup(lx, k);
                        let tok = lx.value()?;
                        if matches!(tok, Tok::Object | Tok::Array) {
                            lx.skip()?;
                        }
                        if error.is_none() {
                            error = match c {
                                Err(column) => Some(Reason::UnknownColumn {
                                    table: self.schema.name.clone(),
                                    column,
                                }),
                                Ok(c) if self.cols[c].stamp == stamp => Some(Reason::Duplicate {
                                    name: self.cols[c].name.clone(),
                                }),
                                Ok(c) => {
                                    self.cols[c].stamp = stamp;
                                    self.put(c, tok, lx).err()
                                }
                            };
                        }
                        if !lx.eat(b',') {
                            lx.expect(b'}', "expected ',' or '}' in a row")?;
                            break;
                        }
                    }
                }
                if error.is_none() {
                    for c in [self.schema.ts_index, self.schema.key_index] {
                        if self.cols[c].len() == r0 {
                            error = Some(Reason::Null {
                                column: self.cols[c].name.clone(),
                            });
                            break;
                        }
                    }
                }
                match error {
                    Some(reason) => {
                        for col in &mut self.cols {
                            col.truncate(r0);
                        }
                        self.dirty = true;
                        self.sink.push(at, reason);
                    }
                    None => {
                        for col in &mut self.cols {
                            if col.len() == r0 {
                                col.push_null();
                            }
                        }
                        self.rows += 1;
                        self.origins.push(at);
                    }
                }
            }
            index += 1;
            if !lx.eat(b',') {
                lx.expect(b']', "expected ',' or ']' in 'rows'")?;
                return Ok(());
            }
        }
    }

    fn columns(&mut self, lx: &mut Lexer<'_>) -> Result<(), DecodeError> {
        lx.expect(b'{', "'columns' must be an object")?;
        let mut given = vec![false; self.cols.len()];
        let mut len: Option<usize> = None;
        if !lx.eat(b'}') {
            loop {
                lx.ws();
                let key_at = lx.pos;
                let k = lx.key()?;
                let c = self.lookup(lx, k);
                if let Ok(c) = c {
                    if given[c] {
                        return Err(malformed(key_at, "a column is given twice"));
                    }
                    given[c] = true;
                }
                lx.expect(b'[', "a column must be an array")?;
                let mut n = 0usize;
                if !lx.eat(b']') {
                    loop {
                        self.check_rows(n)?;
                        if self.bad.len() <= n {
                            self.bad.push(None);
                        }
                        let tok = lx.value()?;
                        if matches!(tok, Tok::Object | Tok::Array) {
                            lx.skip()?;
                        }
                        match &c {
                            Err(column) => {
                                if !matches!(tok, Tok::Null) && self.bad[n].is_none() {
                                    self.bad[n] = Some(Reason::UnknownColumn {
                                        table: self.schema.name.clone(),
                                        column: column.clone(),
                                    });
                                }
                            }
                            &Ok(c) => {
                                if let Err(reason) = self.put(c, tok, lx) {
                                    self.cols[c].push_null();
                                    self.bad[n].get_or_insert(reason);
                                }
                            }
                        }
                        n += 1;
                        if !lx.eat(b',') {
                            lx.expect(b']', "expected ',' or ']' in a column")?;
                            break;
                        }
                    }
                }
                match len {
                    None => len = Some(n),
                    Some(first) if first != n => {
                        return Err(malformed(key_at, "columns have different lengths"))
                    }
                    Some(_) => {}
                }
                if !lx.eat(b',') {
                    lx.expect(b'}', "expected ',' or '}' in 'columns'")?;
                    break;
                }
            }
        }
        let n = len.unwrap_or(0);
        self.bad.truncate(n);
        for (c, col) in self.cols.iter_mut().enumerate() {
            if given[c] {
                continue;
            }
            if c == self.schema.ts_index || c == self.schema.key_index {
                for slot in &mut self.bad {
                    slot.get_or_insert_with(|| Reason::Null {
                        column: col.name.clone(),
                    });
                }
            }
            for _ in 0..n {
                col.push_null();
            }
        }
        self.rows = n;
        self.origins = (0..n).map(|r| Location::Row { row: r as u32 }).collect();
        Ok(())
    }

    fn finish(mut self) -> Decoded {
        let mut keep: Option<Vec<u32>> = None;
        if self.bad.iter().any(Option::is_some) {
            let mut k = Vec::with_capacity(self.rows);
            for (r, slot) in std::mem::take(&mut self.bad).into_iter().enumerate() {
                match slot {
                    None => k.push(r as u32),
                    Some(reason) => self.sink.push(Location::Row { row: r as u32 }, reason),
                }
            }
            self.origins = k.iter().map(|&r| self.origins[r as usize]).collect();
            keep = Some(k);
        }
        let rows = self.origins.len();
        let mut batch = Batch::new(self.schema.name.clone());
        batch.symbols = self.interner.into_symbols();
        let mut types = Vec::new();
        for (c, col) in self.cols.into_iter().enumerate() {
            let (mut column, ty) = col.finish(None);
            if let Some(keep) = &keep {
                let mut kept = ColumnBuf::empty(column.data.values.physical());
                kept.gather_from(&column.data, keep);
                if kept.null_count() == 0 {
                    kept.validity = None;
                }
                column.data = kept;
            }
            let designated = c == self.schema.ts_index || c == self.schema.key_index;
            if !designated && column.data.null_count() == rows {
                continue;
            }
            batch.columns.push(column);
            types.push(ty);
        }
        if keep.is_some() || self.dirty {
            super::schema::compact_symbols(&mut batch);
        }
        let tables = if rows > 0 {
            vec![DecodedTable {
                batch,
                types,
                origins: self.origins,
            }]
        } else {
            Vec::new()
        };
        Decoded {
            tables,
            errors: self.sink.errors,
            rejected: self.sink.rejected,
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::{ColumnSchema, Values};

    fn trades() -> TableSchema {
        let cols = [
            ("timestamp", ColumnType::Timestamp),
            ("symbol", ColumnType::Symbol),
            ("price", ColumnType::Float64),
            ("volume", ColumnType::Int64),
            ("id", ColumnType::UInt64),
            ("live", ColumnType::Bool),
            ("note", ColumnType::String),
        ];
        let s = TableSchema {
            id: 1,
            name: "trades".into(),
            columns: cols
                .iter()
                .enumerate()
                .map(|(i, (n, t))| ColumnSchema {
                    id: i as u16,
                    name: n.to_string(),
                    ty: *t,
                    nullable: true,
                })
                .collect(),
            ts_index: 0,
            key_index: 1,
            next_column_id: cols.len() as u16,
        };
        s.check_invariants().unwrap();
        s
    }

    fn dec(body: &str) -> Decoded {
        let d = decode(body.as_bytes(), &trades(), &JsonOptions::default()).unwrap();
        for t in &d.tables {
            assert_eq!(t.origins.len(), t.rows());
            for c in &t.batch.columns {
                assert_eq!(c.data.len(), t.rows());
                if let Values::Sym(codes) = &c.data.values {
                    assert!(codes.iter().all(|&k| (k as usize) < t.batch.symbols.len()));
                }
            }
        }
        d
    }

    fn col(t: &DecodedTable, name: &str) -> Vec<String> {
        let c = t.batch.columns.iter().find(|c| c.name == name).unwrap();
        (0..c.data.len())
            .map(|i| {
                if !c.data.is_valid(i) {
                    return "∅".into();
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

    fn reasons(d: &Decoded) -> Vec<String> {
        d.errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn rows_form_types_and_nulls() {
        let d = dec(r#"{"table": "trades", "rows": [
            {"timestamp": 1732111200000000000, "symbol": "AAPL", "price": 187.25, "volume": 100,
             "id": 18446744073709551615, "live": true, "note": "a \"q\" \u00e9 \ud83d\ude00"},
            {"symbol": "MSFT", "timestamp": "2024-11-20 14:30:00.123456789", "price": 1, "volume": 2.0e1, "note": null},
            {"timestamp": "2024-11-20T14:30:00+01:00", "symbol": "AAPL", "volume": -3}
        ]}"#);
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        let t = &d.tables[0];
        let names: Vec<&str> = t.batch.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "timestamp",
                "symbol",
                "price",
                "volume",
                "id",
                "live",
                "note"
            ]
        );
        assert_eq!(t.types[4], ColumnType::UInt64);
        assert_eq!(
            col(t, "timestamp"),
            [
                "1732111200000000000",
                "1732113000123456789",
                "1732109400000000000"
            ]
        );
        assert_eq!(col(t, "symbol"), ["#AAPL", "#MSFT", "#AAPL"]);
        assert_eq!(t.batch.symbols, ["AAPL", "MSFT"]);
        assert_eq!(col(t, "price"), ["187.25", "1.0", "∅"]);
        assert_eq!(col(t, "volume"), ["100", "20", "-3"]);
        assert_eq!(col(t, "id"), ["18446744073709551615u", "∅", "∅"]);
        assert_eq!(col(t, "live"), ["true", "∅", "∅"]);
        assert_eq!(col(t, "note"), ["\"a \\\"q\\\" é 😀\"", "∅", "∅"]);
        assert_eq!(t.origins[2], Location::Row { row: 2 });
    }

    #[test]
    fn columnar_form() {
        let d = dec(
            r#"{"columns": {"symbol": ["A", "B"], "timestamp": [1, 2], "price": [1.5, null]}, "table": "trades"}"#,
        );
        let t = &d.tables[0];
        assert_eq!(col(t, "timestamp"), ["1", "2"]);
        assert_eq!(col(t, "price"), ["1.5", "∅"]);
        let names: Vec<&str> = t.batch.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["timestamp", "symbol", "price"],
            "never-given columns are left out"
        );
        assert_eq!(
            table_name(br#"{"rows": [{"a": [1, {"b": 2}]}], "table": "trades"}"#),
            Ok("trades".into())
        );
        assert_eq!(
            table_name(br#"{"rows": []}"#),
            Err(DecodeError::Missing("table"))
        );
        assert_eq!(dec(r#"{"table": "trades", "rows": []}"#).rows, 0);
        assert!(dec(r#"{"table": "trades", "columns": {}}"#)
            .tables
            .is_empty());
    }

    #[test]
    fn bad_rows_are_rejected_alone() {
        let d = dec(r#"{"table": "trades", "rows": [
            {"timestamp": 1, "symbol": "OK1"},
            {"timestamp": 2, "symbol": "X", "colour": "red"},
            {"timestamp": 3, "symbol": "X", "price": "1.5"},
            {"timestamp": 4, "symbol": null},
            {"symbol": "X"},
            {"timestamp": 5, "symbol": "X", "symbol": "Y"},
            {"timestamp": 6, "symbol": "X", "volume": 1.5},
            {"timestamp": 7, "symbol": "X", "volume": 9223372036854775808},
            {"timestamp": 8, "symbol": "X", "id": -1},
            [1, 2],
            {"timestamp": 9, "symbol": "X", "note": {"nested": [1]}},
            {"timestamp": "9999-01-01 00:00:00", "symbol": "X"},
            {"timestamp": "2024-01-01 00:00:00+0\u00e900", "symbol": "X"},
            {"timestamp": 1.5, "symbol": "X"},
            {"timestamp": 10, "symbol": "OK2", "live": 1}
        ]}"#);
        assert_eq!(
            reasons(&d),
            [
                "row 1: table 'trades' has no column 'colour'",
                "row 2: column 'price' is Float64, cannot store a string",
                "row 3: column 'symbol' must not be NULL",
                "row 4: column 'timestamp' must not be NULL",
                "row 5: 'symbol' is given twice",
                "row 6: column 'volume' is Int64, cannot store a fractional number",
                "row 7: Int64 '9223372036854775808' is out of range",
                "row 8: UInt64 '-1' is out of range",
                "row 9: invalid row (expected an object) 'an array'",
                "row 10: column 'note' is String, cannot store an object",
                "row 11: invalid timestamp '9999-01-01 00:00:00'",
                "row 12: invalid timestamp '2024-01-01 00:00:00+0é00'",
                "row 13: column 'timestamp' is Timestamp, cannot store a fractional number",
                "row 14: column 'live' is Bool, cannot store a number",
            ]
        );
        let t = &d.tables[0];
        assert_eq!(col(t, "symbol"), ["#OK1"]);
        assert_eq!(t.batch.symbols, ["OK1"], "rejected rows leave no symbols");
        assert_eq!(d.rejected, 14);
    }

    #[test]
    fn bad_columnar_values_reject_their_rows() {
        let d = dec(r#"{"table": "trades", "columns": {
            "timestamp": [1, 2, 3, 4],
            "symbol": ["A", "B", null, "D"],
            "volume": [1, "x", 3, 4],
            "colour": [null, null, null, "red"]
        }}"#);
        assert_eq!(
            reasons(&d),
            [
                "row 1: column 'volume' is Int64, cannot store a string",
                "row 2: column 'symbol' must not be NULL",
                "row 3: table 'trades' has no column 'colour'",
            ]
        );
        let t = &d.tables[0];
        assert_eq!(col(t, "symbol"), ["#A"]);
        assert_eq!(t.batch.symbols, ["A"]);
        assert_eq!(t.origins, [Location::Row { row: 0 }]);
        let d = dec(r#"{"table": "trades", "columns": {"symbol": ["A"]}}"#);
        assert_eq!(reasons(&d), ["row 0: column 'timestamp' must not be NULL"]);
        assert!(d.tables.is_empty());
    }

    #[test]
    fn broken_bodies_fail_whole() {
        let schema = trades();
        let fail = |body: &[u8]| decode(body, &schema, &JsonOptions::default()).unwrap_err();
        let malformed_at = |e: DecodeError| match e {
            DecodeError::Malformed { offset, .. } => offset,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            malformed_at(fail(br#"{"table": "trades", "rows": [{"timestamp": 1,}]}"#)),
            45
        );
        assert_eq!(malformed_at(fail(b"")), 0);
        assert_eq!(
            malformed_at(fail(br#"{"table": "trades", "rows": []} x"#)),
            32
        );
        assert_eq!(
            malformed_at(fail(br#"{"table": "trades", "other": 1}"#)),
            20
        );
        assert_eq!(malformed_at(fail(b"{\"table\": \"tr\xffdes\"}")), 13);
        assert_eq!(
            malformed_at(fail(
                br#"{"table": "trades", "columns": {"timestamp": [1], "symbol": []}}"#
            )),
            50
        );
        assert_eq!(
            malformed_at(fail(br#"{"table": "trades", "rows": [], "columns": {}}"#)),
            32
        );
        assert_eq!(
            fail(br#"{"table": "quotes", "rows": []}"#),
            DecodeError::TableMismatch {
                body: "quotes".into(),
                schema: "trades".into()
            }
        );
        assert_eq!(fail(br#"{"rows": []}"#), DecodeError::Missing("table"));
        assert_eq!(
            fail(br#"{"table": "trades"}"#),
            DecodeError::Missing("rows' or 'columns")
        );
        for bad in [
            &br#"{"table": "trades", "rows": [{"note": "\ud800"}]}"#[..],
            br#"{"table": "trades", "rows": [{"note": "\x"}]}"#,
            br#"{"table": "trades", "rows": [{"volume": 01}]}"#,
            br#"{"table": "trades", "rows": [{"volume": 1.}]}"#,
            br#"{"table": "trades", "rows": [{"volume": tru}]}"#,
            b"{\"table\": \"trades\", \"rows\": [{\"note\": \"a\nb\"}]}",
        ] {
            malformed_at(fail(bad));
        }
        let mut deep = br#"{"table": "trades", "rows": [{"note": "#.to_vec();
        deep.extend(std::iter::repeat_n(b'[', 100_000));
        assert!(matches!(
            fail(&deep),
            DecodeError::Malformed {
                message: "nesting too deep",
                ..
            }
        ));
        let mut o = JsonOptions::default();
        o.limits.rows_max = 2;
        let body = br#"{"table": "trades", "rows": [{}, {}, {}]}"#;
        assert_eq!(
            decode(body, &schema, &o),
            Err(DecodeError::TooManyRows { max: 2 })
        );
    }
}
