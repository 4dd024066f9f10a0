//! CSV and TabSeparated (with optional names and types header rows).
//!
//! CSV: RFC 4180 quoting (`""` inside quotes), a configurable delimiter, spaces around fields
//! trimmed, quoted fields may span lines. TSV: backslash escapes (`\t`, `\n`, `\\`, `\xHH`, …),
//! no quoting; `TabSeparatedRaw` takes bytes as they are. Both accept `\n` and `\r\n` line ends,
//! a missing final newline, and skip blank lines. NULL is `\N` in both; CSV also reads an
//! unquoted `NULL` as NULL, and non-string columns also read empty fields and `null` as NULL.

use super::builder::Cell;
use super::scalar::{is_null_text, parse_text};
use super::{Ctx, InputError, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Csv { delimiter: u8 },
    Tsv { raw: bool },
}

/// Which header rows precede the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub names: bool,
    pub types: bool,
}

/// One field of the current record: a range of the input or of the unescape buffer.
#[derive(Debug, Clone, Copy)]
struct Field {
    start: usize,
    end: usize,
    in_scratch: bool,
    /// CSV: it was quoted (never NULL). TSV: it was exactly `\N`.
    quoted: bool,
    null: bool,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
    dialect: Dialect,
    scratch: Vec<u8>,
    fields: Vec<Field>,
    record_start: usize,
    record_line: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8], dialect: Dialect) -> Reader<'a> {
        let pos = if data.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        Reader {
            data,
            pos,
            line: 1,
            dialect,
            scratch: Vec::new(),
            fields: Vec::new(),
            record_start: pos,
            record_line: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn field(&self, f: &Field) -> &[u8] {
        if f.in_scratch {
            &self.scratch[f.start..f.end]
        } else {
            &self.data[f.start..f.end]
        }
    }

    /// Consumes a line end at `pos` (`\n` or `\r\n`) if there is one.
    fn line_end(&mut self) -> bool {
        match self.peek() {
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                true
            }
            Some(b'\r') if self.data.get(self.pos + 1) == Some(&b'\n') => {
                self.pos += 2;
                self.line += 1;
                true
            }
            // A final `\r` with no `\n` after it (a CRLF body cut before its last `\n`).
            Some(b'\r') if self.pos + 1 == self.data.len() => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn is_blank_char(&self, c: u8) -> bool {
        let delimiter = match self.dialect {
            Dialect::Csv { delimiter } => delimiter,
            Dialect::Tsv { .. } => b'\t',
        };
        matches!(c, b' ' | b'\t') && c != delimiter
    }

    /// Reads the next record into `fields`; `Ok(false)` at the end of the data. Blank lines
    /// are skipped.
    fn record(&mut self) -> Result<bool, InputError> {
        loop {
            let mut p = self.pos;
            while p < self.data.len() && self.is_blank_char(self.data[p]) {
                p += 1;
            }
            let rest = &self.data[p..];
            if rest.is_empty() {
                self.pos = p;
                return Ok(false);
            }
            if rest.starts_with(b"\n") || rest.starts_with(b"\r\n") || rest == b"\r" {
                self.pos = p;
                self.line_end();
                continue;
            }
            break;
        }
        self.record_start = self.pos;
        self.record_line = self.line;
        self.fields.clear();
        self.scratch.clear();
        match self.dialect {
            Dialect::Csv { delimiter } => self.csv_record(delimiter)?,
            Dialect::Tsv { raw } => self.tsv_record(raw),
        }
        Ok(true)
    }

    fn csv_record(&mut self, delimiter: u8) -> Result<(), InputError> {
        loop {
            while self.peek().is_some_and(|c| self.is_blank_char(c)) {
                self.pos += 1;
            }
            let field = if self.peek() == Some(b'"') {
                self.csv_quoted(delimiter)?
            } else {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    let crlf =
                        c == b'\r' && matches!(self.data.get(self.pos + 1), Some(&b'\n') | None);
                    if c == delimiter || c == b'\n' || crlf {
                        break;
                    }
                    self.pos += 1;
                }
                let mut end = self.pos;
                while end > start && self.is_blank_char(self.data[end - 1]) {
                    end -= 1;
                }
                let text = &self.data[start..end];
                let null = text == b"\\N" || text == b"NULL";
                Field {
                    start,
                    end,
                    in_scratch: false,
                    quoted: false,
                    null,
                }
            };
            self.fields.push(field);
            match self.peek() {
                Some(c) if c == delimiter => self.pos += 1,
                _ => {
                    self.line_end();
                    return Ok(());
                }
            }
        }
    }

    /// A quoted CSV field starting at its opening quote, up to the delimiter or line end.
    fn csv_quoted(&mut self, delimiter: u8) -> Result<Field, InputError> {
        let open_line = self.line;
        self.pos += 1;
        let start = self.pos;
        let mut in_scratch = false;
        let scratch_start = self.scratch.len();
        let end;
        loop {
            let Some(c) = self.peek() else {
                return Err(InputError::UnexpectedEnd {
                    at: Location::Line(open_line),
                    expected: "a closing '\"' for the field opened here".into(),
                });
            };
            self.pos += 1;
            match c {
                b'"' if self.peek() == Some(b'"') => {
                    if !in_scratch {
                        in_scratch = true;
                        self.scratch.extend_from_slice(&self.data[start..self.pos]);
                    } else {
                        self.scratch.push(b'"');
                    }
                    self.pos += 1;
                }
                b'"' => {
                    end = self.pos - 1;
                    break;
                }
                _ => {
                    if c == b'\n' {
                        self.line += 1;
                    }
                    if in_scratch {
                        self.scratch.push(c);
                    }
                }
            }
        }
        while self.peek().is_some_and(|c| self.is_blank_char(c)) {
            self.pos += 1;
        }
        match self.peek() {
            None | Some(b'\n') => {}
            Some(b'\r') if matches!(self.data.get(self.pos + 1), Some(&b'\n') | None) => {}
            Some(c) if c == delimiter => {}
            Some(c) => {
                return Err(InputError::Syntax {
                    at: Location::Line(self.line),
                    message: format!(
                        "unexpected {} after a closing quote; expected the delimiter or a line end",
                        show(c)
                    ),
                })
            }
        }
        Ok(if in_scratch {
            Field {
                start: scratch_start,
                end: self.scratch.len(),
                in_scratch: true,
                quoted: true,
                null: false,
            }
        } else {
            Field {
                start,
                end,
                in_scratch: false,
                quoted: true,
                null: false,
            }
        })
    }

    fn tsv_record(&mut self, raw: bool) {
        loop {
            let start = self.pos;
            let mut escaped = false;
            while let Some(c) = self.peek() {
                match c {
                    b'\t' | b'\n' => break,
                    b'\\' if !raw => {
                        escaped = true;
                        self.pos += 1;
                        if self.peek() == Some(b'\n') {
                            self.line += 1;
                        }
                        if self.peek().is_some() {
                            self.pos += 1;
                        }
                    }
                    _ => self.pos += 1,
                }
            }
            let mut end = self.pos;
            if self.peek() != Some(b'\t') && end > start && self.data[end - 1] == b'\r' {
                let backslashes = self.data[start..end - 1]
                    .iter()
                    .rev()
                    .take_while(|&&c| c == b'\\')
                    .count();
                if raw || backslashes % 2 == 0 {
                    end -= 1; // CRLF
                }
            }
            let text = &self.data[start..end];
            let null = text == b"\\N";
            let field = if escaped && !null {
                let scratch_start = self.scratch.len();
                unescape_tsv(text, &mut self.scratch);
                Field {
                    start: scratch_start,
                    end: self.scratch.len(),
                    in_scratch: true,
                    quoted: false,
                    null,
                }
            } else {
                Field {
                    start,
                    end,
                    in_scratch: false,
                    quoted: false,
                    null,
                }
            };
            self.fields.push(field);
            match self.peek() {
                Some(b'\t') => self.pos += 1,
                _ => {
                    self.line_end();
                    return;
                }
            }
        }
    }

    /// After a structural error: continue on the line after the one the record started on.
    fn resync(&mut self) {
        self.pos = self.record_start;
        self.line = self.record_line;
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == b'\n' {
                self.line += 1;
                return;
            }
        }
    }
}

