//! Fuzzes the MessagePack decoder: no input may panic it, and every batch it returns must hold
//! its invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sql::ingest::msgpack::{self, MsgpackOptions};
use sql::ingest::{compress, Encoding};

fuzz_target!(|data: &[u8]| {
    let opts = MsgpackOptions::new(1_700_000_000_000_000_000);
    if let Ok(decoded) = msgpack::decode(data, &opts) {
        assert!(decoded.rejected >= decoded.errors.len());
        for table in &decoded.tables {
            table.check_invariants();
        }
    }
    // The same bytes as a compressed body must not panic the decompressors either.
    let mut out = Vec::new();
    let _ = compress::decompress(Encoding::Gzip, data, 1 << 20, &mut out);
    let _ = compress::decompress(Encoding::Zstd, data, 1 << 20, &mut out);
});
