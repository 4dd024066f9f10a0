//! Response writers: status line, headers and bodies appended to a caller-supplied `Vec<u8>`.
//!
//! Responses are always `HTTP/1.1` and always carry an explicit `Connection` header. The
//! framing headers (`Content-Length`, `Transfer-Encoding`, `Connection`) are written here and
//! must not be passed in `headers`. Header values may come from requests (a `query_id`
//! echoed back), so control bytes in them are replaced by spaces: a value can never end the
//! header line early (response splitting). Chunked responses must not be sent to HTTP/1.0
//! clients (RFC 9112 §7.1); give those a fixed-length response instead.

use crate::chars;

/// The reason phrase for `status` (empty for codes it does not know; that is allowed).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends the interim `HTTP/1.1 100 Continue` response (answer to `Expect: 100-continue`).
pub fn write_continue(out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// Appends a whole response with a `Content-Length` body. For 1xx, 204 and 304 the body and
/// the length are left out, as those statuses cannot have one.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    write_fixed_head(out, status, headers, body.len() as u64, keep_alive);
    if status_allows_body(status) {
        out.extend_from_slice(body);
    }
}

/// Appends a response head declaring `Content-Length: content_length`; the caller sends the
/// body (or, answering HEAD, does not).
pub fn write_fixed_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    content_length: u64,
    keep_alive: bool,
) {
    write_status_line(out, status);
    write_headers(out, headers);
    // RFC 9110 §8.6: no Content-Length in 1xx or 204 responses.
    if status_allows_length(status) {
        out.extend_from_slice(b"Content-Length: ");
        write_decimal(out, content_length);
        out.extend_from_slice(b"\r\n");
    }
    write_connection_and_end(out, keep_alive);
}

/// Appends a response head with `Transfer-Encoding: chunked`; follow with [`write_chunk`]
/// calls and one [`finish_chunked`].
pub fn write_chunked_head(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    keep_alive: bool,
) {
    debug_assert!(
        status_allows_body(status),
        "status {status} cannot have a chunked body"
    );
    write_status_line(out, status);
    write_headers(out, headers);
    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    write_connection_and_end(out, keep_alive);
}

/// Appends one chunk holding `data`. Empty data writes nothing (an empty chunk would end the
/// body).
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    write_hex(out, data.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk and the end of the (empty) trailer section.
pub fn finish_chunked(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

fn status_allows_body(status: u16) -> bool {
    !(100..200).contains(&status) && status != 204 && status != 304
}

fn status_allows_length(status: u16) -> bool {
    !(100..200).contains(&status) && status != 204
}

fn write_status_line(out: &mut Vec<u8>, status: u16) {
    debug_assert!(
        (100..=999).contains(&status),
        "status {status} is not three digits"
    );
    let status = if (100..=999).contains(&status) {
        status
    } else {
        500
    };
    out.extend_from_slice(b"HTTP/1.1 ");
    write_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn write_headers(out: &mut Vec<u8>, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        let framing = ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|reserved| name.eq_ignore_ascii_case(reserved));
        debug_assert!(!framing, "{name} is written by the response writer");
        debug_assert!(
            !name.is_empty() && name.bytes().all(chars::tchar),
            "bad header name {name:?}"
        );
        if framing {
            continue;
        }
        out.extend(
            name.bytes()
                .map(|byte| if chars::tchar(byte) { byte } else { b'-' }),
        );
        out.extend_from_slice(b": ");
        out.extend(
            value
                .bytes()
                .map(|byte| if chars::value(byte) { byte } else { b' ' }),
        );
        out.extend_from_slice(b"\r\n");
    }
}

fn write_connection_and_end(out: &mut Vec<u8>, keep_alive: bool) {
    if keep_alive {
        out.extend_from_slice(b"Connection: keep-alive\r\n\r\n");
    } else {
        out.extend_from_slice(b"Connection: close\r\n\r\n");
    }
}

fn write_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn write_hex(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BodyDecoder, BodyKind, Limits};

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn fixed_response_has_length_and_connection() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            200,
            &[("X-ClickHouse-Format", "TabSeparated")],
            b"Ok.\n",
            true,
        );
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nX-ClickHouse-Format: TabSeparated\r\nContent-Length: 4\r\n\
             Connection: keep-alive\r\n\r\nOk.\n"
        );
        out.clear();
        write_response(&mut out, 404, &[], b"", false);
        assert_eq!(
            text(&out),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn head_only_writes_the_declared_length() {
        let mut out = Vec::new();
        write_fixed_head(&mut out, 200, &[], 1_234_567_890_123, true);
        assert!(text(&out).contains("Content-Length: 1234567890123\r\n"));
        assert!(text(&out).ends_with("\r\n\r\n"));
    }

    #[test]
    fn bodiless_statuses_carry_no_body() {
        let mut out = Vec::new();
        write_response(&mut out, 204, &[], b"ignored", true);
        assert_eq!(
            text(&out),
            "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
        );
        out.clear();
        write_response(&mut out, 304, &[], b"ignored", true);
        assert_eq!(
            text(&out),
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn continue_is_an_interim_response() {
        let mut out = Vec::new();
        write_continue(&mut out);
        assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn chunked_stream_decodes_back() {
        let mut out = Vec::new();
        write_chunked_head(&mut out, 200, &[("X-ClickHouse-Query-Id", "q1")], true);
        let head_len = out.len();
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nX-ClickHouse-Query-Id: q1\r\nTransfer-Encoding: chunked\r\n\
             Connection: keep-alive\r\n\r\n"
        );
        let big = vec![b'x'; 300];
        write_chunk(&mut out, b"hello ");
        write_chunk(&mut out, b"");
        write_chunk(&mut out, &big);
        finish_chunked(&mut out);
        assert!(text(&out[head_len..]).starts_with("6\r\nhello \r\n12c\r\n"));
        let mut decoder = BodyDecoder::new(BodyKind::Chunked, &Limits::default());
        let mut body = Vec::new();
        let progress = decoder.decode_into(&out[head_len..], &mut body).unwrap();
        assert!(progress.done && progress.consumed == out.len() - head_len);
        assert_eq!(body.len(), 306);
        assert!(body.starts_with(b"hello x"));
    }

    #[test]
    fn header_values_cannot_split_the_response() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            200,
            &[("X-ClickHouse-Query-Id", "a\r\nSet-Cookie: x\0\x7f")],
            b"",
            true,
        );
        assert!(text(&out).contains("X-ClickHouse-Query-Id: a  Set-Cookie: x  \r\n"));
        assert_eq!(text(&out).matches("\r\n").count(), 5);
    }

    #[test]
    fn reason_phrases_cover_the_statuses_ronto_sends() {
        for status in [
            200, 204, 400, 401, 403, 404, 408, 411, 413, 414, 415, 429, 431, 500, 501, 503, 505,
        ] {
            assert!(!reason_phrase(status).is_empty(), "{status}");
        }
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(299), "");
        let mut out = Vec::new();
        write_response(&mut out, 299, &[], b"", true);
        assert!(out.starts_with(b"HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn numbers_are_formatted_exactly() {
        for value in [0u64, 9, 10, 255, 256, u64::MAX] {
            let mut decimal = Vec::new();
            write_decimal(&mut decimal, value);
            assert_eq!(text(&decimal), value.to_string());
            let mut hex = Vec::new();
            write_hex(&mut hex, value);
            assert_eq!(text(&hex), format!("{value:x}"));
        }
    }
}
