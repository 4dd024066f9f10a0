//! The Values format: SQL literal tuples `(1, 'a', NULL), (2, 'b', 3.5)`.
//!
//! Literals only: numbers (with sign, fraction, exponent, `inf`, `nan`), single-quoted strings
//! (backslash escapes and doubled quotes), `NULL`, `true`/`false`. Tuples may be separated by
//! commas and whitespace; a final `;` is allowed. Expressions (function calls, casts,
//! arithmetic) are refused with a message saying so.

use super::builder::Cell;
use super::scalar::{bool_cell, parse_text};
use super::{Ctx, InputError, Location};

enum Literal {
    Null,
    Bool(bool),
    Number(usize, usize),
    Str,
}

struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
    scratch: Vec<u8>,
}

impl<'a> Scanner<'a> {
    fn at(&self) -> Location {
        Location::Line(self.line)
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | 0x0C => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                }
                _ => break,
            }
        }
    }

    fn unexpected(&self, expected: &str) -> InputError {
        match self.peek() {
            None => InputError::UnexpectedEnd {
                at: self.at(),
                expected: expected.to_string(),
            },
            Some(c) => InputError::Syntax {
                at: self.at(),
                message: format!("expected {expected}, found {}", show(c)),
            },
        }
    }

    /// A single-quoted string starting at its quote, unescaped into `scratch`.
    fn string(&mut self) -> Result<(), InputError> {
        let open_line = self.line;
        self.pos += 1;
        self.scratch.clear();
        loop {
            let Some(c) = self.peek() else {
                return Err(InputError::UnexpectedEnd {
                    at: Location::Line(open_line),
                    expected: "a closing quote for the string opened here".into(),
                });
            };
            self.pos += 1;
            match c {
                b'\'' if self.peek() == Some(b'\'') => {
                    self.pos += 1;
                    self.scratch.push(b'\'');
                }
                b'\'' => return Ok(()),
                b'\\' => {
                    let Some(e) = self.peek() else { continue };
                    self.pos += 1;
                    if e == b'\n' {
                        self.line += 1;
                    }
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
                            let hex = self
                                .data
                                .get(self.pos..self.pos + 2)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u8::from_str_radix(h, 16).ok());
                            match hex {
                                Some(b) => {
                                    self.pos += 2;
                                    b
                                }
                                None => b'x',
                            }
                        }
                        other => other,
                    };
                    self.scratch.push(byte);
                }
                _ => {
                    if c == b'\n' {
                        self.line += 1;
                    }
                    self.scratch.push(c);
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Literal, InputError> {
        match self.peek() {
            Some(b'\'') => {
                self.string()?;
                Ok(Literal::Str)
            }
            Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'_') => {
                let start = self.pos;
                while self.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, b'.' | b'_')
                        // A sign only starts a number or follows an exponent.
                        || (matches!(c, b'+' | b'-')
                            && (self.pos == start || matches!(self.data[self.pos - 1], b'e' | b'E')))
                }) {
                    self.pos += 1;
                }
                let word = &self.data[start..self.pos];
                let save = self.pos;
                self.ws();
                if self.peek() == Some(b'(') || self.peek() == Some(b':') {
                    return Err(InputError::Syntax {
                        at: self.at(),
                        message: format!(
                            "'{}…' is an expression; the Values format takes literals only",
                            super::excerpt(word)
                        ),
                    });
                }
                self.pos = save;
                if word.eq_ignore_ascii_case(b"null") {
                    Ok(Literal::Null)
                } else if word.eq_ignore_ascii_case(b"true") {
                    Ok(Literal::Bool(true))
                } else if word.eq_ignore_ascii_case(b"false") {
                    Ok(Literal::Bool(false))
                } else if matches!(word[0], b'0'..=b'9' | b'+' | b'-' | b'.')
                    || [&b"nan"[..], b"inf", b"infinity"]
                        .iter()
                        .any(|k| word.eq_ignore_ascii_case(k))
                {
                    Ok(Literal::Number(start, self.pos))
                } else {
                    Err(InputError::Syntax {
                        at: self.at(),
                        message: format!(
                            "unexpected '{}'; expected a literal",
                            super::excerpt(word)
                        ),
                    })
                }
            }
            _ => Err(self.unexpected("a literal")),
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

/// One tuple; the outer error is structural and ends the decode, the inner one is about a value.
fn tuple(ctx: &mut Ctx<'_>, s: &mut Scanner<'_>) -> Result<Result<(), InputError>, InputError> {
    let row_at = s.at();
    if s.peek() != Some(b'(') {
        return Err(s.unexpected("'(' starting a row"));
    }
    s.pos += 1;
    let columns = ctx.b.cols.len();
    let mut first_error: Option<InputError> = None;
    let mut fields = 0usize;
    s.ws();
    if s.peek() == Some(b')') {
        s.pos += 1;
    } else {
        loop {
            s.ws();
            let at = s.at();
            let literal = s.literal()?;
            if first_error.is_none() && fields < columns {
                let ci = fields;
                let ty = ctx.b.cols[ci].ty;
                let result = match literal {
                    Literal::Null => ctx.push(ci, Ok(Cell::Null), at, b"NULL"),
                    Literal::Bool(v) => {
                        ctx.push(ci, bool_cell(ty, v), at, if v { b"true" } else { b"false" })
                    }
                    Literal::Number(start, end) => ctx.push(
                        ci,
                        parse_text(ty, &s.data[start..end]),
                        at,
                        &s.data[start..end],
                    ),
                    Literal::Str => {
                        if s.scratch.len() > ctx.opts.field_bytes_max {
                            Err(InputError::FieldTooLong {
                                at,
                                column: ctx.b.cols[ci].name.clone(),
                                len: s.scratch.len(),
                                max: ctx.opts.field_bytes_max,
                            })
                        } else {
                            ctx.push(ci, parse_text(ty, &s.scratch), at, &s.scratch)
                        }
                    }
                };
                first_error = result.err();
            }
            fields += 1;
            s.ws();
            match s.peek() {
                Some(b',') => s.pos += 1,
                Some(b')') => {
                    s.pos += 1;
                    break;
                }
                _ => return Err(s.unexpected("',' or ')'")),
            }
        }
    }
    if fields != columns {
        return Ok(Err(InputError::FieldCount {
            at: row_at,
            expected: columns,
            found: fields,
        }));
    }
    Ok(first_error.map_or(Ok(()), Err))
}

pub(crate) fn decode(data: &[u8], ctx: &mut Ctx<'_>) -> Result<(), InputError> {
    let mut s = Scanner {
        data,
        pos: 0,
        line: 1,
        scratch: Vec::new(),
    };
    let mut first = true;
    loop {
        s.ws();
        match s.peek() {
            None => return Ok(()),
            Some(b';') => {
                s.pos += 1;
                s.ws();
                return match s.peek() {
                    None => Ok(()),
                    Some(_) => Err(s.unexpected("nothing after ';'")),
                };
            }
            Some(b',') if !first => {
                s.pos += 1;
                s.ws();
                if s.peek().is_none() {
                    return Ok(());
                }
            }
            _ => {}
        }
        first = false;
        let row = ctx.start_row()?;
        let at = s.at();
        let result = tuple(ctx, &mut s);
        match result {
            Ok(result) => ctx.finish_row(row, at, result)?,
            Err(e) => {
                // No way to find the next tuple reliably after broken syntax.
                ctx.b.abort_row();
                return Err(e);
            }
        }
    }
}
