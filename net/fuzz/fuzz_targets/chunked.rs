//! Fuzz target: a chunked body stream, decoded whole and cut at derived points.
#![no_main]

use libfuzzer_sys::fuzz_target;

// See `net::harness::fuzz_chunked`: it panics when cutting the input changes the outcome.
fuzz_target!(|data: &[u8]| {
    net::harness::fuzz_chunked(data);
});
