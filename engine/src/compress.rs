//! Request-body decoding: `Content-Encoding` (gzip, zstd, lz4 frame, deflate) and ClickHouse's
//! `decompress=1` block framing (CityHash128 checksum, method byte, sizes, LZ4 or ZSTD payload).

use crate::router::Request;

/// Largest body after decompression; larger is refused (a compression bomb or a mistake).
pub const DECOMPRESSED_BYTES_MAX: usize = 1 << 30;

/// The request body with every declared encoding undone.
pub fn decode_body(r: &Request) -> Result<Vec<u8>, String> {
    let mut body = r.body.clone();
    if let Some(enc) = r.header("content-encoding") {
        for e in enc.split(',').map(|e| e.trim().to_ascii_lowercase()).rev() {
            body = match e.as_str() {
                "" | "identity" => body,
                "lz4" => lz4_frame(&body)?,
                other => named(other, &body, DECOMPRESSED_BYTES_MAX)?,
            };
        }
    }
    if r.param("decompress")
        .is_some_and(|v| v == "1" || v == "true")
    {
        body = clickhouse_blocks(&body)?;
    }
    Ok(body)
}

/// gzip or zstd through the ingest decoders, bounded by `max` output bytes.
fn named(name: &str, data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    use sql::ingest::compress::{decompress, Encoding};
    let enc = Encoding::parse(name)
        .ok_or_else(|| format!("unsupported Content-Encoding '{name}' (gzip, zstd, lz4 are)"))?;
    let mut out = Vec::new();
    let got = decompress(enc, data, max, &mut out).map_err(|e| e.to_string())?;
    Ok(got.to_vec())
}

fn lz4_frame(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    lz4_flex::frame::FrameDecoder::new(data)
        .take(DECOMPRESSED_BYTES_MAX as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot decode LZ4 frame body: {e}"))?;
    if out.len() > DECOMPRESSED_BYTES_MAX {
        return Err(format!(
            "decompressed body exceeds {DECOMPRESSED_BYTES_MAX} bytes"
        ));
    }
    Ok(out)
}

/// ClickHouse's compressed block stream, repeated until the body ends:
/// `[16-byte CityHash128 of the rest][method u8][compressed size u32 incl. 9-byte header]
/// [decompressed size u32][payload]`. Methods: 0x82 LZ4, 0x90 ZSTD, 0x02 none.
pub fn clickhouse_blocks(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    while !data.is_empty() {
        if data.len() < 25 {
            return Err(format!(
                "truncated compressed block header at byte {offset}"
            ));
        }
        let checksum = &data[..16];
        let method = data[16];
        let compressed = u32::from_le_bytes(data[17..21].try_into().expect("4")) as usize;
        let decompressed = u32::from_le_bytes(data[21..25].try_into().expect("4")) as usize;
        if compressed < 9 || data.len() < 16 + compressed {
            return Err(format!(
                "compressed block at byte {offset} claims {compressed} bytes, {} remain",
                data.len() - 16
            ));
        }
        let block = &data[16..16 + compressed];
        let hash = cityhash_rs::cityhash_102_128(block);
        // ClickHouse stores the two 64-bit halves little-endian; accept either half order so the
        // check does not depend on how a hash library packs its u128.
        let (lo, hi) = (
            (hash as u64).to_le_bytes(),
            ((hash >> 64) as u64).to_le_bytes(),
        );
        let matches = (checksum[..8] == lo && checksum[8..] == hi)
            || (checksum[..8] == hi && checksum[8..] == lo);
        if !matches {
            return Err(format!(
                "checksum mismatch in compressed block at byte {offset}"
            ));
        }
        if out.len() + decompressed > DECOMPRESSED_BYTES_MAX {
            return Err(format!(
                "decompressed body exceeds {DECOMPRESSED_BYTES_MAX} bytes"
            ));
        }
        let payload = &block[9..];
        match method {
            0x82 => {
                let start = out.len();
                out.resize(start + decompressed, 0);
                let n = lz4_flex::block::decompress_into(payload, &mut out[start..])
                    .map_err(|e| format!("bad LZ4 block at byte {offset}: {e}"))?;
                if n != decompressed {
                    return Err(format!("LZ4 block at byte {offset} decoded to {n} bytes, header says {decompressed}"));
                }
            }
            0x02 => out.extend_from_slice(payload),
            0x90 => {
                let d = named("zstd", payload, decompressed)?;
                out.extend_from_slice(&d);
            }
            m => {
                return Err(format!(
                    "unknown compression method 0x{m:02x} at byte {offset}"
                ))
            }
        }
        data = &data[16 + compressed..];
        offset += 16 + compressed;
    }
    Ok(out)
}
