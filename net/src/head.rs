//! Request heads: the parsed types, the stateless and resumable parsers, and framing rules.

use crate::chars;
use crate::error::{Error, ErrorKind};
use crate::limits::Limits;
use crate::query::{self, QueryPairs};
use crate::scan::{HeaderSpan, Scan, Scanner};

/// One header line, borrowed from the request buffer. The value has no surrounding whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'b> {
    /// The field name as sent (token characters only; compare case-insensitively).
    pub name: &'b str,
    /// The field value: visible ASCII, spaces, tabs and obs-text bytes (0x80..=0xFF).
    pub value: &'b [u8],
}

impl Header<'_> {
    /// A placeholder to fill caller-supplied header arrays: `[Header::EMPTY; 64]`.
    pub const EMPTY: Header<'static> = Header {
        name: "",
        value: b"",
    };
}

impl<'b> Header<'b> {
    /// The value as text, or `None` when it holds obs-text bytes that are not UTF-8.
    pub fn value_str(&self) -> Option<&'b str> {
        std::str::from_utf8(self.value).ok()
    }
}

/// The protocol version of a request. `HTTP/1.2` and later minors are read as 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: connections close unless the client asks for keep-alive; no chunked bodies.
    Http10,
    /// HTTP/1.1: persistent connections by default.
    Http11,
}

/// The request method; methods are case-sensitive, so `get` is [`Method::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'b> {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Trace,
    Connect,
    /// Any other token.
    Other(&'b str),
}

impl<'b> Method<'b> {
    /// Classifies a method token.
    pub fn from_token(token: &'b str) -> Method<'b> {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            "TRACE" => Method::Trace,
            "CONNECT" => Method::Connect,
            other => Method::Other(other),
        }
    }

    /// The method token as sent.
    pub fn as_str(&self) -> &'b str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Trace => "TRACE",
            Method::Connect => "CONNECT",
            Method::Other(token) => token,
        }
    }
}

/// How the request body is framed (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// Neither Content-Length nor Transfer-Encoding: the body is empty. For POST and PUT a
    /// ClickHouse server answers 411 instead; see [`RequestHead::require_length`].
    None,
    /// `Content-Length: n` (possibly 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head. Everything is borrowed: the strings from the request buffer, the
/// header list from the caller's header array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead<'b, 'h> {
    pub method: Method<'b>,
    /// The request-target exactly as sent (visible ASCII).
    pub target: &'b str,
    pub version: Version,
    /// Header lines in the order received.
    pub headers: &'h [Header<'b>],
    /// The body framing the headers declare.
    pub body: BodyKind,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request: send [`crate::write_continue`] before
    /// reading the body, or answer with a final status instead.
    pub expect_continue: bool,
}

impl<'b> RequestHead<'b, '_> {
    /// The value of the first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }

    /// The first header named `name` as text; `None` if absent or not UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'b str> {
        self.header(name)
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    /// The values of every header named `name`, in order.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'b [u8]> + 's {
        self.headers
            .iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value)
    }

    /// The path part of the target (origin-form, or the path of an absolute-form target).
    pub fn path(&self) -> &'b str {
        query::split_target(self.target).0
    }

    /// The query string after `?`, without the `?`; `None` when there is no `?`.
    pub fn query(&self) -> Option<&'b str> {
        query::split_target(self.target).1
    }

    /// Decoded `key=value` pairs of the query string (empty when there is none).
    pub fn query_pairs(&self) -> QueryPairs<'b> {
        query::query_pairs(self.query().unwrap_or(""))
    }

    /// `Err(LengthRequired)` (411) for a POST, PUT or PATCH with [`BodyKind::None`].
    pub fn require_length(&self) -> Result<(), Error> {
        let needs_length = matches!(self.method, Method::Post | Method::Put | Method::Patch);
        if needs_length && self.body == BodyKind::None {
            return Err(Error::at(ErrorKind::LengthRequired, 0));
        }
        Ok(())
    }
}

/// The result of feeding bytes to a head parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadStatus<'b, 'h> {
    /// A whole head; `consumed` bytes belong to it, the body (or next request) starts there.
    Complete {
        head: RequestHead<'b, 'h>,
        consumed: usize,
    },
    /// Every byte so far is valid but the head has not ended: call again with more.
    Incomplete,
}

