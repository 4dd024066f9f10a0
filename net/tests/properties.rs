//! Property tests: random valid requests parse as built and identically however they are split.

use std::borrow::Cow;

use net::harness::{self, DecodeMode, End, RequestRecord, Transcript, SMALL_LIMITS};
use net::{percent_decode, query_pairs, BodyKind, Limits, Version};
use proptest::prelude::*;

/// A request body as generated: how it is framed and, for chunked bodies, how it is cut.
#[derive(Debug, Clone)]
enum Body {
    None,
    Length(Vec<u8>),
    Chunked {
        chunks: Vec<Vec<u8>>,
        extensions: bool,
        trailers: Vec<(String, String)>,
    },
}

/// A generated request: the bytes to send and what the parser must report for them.
#[derive(Debug, Clone)]
struct Generated {
    bytes: Vec<u8>,
    record: RequestRecord,
}

const TOKEN_CHARS: &[u8] =
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const RESERVED_NAMES: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "expect",
];

fn token(max_len: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(TOKEN_CHARS), 1..=max_len)
        .prop_map(|bytes| String::from_utf8(bytes).unwrap())
}

fn header_name() -> impl Strategy<Value = String> {
    token(20).prop_filter("framing headers are generated on purpose", |name| {
        !RESERVED_NAMES
            .iter()
            .any(|reserved| name.eq_ignore_ascii_case(reserved))
    })
}

/// A field value without surrounding whitespace: visible ASCII, inner spaces and tabs, obs-text.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let byte =
        prop_oneof![8 => 0x21u8..=0x7e, 1 => Just(b' '), 1 => Just(b'\t'), 1 => 0x80u8..=0xff];
    proptest::collection::vec(byte, 0..40).prop_map(|mut value| {
        while value.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            value.remove(0);
        }
        while value.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
            value.pop();
        }
        value
    })
}

fn target() -> impl Strategy<Value = String> {
    proptest::collection::vec(0x21u8..=0x7e, 0..60).prop_map(|bytes| {
        let mut target = String::from("/");
        target.push_str(std::str::from_utf8(&bytes).unwrap());
        target
    })
}

fn body(version_11: bool) -> BoxedStrategy<Body> {
    let data = proptest::collection::vec(any::<u8>(), 0..200);
    let length = data.clone().prop_map(Body::Length);
    if !version_11 {
        return prop_oneof![Just(Body::None), length].boxed();
    }
    let trailer = (
        header_name(),
        "[ -~]{0,20}".prop_map(|value| value.trim().to_owned()),
    );
    let chunked = (
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..70), 0..5),
        any::<bool>(),
        proptest::collection::vec(trailer, 0..3),
    )
        .prop_map(|(chunks, extensions, trailers)| Body::Chunked {
            chunks,
            extensions,
            trailers,
        });
    prop_oneof![Just(Body::None), length, chunked].boxed()
}

