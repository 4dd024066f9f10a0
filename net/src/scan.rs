//! The request-head state machine: validates bytes strictly in order and reports header spans.
//!
//! Checking in order is what makes the parser split-invariant: the first bad byte (or the first
//! byte over a limit) is found at the same offset however the input was cut, and any prefix that
//! stops before it is merely incomplete. The scanner keeps only offsets, so its state stays valid
//! when the caller's buffer is moved or grown between calls.

use crate::chars;
use crate::error::{Error, ErrorKind};
use crate::head::Version;
use crate::limits::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the request line; empty lines here are skipped (RFC 9112 §2.2).
    LeadingLines,
    /// Saw CR of an empty leading line.
    LeadingLf,
    Method,
    Target,
    /// Inside the 8 bytes of `HTTP/x.y`.
    Version,
    /// After the version: CR or LF.
    RequestLineEnd,
    RequestLineLf,
    /// At the first byte of a header line or of the final empty line.
    LineStart,
    Name,
    /// Skipping whitespace after the colon.
    ValueWs,
    Value,
    HeaderLf,
    EndLf,
    Done,
}

/// Offsets of one header line in the buffer; the value excludes surrounding whitespace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderSpan {
    pub(crate) name_start: usize,
    pub(crate) name_end: usize,
    pub(crate) value_start: usize,
    pub(crate) value_end: usize,
}

/// What one run of the scanner found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The head ends just before this offset (after its empty line).
    Done(usize),
    /// Every byte so far is valid; more are needed.
    Incomplete,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Scanner {
    state: State,
    pos: usize,
    pub(crate) method_start: usize,
    pub(crate) method_end: usize,
    pub(crate) target_start: usize,
    pub(crate) target_end: usize,
    version_start: usize,
    major: u8,
    pub(crate) version: Version,
    line_start: usize,
    name_end: usize,
    value_start: usize,
    value_end: usize,
    pub(crate) header_count: usize,
}

impl Scanner {
    pub(crate) const fn new() -> Scanner {
        Scanner {
            state: State::LeadingLines,
            pos: 0,
            method_start: 0,
            method_end: 0,
            target_start: 0,
            target_end: 0,
            version_start: 0,
            major: 0,
            version: Version::Http11,
            line_start: 0,
            name_end: 0,
            value_start: 0,
            value_end: 0,
            header_count: 0,
        }
    }

