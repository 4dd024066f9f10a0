//! Times head parsing, body decoding and response writing on a typical ClickHouse request.
//!
//! `cargo run -p net --release --example head_bench`. Not a test: it prints, it asserts nothing
//! about time. The reproducible latency benchmarks live in the `bench` crate.

use std::hint::black_box;
use std::time::Instant;

use net::{parse_head, write_response, BodyDecoder, HeadParser, HeadStatus, Header, Limits};

const HEAD: &[u8] = b"POST /?query_id=5c1b9d2e-7d0f-4a57-9c1e-2f5d7a1b0c3e&database=default&wait_end_of_query=1 HTTP/1.1\r\n\
Host: localhost:8123\r\n\
Accept-Encoding: lz4;q=1.0, zstd, br, gzip\r\n\
User-Agent: clickhouse-connect/0.8.18 (lv:py/3.11.2; mode:sync; os:linux)\r\n\
Authorization: Basic ZGVmYXVsdDo=\r\n\
Content-Type: text/plain\r\n\
X-ClickHouse-Format: Native\r\n\
Connection: keep-alive\r\n\
Content-Length: 8\r\n\r\n";

fn time(label: &str, iterations: u32, mut work: impl FnMut()) {
    for _ in 0..iterations / 10 {
        work();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        work();
    }
    let per_iteration_ns = start.elapsed().as_nanos() as f64 / f64::from(iterations);
    println!("{label:<40} {per_iteration_ns:>8.1} ns");
}

fn main() {
    let limits = Limits::default();
    let iterations = 1_000_000;
    println!("head of {} bytes", HEAD.len());
    time("parse_head", iterations, || {
        let mut headers = [Header::EMPTY; 32];
        let status = parse_head(black_box(HEAD), &mut headers, &limits);
        assert!(matches!(black_box(status), Ok(HeadStatus::Complete { .. })));
    });
    time("HeadParser::parse (one call)", iterations, || {
        let mut parser = HeadParser::new();
        let mut headers = [Header::EMPTY; 32];
        let status = parser.parse(black_box(HEAD), &mut headers, &limits);
        assert!(matches!(black_box(status), Ok(HeadStatus::Complete { .. })));
    });
    time("HeadParser::parse (two halves)", iterations, || {
        let mut parser = HeadParser::new();
        let mut headers = [Header::EMPTY; 32];
        let half = parser.parse(black_box(&HEAD[..HEAD.len() / 2]), &mut headers, &limits);
        assert!(matches!(half, Ok(HeadStatus::Incomplete)));
        let mut headers = [Header::EMPTY; 32];
        let status = parser.parse(black_box(HEAD), &mut headers, &limits);
        assert!(matches!(black_box(status), Ok(HeadStatus::Complete { .. })));
    });
    let body: Vec<u8> = (0..64 * 1024).map(|index| (index % 251) as u8).collect();
    let mut chunked = Vec::new();
    for chunk in body.chunks(8192) {
        net::write_chunk(&mut chunked, chunk);
    }
    net::finish_chunked(&mut chunked);
    let mut out = Vec::with_capacity(body.len());
    time(
        "chunked decode_into, 64 KiB in 8 KiB chunks",
        20_000,
        || {
            out.clear();
            let mut decoder = BodyDecoder::new(net::BodyKind::Chunked, &limits);
            let progress = decoder.decode_into(black_box(&chunked), &mut out).unwrap();
            assert!(black_box(progress).done);
        },
    );
    let mut response = Vec::with_capacity(256);
    time(
        "write_response, 2 headers + 4-byte body",
        iterations,
        || {
            response.clear();
            write_response(
                &mut response,
                200,
                &[
                    ("X-ClickHouse-Format", "TabSeparated"),
                    ("X-ClickHouse-Query-Id", "q"),
                ],
                b"Ok.\n",
                true,
            );
            black_box(&response);
        },
    );
}
