//! JSONEachRow (one object per row) and JSONCompactEachRow[WithNames[AndTypes]] (one array per row).
//!
//! A small hand-written scanner rather than a DOM: values go straight into the column builders,
//! strings are unescaped into one reused buffer, and lines are counted for error messages.
//! Rows may be separated by whitespace and commas; JSONEachRow also accepts the whole body
//! wrapped in `[ … ]`. A nested array or object is kept as its JSON text for String columns.

use super::builder::Cell;
use super::delimited::Header;
use super::scalar::{bool_cell, is_string, parse_text};
use super::{Ctx, InputError, Location};

/// Containers nested deeper than this inside one value are refused.
const DEPTH_MAX: usize = 64;

#[derive(Debug, Clone, Copy)]
enum Span {
    Input(usize, usize),
    Scratch,
}

#[derive(Debug, Clone, Copy)]
enum Token {
    Null,
    Bool(bool),
    Number(Span),
    Str(Span),
    /// A nested array or object, as its JSON text.
    Nested(Span),
}

struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    scratch: Vec<u8>,
}

impl<'a> Scanner<'a> {
    fn new(data: &'a [u8]) -> Scanner<'a> {
        let pos = if data.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        Scanner {
            data,
            pos,
            line: 1,
            line_start: pos,
            scratch: Vec::new(),
        }
    }

    fn at(&self) -> Location {
        Location::Line(self.line)
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn newline(&mut self) {
        self.line += 1;
        self.line_start = self.pos;
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.newline();
                }
                _ => break,
            }
        }
    }

    /// Whitespace and the commas allowed between rows.
    fn separators(&mut self) {
        loop {
            self.ws();
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    fn syntax(&self, message: impl Into<String>) -> InputError {
        InputError::Syntax {
            at: self.at(),
            message: message.into(),
        }
    }

    fn unexpected(&self, expected: &str) -> InputError {
        match self.peek() {
            None => InputError::UnexpectedEnd {
                at: self.at(),
                expected: expected.to_string(),
            },
            Some(c) => self.syntax(format!("expected {expected}, found {}", show_byte(c))),
        }
    }

    fn expect(&mut self, c: u8, expected: &str) -> Result<(), InputError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn bytes(&self, span: Span) -> &[u8] {
        match span {
            Span::Input(start, end) => &self.data[start..end],
            Span::Scratch => &self.scratch,
        }
    }

    /// A string starting at the opening quote. Without escapes it borrows the input; with
    /// them it is unescaped into `scratch`.
    fn string(&mut self) -> Result<Span, InputError> {
        let start_line = self.line;
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let Some(c) = self.peek() else {
                return Err(InputError::UnexpectedEnd {
                    at: Location::Line(start_line),
                    expected: "the end of a string".into(),
                });
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(if escaped {
                        Span::Scratch
                    } else {
                        Span::Input(start, self.pos - 1)
                    });
                }
                b'\\' => {
                    if !escaped {
                        escaped = true;
                        self.scratch.clear();
                        self.scratch.extend_from_slice(&self.data[start..self.pos]);
                    }
                    self.escape()?;
                }
                _ => {
                    self.pos += 1;
                    if c == b'\n' {
                        self.newline();
                    }
                    if escaped {
                        self.scratch.push(c);
                    }
                }
            }
        }
    }

    /// One backslash escape, appended to `scratch`.
    fn escape(&mut self) -> Result<(), InputError> {
        self.pos += 1; // the backslash
        let Some(c) = self.peek() else {
            return Err(self.unexpected("an escape sequence"));
        };
        self.pos += 1;
        let byte = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let ch = self.unicode_escape()?;
                let mut buf = [0u8; 4];
                self.scratch
                    .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                return Ok(());
            }
            other => return Err(self.syntax(format!("invalid escape \\{}", show_char(other)))),
        };
        self.scratch.push(byte);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, InputError> {
        let digits = self
            .data
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.unexpected("4 hex digits"))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.syntax(format!("invalid \\u escape digit {}", show_byte(d))))?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`: one code point, joining a surrogate pair; a lone surrogate becomes U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, InputError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.data[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            self.pos = save;
        }
        Ok(char::from_u32(hi).unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// Skips a nested array or object starting at its opening bracket.
    fn skip_nested(&mut self) -> Result<(), InputError> {
        let mut depth = 0usize;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.unexpected("the end of a nested array or object"));
            };
            match c {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > DEPTH_MAX {
                        return Err(self.syntax(format!("values nested deeper than {DEPTH_MAX}")));
                    }
                }
                b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.pos += 1;
                        return Ok(());
                    }
                }
                b'\n' => {
                    self.pos += 1;
                    self.newline();
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// One value at the current position (whitespace already skipped).
    fn token(&mut self) -> Result<Token, InputError> {
        match self.peek() {
            Some(b'"') => self.string().map(Token::Str),
            Some(b'[' | b'{') => {
                let start = self.pos;
                self.skip_nested()?;
                Ok(Token::Nested(Span::Input(start, self.pos)))
            }
            Some(_) => {
                let start = self.pos;
                while self.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'_')
                }) {
                    self.pos += 1;
                }
                let word = &self.data[start..self.pos];
                match word {
                    [] => Err(self.unexpected("a value")),
                    b"null" => Ok(Token::Null),
                    b"true" => Ok(Token::Bool(true)),
                    b"false" => Ok(Token::Bool(false)),
                    [b'0'..=b'9' | b'-' | b'+' | b'.', ..] => {
                        Ok(Token::Number(Span::Input(start, self.pos)))
                    }
                    w if [&b"nan"[..], b"inf", b"infinity"]
                        .iter()
                        .any(|k| w.eq_ignore_ascii_case(k)) =>
                    {
                        Ok(Token::Number(Span::Input(start, self.pos)))
                    }
                    w => Err(self.syntax(format!("unexpected '{}'", super::excerpt(w)))),
                }
            }
            None => Err(self.unexpected("a value")),
        }
    }

    /// After a structural error in a row that began on `row_line`: resume at the start of the
    /// current line if the error is on a later line and nothing but whitespace precedes it there
    /// (the next row probably starts here); otherwise skip past the next newline.
    fn resync(&mut self, row_line: usize) {
        let only_ws = self.data[self.line_start..self.pos]
            .iter()
            .all(|c| matches!(c, b' ' | b'\t' | b'\r'));
        if self.line > row_line && only_ws {
            return;
        }
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == b'\n' {
                self.newline();
                return;
            }
        }
    }
}

fn show_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

fn show_char(c: u8) -> String {
    if c.is_ascii_graphic() {
        (c as char).to_string()
    } else {
        format!("<0x{c:02x}>")
    }
}

/// Puts one JSON value into column `ci` of the current row.
fn push_token(
    ctx: &mut Ctx<'_>,
    s: &Scanner<'_>,
    ci: usize,
    token: Token,
    at: Location,
) -> Result<(), InputError> {
    let ty = ctx.b.cols[ci].ty;
    match token {
        Token::Null => ctx.push(ci, Ok(Cell::Null), at, b"null"),
        Token::Bool(v) => ctx.push(ci, bool_cell(ty, v), at, if v { b"true" } else { b"false" }),
        Token::Number(span) | Token::Str(span) | Token::Nested(span) => {
            let text = s.bytes(span);
            if text.len() > ctx.opts.field_bytes_max {
                return Err(InputError::FieldTooLong {
                    at,
                    column: ctx.b.cols[ci].name.clone(),
                    len: text.len(),
                    max: ctx.opts.field_bytes_max,
                });
            }
            let cell = match token {
                Token::Nested(_) if !is_string(ty) => Err(super::builder::Reason::Parse),
                _ => parse_text(ty, text),
            };
            ctx.push(ci, cell, at, text)
        }
    }
}

/// Parses one object into the current row. The outer error is structural (the caller must
/// resynchronise); the inner one is about a value and leaves the scanner after the object.
fn object(ctx: &mut Ctx<'_>, s: &mut Scanner<'_>) -> Result<Result<(), InputError>, InputError> {
    s.expect(b'{', "'{' starting a row")?;
    let mut first_error: Option<InputError> = None;
    s.ws();
    if s.peek() == Some(b'}') {
        s.pos += 1;
        return Ok(Ok(()));
    }
    loop {
        s.ws();
        if s.peek() != Some(b'"') {
            return Err(s.unexpected("a quoted field name"));
        }
        let key = s.string()?;
        let at = s.at();
        let target = ctx.target(s.bytes(key));
        let unknown = match target {
            None if !ctx.opts.skip_unknown_fields => Some(ctx.unknown_column(at, s.bytes(key))),
            _ => None,
        };
        s.ws();
        s.expect(b':', "':' after a field name")?;
        s.ws();
        let at = s.at();
        let token = s.token()?;
        if first_error.is_none() {
            first_error = unknown;
        }
        if let (Some(ci), None) = (target, &first_error) {
            let result = if ctx.b.is_filled(ci) {
                Err(InputError::DuplicateColumn {
                    at,
                    column: ctx.b.cols[ci].name.clone(),
                })
            } else {
                push_token(ctx, s, ci, token, at)
            };
            first_error = result.err();
        }
        s.ws();
        match s.peek() {
            Some(b',') => s.pos += 1,
            Some(b'}') => {
                s.pos += 1;
                return Ok(first_error.map_or(Ok(()), Err));
            }
            _ => return Err(s.unexpected("',' or '}'")),
        }
    }
}

pub(crate) fn decode_each_row(data: &[u8], ctx: &mut Ctx<'_>) -> Result<(), InputError> {
    let mut s = Scanner::new(data);
    s.ws();
    let wrapped = s.peek() == Some(b'[');
    if wrapped {
        s.pos += 1;
    }
    loop {
        s.separators();
        match s.peek() {
            None if wrapped => return Err(s.unexpected("']' closing the rows")),
            None => return Ok(()),
            Some(b']') if wrapped => {
                s.pos += 1;
                s.ws();
                return match s.peek() {
                    None => Ok(()),
                    Some(_) => Err(s.syntax("data after the closing ']'")),
                };
            }
            Some(_) => {}
        }
        let row = ctx.start_row()?;
        let row_line = s.line;
        match object(ctx, &mut s) {
            Ok(result) => ctx.finish_row(row, Location::Line(row_line), result)?,
            Err(e) => {
                ctx.finish_row(row, Location::Line(row_line), Err(e))?;
                s.resync(row_line);
            }
        }
    }
}

/// An array of strings (a WithNames header row); the names are copied out.
fn name_array(s: &mut Scanner<'_>) -> Result<Vec<Vec<u8>>, InputError> {
    s.expect(b'[', "'[' starting the header row")?;
    let mut names = Vec::new();
    s.ws();
    if s.peek() == Some(b']') {
        s.pos += 1;
        return Ok(names);
    }
    loop {
        s.ws();
        if s.peek() != Some(b'"') {
            return Err(s.unexpected("a quoted column name"));
        }
        let span = s.string()?;
        names.push(s.bytes(span).to_vec());
        s.ws();
        match s.peek() {
            Some(b',') => s.pos += 1,
            Some(b']') => {
                s.pos += 1;
                return Ok(names);
            }
            _ => return Err(s.unexpected("',' or ']'")),
        }
    }
}

/// One array row; fields map through `map` (field index → target position).
fn array_row(
    ctx: &mut Ctx<'_>,
    s: &mut Scanner<'_>,
    map: &[Option<usize>],
) -> Result<Result<(), InputError>, InputError> {
    let row_at = s.at();
    s.expect(b'[', "'[' starting a row")?;
    let mut first_error: Option<InputError> = None;
    let mut fields = 0usize;
    s.ws();
    if s.peek() == Some(b']') {
        s.pos += 1;
    } else {
        loop {
            s.ws();
            let at = s.at();
            let token = s.token()?;
            if first_error.is_none() {
                if let Some(&Some(ci)) = map.get(fields) {
                    first_error = push_token(ctx, s, ci, token, at).err();
                }
            }
            fields += 1;
            s.ws();
            match s.peek() {
                Some(b',') => s.pos += 1,
                Some(b']') => {
                    s.pos += 1;
                    break;
                }
                _ => return Err(s.unexpected("',' or ']'")),
            }
        }
    }
    if fields != map.len() {
        return Ok(Err(InputError::FieldCount {
            at: row_at,
            expected: map.len(),
            found: fields,
        }));
    }
    Ok(first_error.map_or(Ok(()), Err))
}

pub(crate) fn decode_compact(
    data: &[u8],
    ctx: &mut Ctx<'_>,
    header: Header,
) -> Result<(), InputError> {
    let mut s = Scanner::new(data);
    let map: Vec<Option<usize>> = if header.names {
        s.separators();
        if s.peek().is_none() {
            return Ok(());
        }
        let at = s.at();
        let names = name_array(&mut s)?;
        let map = ctx.header_map(at, names.iter().map(|n| n.as_slice()))?;
        if header.types {
            s.separators();
            let types = name_array(&mut s)?;
            if types.len() != names.len() {
                return Err(InputError::FieldCount {
                    at,
                    expected: names.len(),
                    found: types.len(),
                });
            }
        }
        map
    } else {
        (0..ctx.b.cols.len()).map(Some).collect()
    };
    loop {
        s.separators();
        if s.peek().is_none() {
            return Ok(());
        }
        let row = ctx.start_row()?;
        let row_line = s.line;
        match array_row(ctx, &mut s, &map) {
            Ok(result) => ctx.finish_row(row, Location::Line(row_line), result)?,
            Err(e) => {
                ctx.finish_row(row, Location::Line(row_line), Err(e))?;
                s.resync(row_line);
            }
        }
    }
}
