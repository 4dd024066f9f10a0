//! Fuzz target: a byte stream of pipelined requests, parsed whole and cut at derived points.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The checks live in `net::harness` so the property tests run them too; they panic when
// cutting the stream changes what was parsed or when a parse result breaks an invariant.
fuzz_target!(|data: &[u8]| {
    net::harness::fuzz_http_request(data);
});