fn show(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// TabSeparated escapes: `\b \f \r \n \t \0 \a \v \xHH`, backslash-newline; any other escaped
/// byte stands for itself (`\\`, `\'`, `\"`).
fn unescape_tsv(text: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c != b'\\' || i + 1 == text.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = text[i + 1];
        i += 2;
        let byte = match e {
            b'b' => 0x08,
            b'f' => 0x0C,
            b'r' => b'\r',
            b'n' => b'\n',
            b't' => b'\t',
            b'0' => 0,
            b'a' => 0x07,
            b'v' => 0x0B,
            b'x' => {
                let hex = text
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        i += 2;
                        b
                    }
                    None => b'x',
                }
            }
            other => other,
        };
        out.push(byte);
    }
}

/// Pushes the fields of the current record into the row through `map`.
fn push_record(
    ctx: &mut Ctx<'_>,
    r: &Reader<'_>,
    map: &[Option<usize>],
    at: Location,
) -> Result<(), InputError> {
    if r.fields.len() != map.len() {
        return Err(InputError::FieldCount {
            at,
            expected: map.len(),
            found: r.fields.len(),
        });
    }
    for (f, target) in r.fields.iter().zip(map) {
        let Some(ci) = *target else { continue };
        let text = r.field(f);
        if text.len() > ctx.opts.field_bytes_max {
            return Err(InputError::FieldTooLong {
                at,
                column: ctx.b.cols[ci].name.clone(),
                len: text.len(),
                max: ctx.opts.field_bytes_max,
            });
        }
        let ty = ctx.b.cols[ci].ty;
        let null = f.null
            || (!f.quoted && is_null_text(ty, text))
            || (f.quoted && text.is_empty() && !super::scalar::is_string(ty));
        let cell = if null {
            Ok(Cell::Null)
        } else {
            parse_text(ty, text)
        };
        ctx.push(ci, cell, at, text)?;
    }
    Ok(())
}

pub(crate) fn decode(
    data: &[u8],
    ctx: &mut Ctx<'_>,
    dialect: Dialect,
    header: Header,
) -> Result<(), InputError> {
    let mut r = Reader::new(data, dialect);
    let map: Vec<Option<usize>> = if header.names {
        if !r.record()? {
            return Ok(());
        }
        let at = Location::Line(r.record_line);
        let map = ctx.header_map(at, r.fields.iter().map(|f| r.field(f)))?;
        if header.types {
            let names = r.fields.len();
            if !r.record()? {
                return Ok(());
            }
            if r.fields.len() != names {
                return Err(InputError::FieldCount {
                    at: Location::Line(r.record_line),
                    expected: names,
                    found: r.fields.len(),
                });
            }
        }
        map
    } else {
        (0..ctx.b.cols.len()).map(Some).collect()
    };
    loop {
        let record = r.record();
        if matches!(record, Ok(false)) {
            return Ok(());
        }
        let row = ctx.start_row()?;
        let at = Location::Line(r.record_line);
        match record {
            Ok(_) => {
                let result = push_record(ctx, &r, &map, at);
                ctx.finish_row(row, at, result)?;
            }
            Err(e) => {
                ctx.finish_row(row, at, Err(e))?;
                r.resync();
            }
        }
    }
}
