//! Self-checking drivers shared by the fuzz targets and the property tests (not for servers).
//!
//! A driver plays the part of a connection loop: it feeds a byte stream to the head parser and
//! body decoders in pieces, across pipelined requests, and records what it saw as an owned
//! [`Transcript`]. The central property is that the transcript does not depend on where the
//! stream was cut; the checks here panic when that, or an invariant of the parser's results,
//! is broken. They allocate freely: they are test code.

use crate::body::BodyDecoder;
use crate::chars;
use crate::chunked::ChunkedDecoder;
use crate::error::ErrorKind;
use crate::head::{parse_head, BodyKind, HeadParser, HeadStatus, Header, RequestHead, Version};
use crate::limits::Limits;

/// Header array size the drivers use; small so `TooManyHeaders` is reachable by fuzzing.
pub const HEADER_CAPACITY: usize = 16;

/// Small limits so fuzzing reaches every limit error.
pub const SMALL_LIMITS: Limits = Limits {
    max_header_bytes: 512,
    max_headers: 8,
    max_body_bytes: 1024,
    max_target_bytes: 128,
    max_chunk_line_bytes: 32,
};

/// One request as the driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub target: String,
    pub version: Version,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body_kind: BodyKind,
    pub keep_alive: bool,
    pub expect_continue: bool,
    /// Offset of the request's first byte in the stream, and its head length.
    pub start: usize,
    pub head_bytes: usize,
    pub body: Vec<u8>,
}

impl RequestRecord {
    fn new(head: &RequestHead<'_, '_>, start: usize, head_bytes: usize) -> RequestRecord {
        RequestRecord {
            method: head.method.as_str().to_owned(),
            target: head.target.to_owned(),
            version: head.version,
            headers: head
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            body_kind: head.body,
            keep_alive: head.keep_alive,
            expect_continue: head.expect_continue,
            start,
            head_bytes,
            body: Vec::new(),
        }
    }
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// A parse error at this offset of the whole stream.
    Error { kind: ErrorKind, offset: u64 },
    /// The stream ran out inside a head holding `pending_bytes` bytes (0: between requests).
    InHead { pending_bytes: usize },
    /// The stream ran out inside the body of `partial` (its body so far included).
    InBody { partial: Box<RequestRecord> },
}

/// Everything a connection loop saw in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    pub requests: Vec<RequestRecord>,
    pub end: End,
}

/// Which body-decoding interface the driver uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeMode {
    /// `decode_into` a `Vec`.
    Into,
    /// `decode`, collecting the yielded slices.
    Slices,
}

enum Phase {
    Head(HeadParser),
    Body {
        decoder: BodyDecoder,
        record: RequestRecord,
        body_start: usize,
    },
}