fn encode_chunked(chunks: &[Vec<u8>], extensions: bool, trailers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        // Vary the hex spelling: upper case and leading zeros are both valid.
        if index % 2 == 0 {
            out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        } else {
            out.extend_from_slice(format!("0{:X}", chunk.len()).as_bytes());
        }
        if extensions {
            out.extend_from_slice(b" ;name=value; q=\"a b\"");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(if extensions { b"0;end\r\n" } else { b"0\r\n" });
    for (name, value) in trailers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

prop_compose! {
    fn request()(version_11 in any::<bool>())(
        version_11 in Just(version_11),
        method in prop_oneof![
            Just("GET".to_owned()), Just("POST".to_owned()), Just("PUT".to_owned()), token(10)
        ],
        target in target(),
        headers in proptest::collection::vec((header_name(), header_value(), 0usize..3, 0usize..3), 0..10),
        host in proptest::option::of("[a-z0-9.:]{1,20}"),
        connection in proptest::option::of(prop_oneof![Just("close"), Just("keep-alive"), Just("Keep-Alive, Upgrade")]),
        expect in any::<bool>(),
        bare_lf in proptest::bits::u8::between(0, 4),
        leading_empty_line in any::<bool>(),
        body in body(version_11),
    ) -> Generated {
        let version = if version_11 { Version::Http11 } else { Version::Http10 };
        // `bare_lf` picks which line ends use LF alone: request line, headers, final line.
        let end = |line: u8| if bare_lf & (1 << line) != 0 { "\n" } else { "\r\n" };
        let mut head = Vec::new();
        if leading_empty_line {
            head.extend_from_slice(b"\r\n");
        }
        let version_text = if version_11 { "HTTP/1.1" } else { "HTTP/1.0" };
        head.extend_from_slice(format!("{method} {target} {version_text}{}", end(0)).as_bytes());
        let mut expected_headers: Vec<(String, Vec<u8>)> = Vec::new();
        let mut add = |head: &mut Vec<u8>, name: &str, value: &[u8], before: usize, after: usize| {
            head.extend_from_slice(name.as_bytes());
            head.push(b':');
            head.extend_from_slice(&b" \t "[..before]);
            head.extend_from_slice(value);
            head.extend_from_slice(&b"\t  "[..after]);
            head.extend_from_slice(end(1).as_bytes());
            expected_headers.push((name.to_owned(), value.to_vec()));
        };
        if let Some(host) = &host {
            add(&mut head, "Host", host.as_bytes(), 1, 0);
        }
        for (name, value, before, after) in &headers {
            add(&mut head, name, value, *before, *after);
        }
        if let Some(connection) = connection {
            add(&mut head, "Connection", connection.as_bytes(), 1, 0);
        }
        if expect {
            add(&mut head, "Expect", b"100-continue", 1, 0);
        }
        let (body_kind, body_bytes, data) = match &body {
            Body::None => (BodyKind::None, Vec::new(), Vec::new()),
            Body::Length(data) => {
                add(&mut head, "Content-Length", data.len().to_string().as_bytes(), 1, 0);
                (BodyKind::Length(data.len() as u64), data.clone(), data.clone())
            }
            Body::Chunked { chunks, extensions, trailers } => {
                add(&mut head, "Transfer-Encoding", b"chunked", 1, 0);
                (BodyKind::Chunked, encode_chunked(chunks, *extensions, trailers), chunks.concat())
            }
        };
        head.extend_from_slice(end(2).as_bytes());
        let keep_alive = match connection {
            Some("close") => false,
            Some(_) => true,
            None => version_11,
        };
        let record = RequestRecord {
            method,
            target,
            version,
            headers: expected_headers,
            body_kind,
            keep_alive,
            expect_continue: expect && version_11,
            start: 0,
            head_bytes: head.len(),
            body: data,
        };
        let mut bytes = head;
        bytes.extend_from_slice(&body_bytes);
        Generated { bytes, record }
    }
}

/// Concatenates requests into one pipelined stream and the transcript it must produce.
fn pipeline(requests: &[Generated]) -> (Vec<u8>, Transcript) {
    let mut stream = Vec::new();
    let mut records = Vec::new();
    for request in requests {
        let mut record = request.record.clone();
        record.start = stream.len();
        records.push(record);
        stream.extend_from_slice(&request.bytes);
    }
    (
        stream,
        Transcript {
            requests: records,
            end: End::InHead { pending_bytes: 0 },
        },
    )
}

fn percent_encode(text: &str, upper: bool, space_as_plus: bool) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' if space_as_plus => out.push('+'),
            _ if upper => out.push_str(&format!("%{byte:02X}")),
            _ => out.push_str(&format!("%{byte:02x}")),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn valid_requests_parse_as_built(requests in proptest::collection::vec(request(), 1..4)) {
        let (stream, expected) = pipeline(&requests);
        let whole = harness::transcript(&stream, &[], &Limits::default(), DecodeMode::Into);
        prop_assert_eq!(whole, expected);
    }

    #[test]
    fn every_single_split_point_gives_the_same_transcript(requests in proptest::collection::vec(request(), 1..3)) {
        let (stream, expected) = pipeline(&requests);
        for cut in 0..=stream.len() {
            let split = harness::transcript(&stream, &[cut], &Limits::default(), DecodeMode::Slices);
            prop_assert_eq!(&split, &expected, "cut at {}", cut);
        }
    }

    #[test]
    fn random_multi_splits_give_the_same_transcript(
        requests in proptest::collection::vec(request(), 1..4),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let (stream, expected) = pipeline(&requests);
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
        let split = harness::check_request_stream(&stream, &cuts, &Limits::default());
        prop_assert_eq!(split, expected);
    }

    #[test]
    fn byte_at_a_time_feeding_gives_the_same_transcript(request in request()) {
        let (stream, expected) = pipeline(&[request]);
        let cuts: Vec<usize> = (0..=stream.len()).collect();
        let split = harness::transcript(&stream, &cuts, &Limits::default(), DecodeMode::Slices);
        prop_assert_eq!(split, expected);
    }

    #[test]
    fn chunked_bodies_decode_at_every_split_point(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..50), 0..6),
        extensions in any::<bool>(),
        trailers in proptest::collection::vec((token(10), "[ -~]{0,10}".prop_map(|v| v.trim().to_owned())), 0..3),
        next_request in proptest::collection::vec(any::<u8>(), 0..10),
    ) {
        let mut stream = encode_chunked(&chunks, extensions, &trailers);
        let body_len = stream.len();
        stream.extend_from_slice(&next_request);
        let expected = chunks.concat();
        for cut in 0..=stream.len() {
            let outcome = harness::check_chunked(&stream, &[cut], &Limits::default());
            prop_assert_eq!(&outcome.data, &expected);
            prop_assert!(outcome.done && outcome.error.is_none());
            prop_assert_eq!(outcome.consumed, body_len);
        }
        let every: Vec<usize> = (0..=stream.len()).collect();
        let outcome = harness::decode_chunked(&stream, &every, &Limits::default(), DecodeMode::Slices);
        prop_assert_eq!(outcome.data, expected);
    }

    #[test]
    fn percent_decoding_round_trips(text in "\\PC{0,40}", upper in any::<bool>(), plus in any::<bool>()) {
        let encoded = percent_encode(&text, upper, plus);
        let decoded = percent_decode(&encoded, true).unwrap();
        prop_assert_eq!(&*decoded, text.as_str());
        prop_assert_eq!(matches!(decoded, Cow::Borrowed(_)), encoded == text);
    }

    #[test]
    fn query_pairs_round_trip(pairs in proptest::collection::vec(("\\PC{1,10}", "\\PC{0,10}"), 0..6)) {
        let query = pairs
            .iter()
            .map(|(key, value)| format!("{}={}", percent_encode(key, true, true), percent_encode(value, false, false)))
            .collect::<Vec<_>>()
            .join("&");
        let decoded: Vec<(String, String)> = query_pairs(&query)
            .map(|pair| pair.map(|(key, value)| (key.into_owned(), value.into_owned())))
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(decoded, pairs);
    }

    #[test]
    fn percent_decoding_never_panics(text in "[%+a-zA-Z0-9\\PC]{0,30}") {
        let _ = percent_decode(&text, true);
        for pair in query_pairs(&text) {
            let _ = pair;
        }
    }

    #[test]
    fn garbage_never_panics_and_splits_agree(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        harness::fuzz_http_request(&data);
        harness::fuzz_chunked(&data);
    }

    #[test]
    fn near_http_garbage_never_panics_and_splits_agree(
        parts in proptest::collection::vec(prop_oneof![
            Just(&b"GET "[..]), Just(&b"POST / HTTP/1.1"[..]), Just(&b" HTTP/1.0"[..]), Just(&b"\r\n"[..]),
            Just(&b"\n"[..]), Just(&b"\r"[..]), Just(&b": "[..]), Just(&b"Content-Length: 5"[..]),
            Just(&b"Transfer-Encoding: chunked"[..]), Just(&b"Host: a"[..]), Just(&b"5\r\nhello\r\n"[..]),
            Just(&b"0\r\n\r\n"[..]), Just(&b";ext=1"[..]), Just(&b" "[..]), Just(&b"\t"[..]), Just(&b"%zz"[..]),
            Just(&b"/?a=b"[..]), Just(&b"x"[..]), Just(&b"\x00"[..]), Just(&b"\xff"[..]),
        ], 0..40),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        small in any::<bool>(),
    ) {
        let stream = parts.concat();
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
        let limits = if small { SMALL_LIMITS } else { Limits::default() };
        harness::check_request_stream(&stream, &cuts, &limits);
        harness::check_chunked(&stream, &cuts, &limits);
    }

    #[test]
    fn mutated_requests_never_panic_and_splits_agree(
        requests in proptest::collection::vec(request(), 1..3),
        mutations in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        small in any::<bool>(),
    ) {
        let (mut stream, _) = pipeline(&requests);
        for (at, byte, action) in mutations {
            let index = at.index(stream.len() + 1);
            match action {
                0 if index < stream.len() => stream[index] = byte,
                1 => stream.insert(index, byte),
                _ if index < stream.len() => { stream.remove(index); }
                _ => {}
            }
        }
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
        let limits = if small { SMALL_LIMITS } else { Limits::default() };
        harness::check_request_stream(&stream, &cuts, &limits);
    }
}
