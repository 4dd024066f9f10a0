//! The fuzz seed corpus doubles as a test of what real ClickHouse clients send.

use std::fs;
use std::path::PathBuf;

use net::harness::{self, End};
use net::{query_pairs, split_target, BodyKind, Limits};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_request_seed_runs_through_the_fuzz_check() {
    let seeds = corpus("http_request");
    assert!(seeds.len() >= 5);
    for (_, data) in &seeds {
        harness::fuzz_http_request(data);
    }
}

#[test]
fn the_hand_written_request_seeds_are_valid_requests() {
    for (name, data) in corpus("http_request")
        .iter()
        .filter(|(name, _)| name.contains('_'))
    {
        let transcript =
            harness::transcript(data, &[], &Limits::default(), harness::DecodeMode::Into);
        assert_eq!(transcript.end, End::InHead { pending_bytes: 0 }, "{name}");
        assert!(!transcript.requests.is_empty(), "{name}");
    }
}

#[test]
fn clickhouse_connect_insert_seed_decodes_query_and_chunked_body() {
    let seeds = corpus("http_request");
    let (_, data) = seeds
        .iter()
        .find(|(name, _)| name == "clickhouse_connect_insert")
        .unwrap();
    let transcript = harness::check_request_stream(data, &[100, 101, 400], &Limits::default());
    let [request] = &transcript.requests[..] else {
        panic!("one request")
    };
    assert_eq!(request.body_kind, BodyKind::Chunked);
    let (path, query) = split_target(&request.target);
    assert_eq!(path, "/");
    let query_text = query_pairs(query.unwrap())
        .map(Result::unwrap)
        .find(|(key, _)| key == "query")
        .map(|(_, value)| value.into_owned());
    assert_eq!(
        query_text.as_deref(),
        Some("INSERT INTO `trades` (`symbol`) FORMAT Native")
    );
    assert!(
        request.body.starts_with(&[0x04, 0x22, 0x4d, 0x18]),
        "LZ4 frame magic"
    );
    assert!(request.keep_alive);
}

#[test]
fn pipelined_seed_yields_three_requests_with_their_connection_semantics() {
    let seeds = corpus("http_request");
    let (_, data) = seeds
        .iter()
        .find(|(name, _)| name == "pipelined_gets")
        .unwrap();
    let transcript = harness::check_request_stream(data, &[1, 45, 46, 150], &Limits::default());
    let targets: Vec<_> = transcript
        .requests
        .iter()
        .map(|request| request.target.as_str())
        .collect();
    assert_eq!(
        targets,
        [
            "/ping",
            "/?query=SELECT%201&default_format=JSONCompact",
            "/replicas_status"
        ]
    );
    let keep_alive: Vec<_> = transcript
        .requests
        .iter()
        .map(|request| request.keep_alive)
        .collect();
    assert_eq!(keep_alive, [true, true, true]);
}

#[test]
fn expect_continue_seed_asks_for_100_continue() {
    let seeds = corpus("http_request");
    let (_, data) = seeds
        .iter()
        .find(|(name, _)| name == "line_protocol_expect")
        .unwrap();
    let transcript = harness::check_request_stream(data, &[], &Limits::default());
    assert!(transcript.requests[0].expect_continue);
    assert!(matches!(
        transcript.requests[0].body_kind,
        BodyKind::Length(_)
    ));
}

#[test]
fn every_chunked_seed_runs_through_the_fuzz_check() {
    let seeds = corpus("chunked");
    assert!(seeds.len() >= 3);
    for (name, data) in &seeds {
        harness::fuzz_chunked(data);
        if name.contains('_') {
            let outcome = harness::check_chunked(data, &[3], &Limits::default());
            assert!(outcome.done && outcome.error.is_none(), "{name}");
        }
    }
}