/// Feeds `stream` cut at `cuts` (offsets, any order, out-of-range ones ignored) to a
/// connection loop and records what it saw. Consumed bytes are drained from the front of the
/// receive buffer, so the parser also sees its input move between calls.
pub fn transcript(stream: &[u8], cuts: &[usize], limits: &Limits, mode: DecodeMode) -> Transcript {
    let mut bounds: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|cut| *cut <= stream.len())
        .collect();
    bounds.push(0);
    bounds.push(stream.len());
    bounds.sort_unstable();
    bounds.dedup();

    let mut requests = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    // Stream offset of `buf[0]`.
    let mut buf_start = 0;
    let mut phase = Phase::Head(HeadParser::new());
    for piece in bounds.windows(2) {
        buf.extend_from_slice(&stream[piece[0]..piece[1]]);
        loop {
            match &mut phase {
                Phase::Head(parser) => {
                    let mut headers = [Header::EMPTY; HEADER_CAPACITY];
                    let resumed = parser.parse(&buf, &mut headers, limits);
                    let mut fresh_headers = [Header::EMPTY; HEADER_CAPACITY];
                    let fresh = parse_head(&buf, &mut fresh_headers, limits);
                    assert_eq!(resumed, fresh, "resumed and fresh parses differ on {buf:?}");
                    match resumed {
                        Ok(HeadStatus::Complete { head, consumed }) => {
                            check_head(&head, consumed, &buf, limits);
                            let record = RequestRecord::new(&head, buf_start, consumed);
                            let decoder = BodyDecoder::new(head.body, limits);
                            buf.drain(..consumed);
                            buf_start += consumed;
                            phase = Phase::Body {
                                decoder,
                                record,
                                body_start: buf_start,
                            };
                        }
                        Ok(HeadStatus::Incomplete) => break,
                        Err(error) => {
                            assert!(
                                error.offset <= buf.len() as u64,
                                "head error past the input"
                            );
                            let offset = buf_start as u64 + error.offset;
                            return Transcript {
                                requests,
                                end: End::Error {
                                    kind: error.kind,
                                    offset,
                                },
                            };
                        }
                    }
                }
                Phase::Body {
                    decoder,
                    record,
                    body_start,
                } => {
                    let before = record.body.len();
                    let result = match mode {
                        DecodeMode::Into => decoder.decode_into(&buf, &mut record.body),
                        DecodeMode::Slices => decode_slices(decoder, &buf, &mut record.body),
                    };
                    let progress = match result {
                        Ok(progress) => progress,
                        Err(error) => {
                            let offset = *body_start as u64 + error.offset;
                            return Transcript {
                                requests,
                                end: End::Error {
                                    kind: error.kind,
                                    offset,
                                },
                            };
                        }
                    };
                    assert!(progress.consumed <= buf.len());
                    assert!(
                        progress.done || progress.consumed == buf.len(),
                        "a decoder held back input"
                    );
                    assert!(record.body.len() - before <= progress.consumed);
                    assert_eq!(progress.done, decoder.is_done());
                    buf.drain(..progress.consumed);
                    buf_start += progress.consumed;
                    if !progress.done {
                        break;
                    }
                    if let BodyKind::Length(length) = record.body_kind {
                        assert_eq!(record.body.len() as u64, length);
                    }
                    let done = std::mem::replace(&mut phase, Phase::Head(HeadParser::new()));
                    if let Phase::Body { record, .. } = done {
                        requests.push(record);
                    }
                }
            }
        }
    }
    let end = match phase {
        Phase::Head(_) => End::InHead {
            pending_bytes: buf.len(),
        },
        Phase::Body { record, .. } => End::InBody {
            partial: Box::new(record),
        },
    };
    Transcript { requests, end }
}

fn decode_slices(
    decoder: &mut BodyDecoder,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<crate::body::Progress, crate::error::Error> {
    let mut consumed = 0;
    loop {
        let decoded = decoder.decode(&input[consumed..])?;
        assert!(decoded.consumed <= input.len() - consumed);
        assert!(decoded.data.len() <= decoded.consumed);
        out.extend_from_slice(decoded.data);
        consumed += decoded.consumed;
        if decoded.done || decoded.consumed == 0 {
            return Ok(crate::body::Progress {
                consumed,
                done: decoded.done,
            });
        }
    }
}

/// What must hold of every head the parser accepts.
fn check_head(head: &RequestHead<'_, '_>, consumed: usize, buf: &[u8], limits: &Limits) {
    assert!(consumed <= buf.len() && consumed <= limits.max_header_bytes);
    assert!(buf[..consumed].ends_with(b"\n"));
    assert!(head.headers.len() <= limits.max_headers.min(HEADER_CAPACITY));
    assert!(!head.method.as_str().is_empty() && head.method.as_str().bytes().all(chars::tchar));
    assert!(!head.target.is_empty() && head.target.len() <= limits.max_target_bytes);
    assert!(head.target.bytes().all(chars::target));
    for header in head.headers {
        assert!(!header.name.is_empty() && header.name.bytes().all(chars::tchar));
        assert!(header.value.iter().all(|byte| chars::value(*byte)));
        assert_eq!(chars::trim_ows(header.value), header.value);
    }
    if let BodyKind::Length(length) = head.body {
        assert!(length <= limits.max_body_bytes);
    }
    if head.body == BodyKind::Chunked {
        assert_eq!(head.version, Version::Http11);
    }
    // Splitting the target and decoding its query never panics; errors are fine.
    let _ = (head.path(), head.query());
    for pair in head.query_pairs() {
        if pair.is_err() {
            break;
        }
    }
}

/// Runs the stream whole and cut at `cuts`, asserts both transcripts agree, returns it.
pub fn check_request_stream(stream: &[u8], cuts: &[usize], limits: &Limits) -> Transcript {
    let whole = transcript(stream, &[], limits, DecodeMode::Into);
    let split = transcript(stream, cuts, limits, DecodeMode::Slices);
    assert_eq!(
        whole, split,
        "cutting the stream at {cuts:?} changed what was parsed"
    );
    whole
}

/// The result of decoding a chunked body stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedOutcome {
    pub data: Vec<u8>,
    pub consumed: usize,
    pub done: bool,
    pub error: Option<(ErrorKind, u64)>,
}