/// Parses a request head from the start of `buf`, which holds the bytes received so far.
///
/// Headers are written into `headers`; a head with more header lines than `headers.len()` or
/// `limits.max_headers` fails with [`ErrorKind::TooManyHeaders`]. Does not allocate. Re-parses
/// `buf` from its first byte on every call; [`HeadParser`] resumes instead.
pub fn parse_head<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<HeadStatus<'b, 'h>, Error> {
    let mut scanner = Scanner::new();
    parse_with(&mut scanner, buf, headers, limits)
}

/// A head parser that remembers how far it has validated, so a head that arrives in many small
/// reads costs linear time in total. Holds offsets only, so the caller may move or grow its
/// buffer between calls, as long as the bytes already fed stay the same.
#[derive(Debug, Clone, Copy)]
pub struct HeadParser {
    scanner: Scanner,
}

impl Default for HeadParser {
    fn default() -> HeadParser {
        HeadParser::new()
    }
}

impl HeadParser {
    pub const fn new() -> HeadParser {
        HeadParser {
            scanner: Scanner::new(),
        }
    }

    /// Like [`parse_head`], resuming after the bytes earlier calls validated. After `Complete`
    /// or an error the parser is reset, ready for the next request.
    pub fn parse<'b, 'h>(
        &mut self,
        buf: &'b [u8],
        headers: &'h mut [Header<'b>],
        limits: &Limits,
    ) -> Result<HeadStatus<'b, 'h>, Error> {
        if self.scanner.pos() == 0 || self.scanner.pos() > buf.len() {
            // Nothing to resume (or a caller broke the contract): one collecting pass.
            self.scanner = Scanner::new();
            let result = parse_with(&mut self.scanner, buf, headers, limits);
            if !matches!(result, Ok(HeadStatus::Incomplete)) {
                self.reset();
            }
            return result;
        }
        let capacity = headers.len().min(limits.max_headers);
        match self.scanner.run(buf, limits, capacity, |_| {}) {
            Ok(Scan::Incomplete) => Ok(HeadStatus::Incomplete),
            Ok(Scan::Done(_)) => {
                // The head is whole and valid: one more pass collects the header slices.
                self.reset();
                parse_head(buf, headers, limits)
            }
            Err(error) => {
                self.reset();
                Err(error)
            }
        }
    }

    /// Forgets any partial head.
    pub fn reset(&mut self) {
        self.scanner = Scanner::new();
    }

    /// Bytes of the current partial head already validated.
    pub fn validated_bytes(&self) -> usize {
        self.scanner.pos()
    }
}

fn parse_with<'b, 'h>(
    scanner: &mut Scanner,
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &Limits,
) -> Result<HeadStatus<'b, 'h>, Error> {
    debug_assert_eq!(
        scanner.pos(),
        0,
        "collecting passes start at the first byte"
    );
    let capacity = headers.len().min(limits.max_headers);
    let mut filled = 0;
    let scan = scanner.run(buf, limits, capacity, |span: HeaderSpan| {
        // `run` never reports more than `capacity <= headers.len()` spans.
        if let Some(slot) = headers.get_mut(filled) {
            *slot = Header {
                name: ascii_str(&buf[span.name_start..span.name_end]),
                value: &buf[span.value_start..span.value_end],
            };
        }
        filled += 1;
    })?;
    let consumed = match scan {
        Scan::Incomplete => return Ok(HeadStatus::Incomplete),
        Scan::Done(consumed) => consumed,
    };
    debug_assert_eq!(filled, scanner.header_count);
    let headers: &'h [Header<'b>] = headers;
    let headers = &headers[..filled.min(headers.len())];
    let version = scanner.version;
    let framing = interpret(buf, headers, version, limits)?;
    let head = RequestHead {
        method: Method::from_token(ascii_str(&buf[scanner.method_start..scanner.method_end])),
        target: ascii_str(&buf[scanner.target_start..scanner.target_end]),
        version,
        headers,
        body: framing.body,
        keep_alive: framing.keep_alive,
        expect_continue: framing.expect_continue,
    };
    Ok(HeadStatus::Complete { head, consumed })
}