    /// Bytes already validated.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Validates `buf` from where the last run stopped; calls `on_header` once per header line.
    ///
    /// `buf` must begin with the bytes of earlier runs. At most `header_capacity` header lines
    /// are accepted. Never panics: every index is checked against `end <= buf.len()`.
    pub(crate) fn run<F: FnMut(HeaderSpan)>(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        header_capacity: usize,
        mut on_header: F,
    ) -> Result<Scan, Error> {
        let end = buf.len().min(limits.max_header_bytes);
        loop {
            if self.state == State::Done {
                return Ok(Scan::Done(self.pos));
            }
            if self.pos >= end {
                if buf.len() >= limits.max_header_bytes {
                    return Err(Error::at(
                        ErrorKind::HeadersTooLarge,
                        limits.max_header_bytes,
                    ));
                }
                return Ok(Scan::Incomplete);
            }
            let byte = buf[self.pos];
            match self.state {
                State::LeadingLines => match byte {
                    b'\r' => {
                        self.state = State::LeadingLf;
                        self.pos += 1;
                    }
                    b'\n' => self.pos += 1,
                    _ => {
                        self.method_start = self.pos;
                        self.state = State::Method;
                    }
                },
                State::LeadingLf => {
                    if byte != b'\n' {
                        return Err(Error::at(ErrorKind::BareCr, self.pos));
                    }
                    self.pos += 1;
                    self.state = State::LeadingLines;
                }
                State::Method => {
                    let mut pos = self.pos;
                    while pos < end && chars::tchar(buf[pos]) {
                        pos += 1;
                    }
                    self.pos = pos;
                    if pos == end {
                        continue;
                    }
                    if buf[pos] != b' ' || pos == self.method_start {
                        return Err(Error::at(ErrorKind::InvalidMethod, pos));
                    }
                    self.method_end = pos;
                    self.pos = pos + 1;
                    self.target_start = pos + 1;
                    self.state = State::Target;
                }
                State::Target => {
                    let limit = self.target_start.saturating_add(limits.max_target_bytes);
                    let mut pos = self.pos;
                    while pos < end && chars::target(buf[pos]) {
                        if pos >= limit {
                            return Err(Error::at(ErrorKind::TargetTooLong, pos));
                        }
                        pos += 1;
                    }
                    self.pos = pos;
                    if pos == end {
                        continue;
                    }
                    match buf[pos] {
                        b' ' if pos > self.target_start => {
                            self.target_end = pos;
                            self.pos = pos + 1;
                            self.version_start = pos + 1;
                            self.state = State::Version;
                        }
                        // `GET /` with no version: the HTTP/0.9 shape.
                        b'\r' | b'\n' if pos > self.target_start => {
                            return Err(Error::at(ErrorKind::InvalidVersion, pos));
                        }
                        _ => return Err(Error::at(ErrorKind::InvalidTarget, pos)),
                    }
                }
                State::Version => {
                    let index = self.pos - self.version_start;
                    let valid = match index {
                        0..=4 => byte == b"HTTP/"[index],
                        5 => {
                            self.major = byte.wrapping_sub(b'0');
                            byte.is_ascii_digit()
                        }
                        6 => byte == b'.',
                        _ => byte.is_ascii_digit(),
                    };
                    if !valid {
                        return Err(Error::at(ErrorKind::InvalidVersion, self.pos));
                    }
                    if index == 7 {
                        if self.major != 1 {
                            return Err(Error::at(
                                ErrorKind::UnsupportedVersion,
                                self.version_start,
                            ));
                        }
                        // A higher 1.x minor is processed as the highest we implement (RFC 9110 §2.5).
                        self.version = if byte == b'0' {
                            Version::Http10
                        } else {
                            Version::Http11
                        };
                        self.state = State::RequestLineEnd;
                    }
                    self.pos += 1;
                }
                State::RequestLineEnd => {
                    self.state = match byte {
                        b'\r' => State::RequestLineLf,
                        b'\n' => State::LineStart,
                        _ => return Err(Error::at(ErrorKind::InvalidVersion, self.pos)),
                    };
                    self.pos += 1;
                }
                State::RequestLineLf | State::HeaderLf | State::EndLf => {
                    if byte != b'\n' {
                        return Err(Error::at(ErrorKind::BareCr, self.pos));
                    }
                    if self.state == State::HeaderLf {
                        self.emit(&mut on_header);
                    }
                    self.state = match self.state {
                        State::EndLf => State::Done,
                        _ => State::LineStart,
                    };
                    self.pos += 1;
                }
                State::LineStart => match byte {
                    b'\r' => {
                        self.state = State::EndLf;
                        self.pos += 1;
                    }
                    // A bare LF ends a line (RFC 9112 §2.2 allows it); bare CR never does.
                    b'\n' => {
                        self.state = State::Done;
                        self.pos += 1;
                    }
                    b' ' | b'\t' => return Err(Error::at(ErrorKind::ObsFold, self.pos)),
                    _ if chars::tchar(byte) => {
                        if self.header_count >= header_capacity {
                            return Err(Error::at(ErrorKind::TooManyHeaders, self.pos));
                        }
                        self.line_start = self.pos;
                        self.state = State::Name;
                    }
                    _ => return Err(Error::at(ErrorKind::InvalidHeaderName, self.pos)),
                },
                State::Name => {
                    let mut pos = self.pos;
                    while pos < end && chars::tchar(buf[pos]) {
                        pos += 1;
                    }
                    self.pos = pos;
                    if pos == end {
                        continue;
                    }
                    match buf[pos] {
                        b':' => {
                            self.name_end = pos;
                            self.pos = pos + 1;
                            self.state = State::ValueWs;
                        }
                        b'\r' | b'\n' => return Err(Error::at(ErrorKind::HeaderWithoutColon, pos)),
                        _ => return Err(Error::at(ErrorKind::InvalidHeaderName, pos)),
                    }
                }
                State::ValueWs => {
                    let mut pos = self.pos;
                    while pos < end && chars::ows(buf[pos]) {
                        pos += 1;
                    }
                    self.pos = pos;
                    if pos == end {
                        continue;
                    }
                    self.value_start = pos;
                    self.state = State::Value;
                }
                State::Value => {
                    let mut pos = self.pos;
                    while pos < end && chars::value(buf[pos]) {
                        pos += 1;
                    }
                    self.pos = pos;
                    if pos == end {
                        continue;
                    }
                    let line_end = buf[pos];
                    if line_end != b'\r' && line_end != b'\n' {
                        return Err(Error::at(ErrorKind::InvalidHeaderValue, pos));
                    }
                    let mut value_end = pos;
                    while value_end > self.value_start && chars::ows(buf[value_end - 1]) {
                        value_end -= 1;
                    }
                    self.value_end = value_end;
                    self.pos = pos + 1;
                    if line_end == b'\r' {
                        self.state = State::HeaderLf;
                    } else {
                        self.emit(&mut on_header);
                        self.state = State::LineStart;
                    }
                }
                State::Done => {}
            }
        }
    }

    fn emit<F: FnMut(HeaderSpan)>(&mut self, on_header: &mut F) {
        debug_assert!(self.line_start < self.name_end);
        debug_assert!(self.name_end < self.value_start);
        debug_assert!(self.value_start <= self.value_end);
        on_header(HeaderSpan {
            name_start: self.line_start,
            name_end: self.name_end,
            value_start: self.value_start,
            value_end: self.value_end,
        });
        self.header_count += 1;
    }
}