/// Decodes `stream` as a chunked body fed in pieces cut at `cuts`.
pub fn decode_chunked(
    stream: &[u8],
    cuts: &[usize],
    limits: &Limits,
    mode: DecodeMode,
) -> ChunkedOutcome {
    let mut bounds: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|cut| *cut <= stream.len())
        .collect();
    bounds.push(0);
    bounds.push(stream.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut decoder = ChunkedDecoder::new(limits);
    let mut outcome = ChunkedOutcome {
        data: Vec::new(),
        consumed: 0,
        done: false,
        error: None,
    };
    for piece in bounds.windows(2) {
        let input = &stream[piece[0]..piece[1]];
        let result = match mode {
            DecodeMode::Into => decoder.decode_into(input, &mut outcome.data),
            DecodeMode::Slices => {
                let mut consumed = 0;
                loop {
                    match decoder.decode(&input[consumed..]) {
                        Ok(decoded) => {
                            outcome.data.extend_from_slice(decoded.data);
                            consumed += decoded.consumed;
                            if decoded.done || decoded.consumed == 0 {
                                break Ok(crate::body::Progress {
                                    consumed,
                                    done: decoded.done,
                                });
                            }
                        }
                        Err(error) => break Err(error),
                    }
                }
            }
        };
        match result {
            Ok(progress) => {
                assert!(progress.done || progress.consumed == input.len());
                outcome.consumed += progress.consumed;
                outcome.done = progress.done;
                if progress.done {
                    break;
                }
            }
            Err(error) => {
                assert!(error.offset <= stream.len() as u64);
                // Data before the error has been delivered; what was consumed is up to it.
                outcome.error = Some((error.kind, error.offset));
                outcome.consumed = error.offset as usize;
                break;
            }
        }
    }
    assert!(outcome.data.len() <= outcome.consumed);
    assert!(outcome.data.len() as u64 <= limits.max_body_bytes);
    outcome
}

/// Decodes `stream` whole and cut at `cuts`, asserts both agree, returns the outcome.
pub fn check_chunked(stream: &[u8], cuts: &[usize], limits: &Limits) -> ChunkedOutcome {
    let whole = decode_chunked(stream, &[], limits, DecodeMode::Into);
    let split = decode_chunked(stream, cuts, limits, DecodeMode::Slices);
    assert_eq!(
        whole, split,
        "cutting the chunked body at {cuts:?} changed the outcome"
    );
    whole
}

/// Cut points derived from the input itself, so a fuzz input is a plain byte stream and every
/// file of the corpus is a real request. Yields three sets: one cut, two cuts, many cuts.
pub fn derived_cuts(data: &[u8]) -> [Vec<usize>; 3] {
    // FNV-1a, then a xorshift stream: cheap, deterministic, spread over the input.
    let mut state = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % (bound as u64 + 1)) as usize
    };
    let len = data.len();
    let one = vec![next(len)];
    let two = vec![next(len), next(len)];
    let many = (0..len.min(64) / 2).map(|_| next(len)).collect();
    [one, two, many]
}

/// The `http_request` fuzz target: the input is a byte stream of pipelined requests.
pub fn fuzz_http_request(data: &[u8]) {
    for (cuts, limits) in
        derived_cuts(data)
            .iter()
            .zip([Limits::DEFAULT, SMALL_LIMITS, SMALL_LIMITS])
    {
        check_request_stream(data, cuts, &limits);
    }
}

/// The `chunked` fuzz target: the input is a chunked body stream.
pub fn fuzz_chunked(data: &[u8]) {
    for (cuts, limits) in
        derived_cuts(data)
            .iter()
            .zip([Limits::DEFAULT, SMALL_LIMITS, SMALL_LIMITS])
    {
        check_chunked(data, cuts, &limits);
    }
}