/// Bytes the scanner has checked to be ASCII, as a `str` (empty if that ever failed to hold).
fn ascii_str(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    std::str::from_utf8(bytes).unwrap_or("")
}

/// What the headers say about the body and the connection.
struct Framing {
    body: BodyKind,
    keep_alive: bool,
    expect_continue: bool,
}

/// Applies RFC 9112 §6 framing rules, rejecting the shapes used for request smuggling.
fn interpret(
    buf: &[u8],
    headers: &[Header<'_>],
    version: Version,
    limits: &Limits,
) -> Result<Framing, Error> {
    let offset_of =
        |header: &Header<'_>| (header.name.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    let mut content_length: Option<(u64, usize)> = None;
    let mut transfer_encoding: Option<usize> = None;
    let mut chunked_count = 0u32;
    let mut chunked_last = false;
    let mut other_coding = false;
    let mut host_seen = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;

    for header in headers {
        let name = header.name;
        let offset = offset_of(header);
        if name.eq_ignore_ascii_case("content-length") {
            // A list of identical values is one value (RFC 9112 §6.3 point 5).
            for element in header.value.split(|byte| *byte == b',') {
                let length = parse_decimal(chars::trim_ows(element))
                    .ok_or(Error::at(ErrorKind::InvalidContentLength, offset))?;
                match content_length {
                    Some((previous, _)) if previous != length => {
                        return Err(Error::at(ErrorKind::ConflictingContentLength, offset));
                    }
                    Some(_) => {}
                    None => content_length = Some((length, offset)),
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding.get_or_insert(offset);
            for element in header.value.split(|byte| *byte == b',') {
                let coding = chars::trim_ows(element);
                if coding.is_empty() {
                    continue;
                }
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                if chunked_last {
                    chunked_count += 1;
                } else {
                    other_coding = true;
                }
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for element in header.value.split(|byte| *byte == b',') {
                let option = chars::trim_ows(element);
                close |= option.eq_ignore_ascii_case(b"close");
                keep_alive_token |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("host") {
            if host_seen {
                return Err(Error::at(ErrorKind::DuplicateHost, offset));
            }
            host_seen = true;
        } else if name.eq_ignore_ascii_case("expect") {
            // An HTTP/1.0 client cannot expect 100 Continue (RFC 9110 §10.1.1).
            expect_continue |= version == Version::Http11
                && chars::trim_ows(header.value).eq_ignore_ascii_case(b"100-continue");
        }
    }

    let body = if let Some(offset) = transfer_encoding {
        if version == Version::Http10 {
            return Err(Error::at(ErrorKind::TransferEncodingInHttp10, offset));
        }
        if content_length.is_some() {
            return Err(Error::at(
                ErrorKind::ContentLengthWithTransferEncoding,
                offset,
            ));
        }
        if !chunked_last || chunked_count != 1 {
            return Err(Error::at(ErrorKind::TransferEncodingNotChunked, offset));
        }
        if other_coding {
            return Err(Error::at(ErrorKind::UnsupportedTransferCoding, offset));
        }
        BodyKind::Chunked
    } else if let Some((length, offset)) = content_length {
        if length > limits.max_body_bytes {
            return Err(Error::at(ErrorKind::BodyTooLarge, offset));
        }
        BodyKind::Length(length)
    } else {
        BodyKind::None
    };
    let keep_alive = !close && (version == Version::Http11 || keep_alive_token);
    Ok(Framing {
        body,
        keep_alive,
        expect_continue,
    })
}

/// `1*DIGIT` as a number, saturating at `u64::MAX` (which is over any body limit anyway).
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value
            .saturating_mul(10)
            .saturating_add(u64::from(byte - b'0'));
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a whole head with default limits and 32 header slots; panics unless complete.
    fn parse_ok(input: &[u8], check: impl FnOnce(&RequestHead<'_, '_>, usize)) {
        let mut headers = [Header::EMPTY; 32];
        match parse_head(input, &mut headers, &Limits::default()) {
            Ok(HeadStatus::Complete { head, consumed }) => check(&head, consumed),
            other => panic!("{:?} for {:?}", other, String::from_utf8_lossy(input)),
        }
    }

    fn parse_error_with(input: &[u8], limits: &Limits, slots: usize) -> (ErrorKind, u64) {
        let mut headers = [Header::EMPTY; 32];
        match parse_head(input, &mut headers[..slots], limits) {
            Err(error) => (error.kind, error.offset),
            other => panic!("{:?} for {:?}", other, String::from_utf8_lossy(input)),
        }
    }

    fn parse_error(input: &[u8]) -> (ErrorKind, u64) {
        parse_error_with(input, &Limits::default(), 32)
    }

    #[test]
    fn parses_a_clickhouse_connect_insert_head() {
        let input = b"POST /?query=INSERT+INTO+t+FORMAT+Native&session_id=abc HTTP/1.1\r\n\
            Host: localhost:8123\r\nAccept-Encoding: gzip\r\nUser-Agent: clickhouse-connect/0.8.0\r\n\
            Content-Encoding: lz4\r\nTransfer-Encoding: chunked\r\n\r\nbody";
        parse_ok(input, |head, consumed| {
            assert_eq!(head.method, Method::Post);
            assert_eq!(
                head.target,
                "/?query=INSERT+INTO+t+FORMAT+Native&session_id=abc"
            );
            assert_eq!(head.path(), "/");
            assert_eq!(
                head.query(),
                Some("query=INSERT+INTO+t+FORMAT+Native&session_id=abc")
            );
            let pairs: Vec<_> = head.query_pairs().map(Result::unwrap).collect();
            assert_eq!(pairs[0].1, "INSERT INTO t FORMAT Native");
            assert_eq!(pairs[1], ("session_id".into(), "abc".into()));
            assert_eq!(head.version, Version::Http11);
            assert_eq!(head.headers.len(), 5);
            assert_eq!(head.body, BodyKind::Chunked);
            assert!(head.keep_alive && !head.expect_continue);
            assert_eq!(&input[consumed..], b"body");
        });
    }

    #[test]
    fn header_lookup_ignores_case_and_trims_whitespace() {
        let input = b"GET /ping HTTP/1.1\r\nhost:  db \t\r\nX-A: 1\r\nx-a:2\r\nEmpty:\r\nSpaces:   \r\n\r\n";
        parse_ok(input, |head, _| {
            assert_eq!(head.header("HOST"), Some(&b"db"[..]));
            assert_eq!(head.header_str("Host"), Some("db"));
            assert_eq!(
                head.headers_named("x-A").collect::<Vec<_>>(),
                vec![&b"1"[..], &b"2"[..]]
            );
            assert_eq!(head.header("empty"), Some(&b""[..]));
            assert_eq!(head.header("spaces"), Some(&b""[..]));
            assert_eq!(head.header("missing"), None);
            assert_eq!(head.headers[0].name, "host");
            assert_eq!(head.body, BodyKind::None);
        });
    }

    #[test]
    fn obs_text_values_are_kept_as_bytes() {
        parse_ok(
            b"GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n",
            |head, _| {
                assert_eq!(head.headers[0].value, b"caf\xc3\xa9 \xff");
                assert_eq!(head.headers[0].value_str(), None);
            },
        );
        parse_ok(
            b"GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\r\n\r\n",
            |head, _| {
                assert_eq!(head.header_str("x-name"), Some("café"));
            },
        );
    }

    #[test]
    fn methods_are_case_sensitive_tokens() {
        let cases: [(&[u8], Method<'_>); 5] = [
            (b"GET / HTTP/1.1\r\n\r\n", Method::Get),
            (b"DELETE / HTTP/1.1\r\n\r\n", Method::Delete),
            (b"OPTIONS * HTTP/1.1\r\n\r\n", Method::Options),
            (b"get / HTTP/1.1\r\n\r\n", Method::Other("get")),
            (b"M-SEARCH * HTTP/1.1\r\n\r\n", Method::Other("M-SEARCH")),
        ];
        for (input, method) in cases {
            parse_ok(input, |head, _| assert_eq!(head.method, method));
        }
        assert_eq!(Method::from_token("PATCH").as_str(), "PATCH");
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let cases: [(&[u8], bool); 7] = [
            (b"GET / HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (
                b"GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
            (
                b"GET / HTTP/1.0\r\nConnection: upgrade,  Keep-Alive \r\n\r\n",
                true,
            ),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
                false,
            ),
        ];
        for (input, keep_alive) in cases {
            parse_ok(input, |head, _| {
                assert_eq!(head.keep_alive, keep_alive, "{input:?}")
            });
        }
    }

    #[test]
    fn later_http1_minors_read_as_1_1() {
        parse_ok(b"GET / HTTP/1.2\r\n\r\n", |head, _| {
            assert_eq!(head.version, Version::Http11)
        });
        parse_ok(b"GET / HTTP/1.0\r\n\r\n", |head, _| {
            assert_eq!(head.version, Version::Http10)
        });
    }

    #[test]
    fn expect_continue_is_detected_on_http_1_1_only() {
        let cases: [(&[u8], bool); 4] = [
            (
                b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                true,
            ),
            (
                b"POST / HTTP/1.1\r\nexpect: 100-Continue \r\nContent-Length: 3\r\n\r\n",
                true,
            ),
            (
                b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                false,
            ),
            (
                b"POST / HTTP/1.1\r\nExpect: something\r\nContent-Length: 3\r\n\r\n",
                false,
            ),
        ];
        for (input, expect) in cases {
            parse_ok(input, |head, _| {
                assert_eq!(head.expect_continue, expect, "{input:?}")
            });
        }
    }

    #[test]
    fn content_length_framing() {
        parse_ok(
            b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            |head, _| {
                assert_eq!(head.body, BodyKind::Length(0));
                head.require_length().unwrap();
            },
        );
        parse_ok(
            b"POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n",
            |head, _| {
                assert_eq!(head.body, BodyKind::Length(42));
            },
        );
        // Identical repeats, in one line or several, are one value (RFC 9112 §6.3).
        parse_ok(
            b"POST / HTTP/1.1\r\nContent-Length: 7, 7\r\ncontent-length: 007\r\n\r\n",
            |head, _| {
                assert_eq!(head.body, BodyKind::Length(7));
            },
        );
    }

    #[test]
    fn missing_framing_is_body_none_and_411_for_uploads() {
        for method in ["POST", "PUT", "PATCH"] {
            let input = format!("{method} / HTTP/1.1\r\nHost: x\r\n\r\n");
            parse_ok(input.as_bytes(), |head, _| {
                assert_eq!(head.body, BodyKind::None);
                let error = head.require_length().unwrap_err();
                assert_eq!(
                    (error.kind, error.status()),
                    (ErrorKind::LengthRequired, 411)
                );
            });
        }
        parse_ok(b"GET / HTTP/1.1\r\n\r\n", |head, _| {
            assert_eq!(head.body, BodyKind::None);
            head.require_length().unwrap();
        });
    }

    #[test]
    fn chunked_framing_and_its_smuggling_rules() {
        parse_ok(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n",
            |head, _| {
                assert_eq!(head.body, BodyKind::Chunked);
            },
        );
        parse_ok(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: ,chunked,\r\n\r\n",
            |head, _| {
                assert_eq!(head.body, BodyKind::Chunked);
            },
        );
        let te = |value: &str| {
            format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {value}\r\n\r\n")
        };
        assert_eq!(
            parse_error(te("gzip").as_bytes()),
            (ErrorKind::TransferEncodingNotChunked, 26)
        );
        assert_eq!(
            parse_error(te("chunked, gzip").as_bytes()).0,
            ErrorKind::TransferEncodingNotChunked
        );
        assert_eq!(
            parse_error(te("chunked, chunked").as_bytes()).0,
            ErrorKind::TransferEncodingNotChunked
        );
        assert_eq!(
            parse_error(te("").as_bytes()).0,
            ErrorKind::TransferEncodingNotChunked
        );
        assert_eq!(
            parse_error(te("chunked;x=1").as_bytes()).0,
            ErrorKind::TransferEncodingNotChunked
        );
        let gzip_chunked = parse_error(te("gzip, chunked").as_bytes());
        assert_eq!(gzip_chunked.0, ErrorKind::UnsupportedTransferCoding);
        assert_eq!(gzip_chunked.0.status(), 501);
        let split =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse_error(split).0, ErrorKind::TransferEncodingNotChunked);
        let both = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            parse_error(both),
            (ErrorKind::ContentLengthWithTransferEncoding, 36)
        );
        let both_reversed =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(
            parse_error(both_reversed),
            (ErrorKind::ContentLengthWithTransferEncoding, 17)
        );
        let http10 = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            parse_error(http10),
            (ErrorKind::TransferEncodingInHttp10, 17)
        );
    }

    #[test]
    fn bad_content_lengths_are_rejected() {
        for value in ["abc", "-1", "+5", "1 2", "", "5,", "0x10", "1.0"] {
            let input = format!("POST / HTTP/1.1\r\nContent-Length: {value}\r\n\r\n");
            assert_eq!(
                parse_error(input.as_bytes()),
                (ErrorKind::InvalidContentLength, 17),
                "{value:?}"
            );
        }
        let conflicting = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n";
        assert_eq!(
            parse_error(conflicting),
            (ErrorKind::ConflictingContentLength, 36)
        );
        let listed = b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n";
        assert_eq!(
            parse_error(listed),
            (ErrorKind::ConflictingContentLength, 17)
        );
        let limits = Limits {
            max_body_bytes: 100,
            ..Limits::default()
        };
        let over = b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
        assert_eq!(
            parse_error_with(over, &limits, 32),
            (ErrorKind::BodyTooLarge, 17)
        );
        let huge = b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n";
        assert_eq!(parse_error(huge).0, ErrorKind::BodyTooLarge);
        assert_eq!(parse_error(huge).0.status(), 413);
    }

    #[test]
    fn duplicate_host_is_rejected() {
        let input = b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n";
        assert_eq!(parse_error(input), (ErrorKind::DuplicateHost, 25));
    }

    #[test]
    fn request_line_errors() {
        let cases: [(&[u8], ErrorKind, u64); 16] = [
            (b" / HTTP/1.1\r\n\r\n", ErrorKind::InvalidMethod, 0),
            (b"G(T / HTTP/1.1\r\n\r\n", ErrorKind::InvalidMethod, 1),
            (b"GET\t/ HTTP/1.1\r\n\r\n", ErrorKind::InvalidMethod, 3),
            (b"GET\r\n\r\n", ErrorKind::InvalidMethod, 3),
            (b"GET  / HTTP/1.1\r\n\r\n", ErrorKind::InvalidTarget, 4),
            (b"GET /a\x00b HTTP/1.1\r\n\r\n", ErrorKind::InvalidTarget, 6),
            (
                b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
                ErrorKind::InvalidTarget,
                8,
            ),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", ErrorKind::InvalidTarget, 5),
            (b"GET /\r\n\r\n", ErrorKind::InvalidVersion, 5),
            (b"GET / http/1.1\r\n\r\n", ErrorKind::InvalidVersion, 6),
            (b"GET / HTTP/1.1 \r\n\r\n", ErrorKind::InvalidVersion, 14),
            (b"GET / HTTP/1.10\r\n\r\n", ErrorKind::InvalidVersion, 14),
            (b"GET / HTTP/11\r\n\r\n", ErrorKind::InvalidVersion, 12),
            (b"GET / HTTP/1.x\r\n\r\n", ErrorKind::InvalidVersion, 13),
            (
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                ErrorKind::UnsupportedVersion,
                6,
            ),
            (b"GET / HTTP/0.9\r\n\r\n", ErrorKind::UnsupportedVersion, 6),
        ];
        for (input, kind, offset) in cases {
            assert_eq!(
                parse_error(input),
                (kind, offset),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(ErrorKind::UnsupportedVersion.status(), 505);
    }

    #[test]
    fn header_line_errors() {
        let cases: [(&[u8], ErrorKind, u64); 12] = [
            (
                b"GET / HTTP/1.1\r\nNa me: v\r\n\r\n",
                ErrorKind::InvalidHeaderName,
                18,
            ),
            (
                b"GET / HTTP/1.1\r\nName : v\r\n\r\n",
                ErrorKind::InvalidHeaderName,
                20,
            ),
            (
                b"GET / HTTP/1.1\r\n: v\r\n\r\n",
                ErrorKind::InvalidHeaderName,
                16,
            ),
            (
                b"GET / HTTP/1.1\r\nN\xc3\xa4me: v\r\n\r\n",
                ErrorKind::InvalidHeaderName,
                17,
            ),
            (
                b"GET / HTTP/1.1\r\n(Name): v\r\n\r\n",
                ErrorKind::InvalidHeaderName,
                16,
            ),
            (
                b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                ErrorKind::HeaderWithoutColon,
                23,
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
                ErrorKind::InvalidHeaderValue,
                20,
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
                ErrorKind::InvalidHeaderValue,
                20,
            ),
            (
                b"GET / HTTP/1.1\r\nA: \x1b[31m\r\n\r\n",
                ErrorKind::InvalidHeaderValue,
                19,
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
                ErrorKind::ObsFold,
                22,
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
                ErrorKind::ObsFold,
                22,
            ),
            (
                b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
                ErrorKind::ObsFold,
                16,
            ),
        ];
        for (input, kind, offset) in cases {
            assert_eq!(
                parse_error(input),
                (kind, offset),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn bare_carriage_returns_are_rejected_everywhere() {
        let cases: [(&[u8], u64); 5] = [
            (b"\rGET / HTTP/1.1\r\n\r\n", 1),
            (b"GET / HTTP/1.1\rHost: a\r\n\r\n", 15),
            (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 21),
            (b"GET / HTTP/1.1\r\nA: b\r\n\rX", 23),
            (b"GET / HTTP/1.1\r\nA: b\r\r\n\r\n", 21),
        ];
        for (input, offset) in cases {
            assert_eq!(parse_error(input), (ErrorKind::BareCr, offset), "{input:?}");
        }
    }

    #[test]
    fn bare_line_feeds_end_lines_and_leading_empty_lines_are_skipped() {
        parse_ok(b"GET / HTTP/1.1\nHost: a\n\nX", |head, consumed| {
            assert_eq!(head.header("host"), Some(&b"a"[..]));
            assert_eq!(consumed, 24);
        });
        parse_ok(b"\r\n\nGET / HTTP/1.1\r\n\r\n", |head, consumed| {
            assert_eq!(head.target, "/");
            assert_eq!(consumed, 21);
        });
    }

    #[test]
    fn limits_map_to_431_and_414() {
        let limits = Limits {
            max_header_bytes: 40,
            max_target_bytes: 10,
            max_headers: 2,
            ..Limits::default()
        };
        let at_limit = b"GET /123456789 HTTP/1.1\r\nA: 12345678\r\n\r\n";
        assert_eq!(at_limit.len(), 40);
        let mut headers = [Header::EMPTY; 4];
        assert!(matches!(
            parse_head(at_limit, &mut headers, &limits),
            Ok(HeadStatus::Complete { consumed: 40, .. })
        ));
        let over = b"GET /123456789 HTTP/1.1\r\nA: 123456789\r\n\r\n";
        assert_eq!(
            parse_error_with(over, &limits, 4),
            (ErrorKind::HeadersTooLarge, 40)
        );
        // Over the limit without an end in sight is an error too, not a wait for more bytes.
        assert_eq!(
            parse_error_with(&over[..40], &limits, 4),
            (ErrorKind::HeadersTooLarge, 40)
        );
        let mut headers = [Header::EMPTY; 4];
        assert_eq!(
            parse_head(&over[..39], &mut headers, &limits),
            Ok(HeadStatus::Incomplete)
        );

        let long_target = b"GET /1234567890 HTTP/1.1\r\n\r\n";
        assert_eq!(
            parse_error_with(long_target, &limits, 4),
            (ErrorKind::TargetTooLong, 14)
        );
        assert_eq!(ErrorKind::TargetTooLong.status(), 414);

        let three = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let roomy = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert_eq!(
            parse_error_with(three, &roomy, 32),
            (ErrorKind::TooManyHeaders, 28)
        );
        // The caller's array bounds the count as well.
        assert_eq!(
            parse_error_with(three, &Limits::default(), 1),
            (ErrorKind::TooManyHeaders, 22)
        );
        assert_eq!(
            parse_error_with(three, &Limits::default(), 0),
            (ErrorKind::TooManyHeaders, 16)
        );
        assert_eq!(ErrorKind::TooManyHeaders.status(), 431);
    }

    #[test]
    fn every_prefix_is_incomplete_and_the_whole_is_complete() {
        let input = b"\r\nPOST /?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX: \t\r\n\r\n";
        for end in 0..input.len() {
            let mut headers = [Header::EMPTY; 8];
            let status = parse_head(&input[..end], &mut headers, &Limits::default());
            assert_eq!(status, Ok(HeadStatus::Incomplete), "prefix of {end} bytes");
        }
        parse_ok(input, |head, consumed| {
            assert_eq!(consumed, input.len());
            assert_eq!(head.body, BodyKind::Length(3));
        });
    }

    #[test]
    fn resumed_parsing_matches_a_whole_parse() {
        let input = b"GET /?query=SELECT+1 HTTP/1.1\r\nHost: localhost\r\nX-ClickHouse-User: default\r\n\r\n";
        let mut parser = HeadParser::new();
        // The caller's buffer is a fresh copy on every call: offsets, not pointers, carry over.
        for end in 0..input.len() {
            let copy = input[..end].to_vec();
            let mut headers = [Header::EMPTY; 8];
            assert_eq!(
                parser.parse(&copy, &mut headers, &Limits::default()),
                Ok(HeadStatus::Incomplete)
            );
            assert!(parser.validated_bytes() <= end);
        }
        assert!(parser.validated_bytes() > 60);
        let mut headers = [Header::EMPTY; 8];
        let Ok(HeadStatus::Complete { head, consumed }) =
            parser.parse(input, &mut headers, &Limits::default())
        else {
            panic!("not complete");
        };
        assert_eq!(consumed, input.len());
        assert_eq!(head.header("x-clickhouse-user"), Some(&b"default"[..]));
        assert_eq!(parser.validated_bytes(), 0, "reset after a complete head");
    }

    #[test]
    fn resumed_parsing_finds_errors_at_the_same_offset() {
        let input = b"GET / HTTP/1.1\r\nGood: 1\r\nBad\x01: 2\r\n\r\n";
        let whole = parse_error(input);
        let mut parser = HeadParser::new();
        let mut result = Ok(());
        for end in 0..=input.len() {
            let mut headers = [Header::EMPTY; 8];
            result = parser
                .parse(&input[..end], &mut headers, &Limits::default())
                .map(|_| ());
            if result.is_err() {
                break;
            }
        }
        let error = result.unwrap_err();
        assert_eq!((error.kind, error.offset), whole);
        assert_eq!(whole, (ErrorKind::InvalidHeaderName, 28));
    }

    #[test]
    fn a_shrunken_buffer_restarts_the_resumable_parser() {
        let mut parser = HeadParser::new();
        let mut headers = [Header::EMPTY; 8];
        assert_eq!(
            parser.parse(
                b"GET /long-path HTTP/1.1\r\nHost",
                &mut headers,
                &Limits::default()
            ),
            Ok(HeadStatus::Incomplete)
        );
        let mut headers = [Header::EMPTY; 8];
        assert!(matches!(
            parser.parse(b"GET / HTTP/1.1\r\n\r\n", &mut headers, &Limits::default()),
            Ok(HeadStatus::Complete { consumed: 18, .. })
        ));
    }

    #[test]
    fn pipelined_heads_parse_one_after_another() {
        let input = b"GET /ping HTTP/1.1\r\n\r\nGET /replicas_status HTTP/1.1\r\nHost: a\r\n\r\nGET /ping HTT";
        let mut headers = [Header::EMPTY; 8];
        let Ok(HeadStatus::Complete {
            head,
            consumed: first,
        }) = parse_head(input, &mut headers, &Limits::default())
        else {
            panic!("first");
        };
        assert_eq!(head.path(), "/ping");
        let mut headers = [Header::EMPTY; 8];
        let rest = &input[first..];
        let Ok(HeadStatus::Complete {
            head,
            consumed: second,
        }) = parse_head(rest, &mut headers, &Limits::default())
        else {
            panic!("second");
        };
        assert_eq!(head.path(), "/replicas_status");
        let mut headers = [Header::EMPTY; 8];
        assert_eq!(
            parse_head(&rest[second..], &mut headers, &Limits::default()),
            Ok(HeadStatus::Incomplete)
        );
    }

    #[test]
    fn absolute_form_targets_have_a_path() {
        parse_ok(
            b"GET http://db:8123/ping?x=1 HTTP/1.1\r\n\r\n",
            |head, _| {
                assert_eq!(head.path(), "/ping");
                assert_eq!(head.query(), Some("x=1"));
            },
        );
    }
}
