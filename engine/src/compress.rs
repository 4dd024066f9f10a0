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

/// Encodings a response can be sent in (`enable_http_compression=1` plus `Accept-Encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseEncoding {
    Gzip,
    Zstd,
    /// LZ4 frame format, as ClickHouse and its clients mean by `lz4`.
    Lz4,
}

impl ResponseEncoding {
    pub fn name(self) -> &'static str {
        match self {
            ResponseEncoding::Gzip => "gzip",
            ResponseEncoding::Zstd => "zstd",
            ResponseEncoding::Lz4 => "lz4",
        }
    }

    /// Compresses all of `data` (a whole response body).
    pub fn encode(self, data: &[u8]) -> Vec<u8> {
        let mut e = StreamEncoder::new(self);
        let mut out = e.push(data);
        out.extend(e.finish());
        out
    }
}

/// Compresses a body that arrives in chunks: each pushed chunk comes out as whatever the
/// encoder can emit so far (gzip: a sync flush; LZ4: whole blocks), so a client decodes the
/// result as one stream while the server never holds more than a chunk. zstd chunks are
/// independent frames, which zstd decoders read as one stream.
pub enum StreamEncoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zstd,
    Lz4(Box<lz4_flex::frame::FrameEncoder<Vec<u8>>>),
}

impl StreamEncoder {
    pub fn new(encoding: ResponseEncoding) -> StreamEncoder {
        match encoding {
            ResponseEncoding::Gzip => StreamEncoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            )),
            ResponseEncoding::Zstd => StreamEncoder::Zstd,
            ResponseEncoding::Lz4 => {
                StreamEncoder::Lz4(Box::new(lz4_flex::frame::FrameEncoder::new(Vec::new())))
            }
        }
    }

    /// Compresses `data`; returns the bytes ready to send.
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        match self {
            StreamEncoder::Gzip(e) => {
                e.write_all(data).expect("writing to a Vec");
                e.flush().expect("writing to a Vec");
                std::mem::take(e.get_mut())
            }
            StreamEncoder::Zstd if data.is_empty() => Vec::new(),
            StreamEncoder::Zstd => {
                ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
            }
            StreamEncoder::Lz4(e) => {
                e.write_all(data).expect("writing to a Vec");
                e.flush().expect("writing to a Vec");
                std::mem::take(e.get_mut())
            }
        }
    }

    /// The trailer that ends the stream.
    pub fn finish(self) -> Vec<u8> {
        match self {
            StreamEncoder::Gzip(e) => e.finish().expect("writing to a Vec"),
            StreamEncoder::Zstd => Vec::new(),
            StreamEncoder::Lz4(e) => e.finish().expect("writing to a Vec"),
        }
    }
}

/// The encoding to answer `r` in: `None` unless the request enables HTTP compression
/// (`enable_http_compression=1`, as a URL setting) and its `Accept-Encoding` names one Ronto
/// produces. The client's order decides; `q=0` excludes; `*` means gzip.
pub fn response_encoding(r: &Request) -> Option<ResponseEncoding> {
    let enabled = r
        .param("enable_http_compression")
        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if !enabled {
        return None;
    }
    let accept = r.header("accept-encoding")?;
    accept.split(',').find_map(|item| {
        let mut parts = item.split(';');
        let name = parts.next()?.trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            return None;
        }
        match name.as_str() {
            "gzip" | "x-gzip" | "*" => Some(ResponseEncoding::Gzip),
            "zstd" => Some(ResponseEncoding::Zstd),
            "lz4" => Some(ResponseEncoding::Lz4),
            _ => None,
        }
    })
}

/// `response` with its body compressed in `encoding` and `Content-Encoding` set.
pub fn compress_response(
    mut response: crate::router::Response,
    encoding: ResponseEncoding,
) -> crate::router::Response {
    use crate::body::Body;
    response.body = match response.body {
        Body::Full(bytes) => Body::Full(encoding.encode(&bytes)),
        Body::Stream(stream) => {
            // The encoder is shared by the per-chunk closure and the trailer closure.
            let encoder =
                std::rc::Rc::new(std::cell::RefCell::new(Some(StreamEncoder::new(encoding))));
            let at_end = std::rc::Rc::clone(&encoder);
            Body::Stream(stream.map(
                move |chunk| {
                    encoder
                        .borrow_mut()
                        .as_mut()
                        .map_or_else(Vec::new, |e| e.push(&chunk))
                },
                move || {
                    at_end
                        .borrow_mut()
                        .take()
                        .map_or_else(Vec::new, StreamEncoder::finish)
                },
            ))
        }
    };
    response.with_header("Content-Encoding", encoding.name())
}

#[cfg(test)]
mod response_tests {
    use super::*;

    #[test]
    fn every_encoding_round_trips_whole_and_streamed() {
        let a = b"timestamp\tsymbol\n".repeat(100);
        let b = b"1\tAAPL\n".repeat(1000);
        let want = [a.clone(), b.clone()].concat();
        for enc in [
            ResponseEncoding::Gzip,
            ResponseEncoding::Zstd,
            ResponseEncoding::Lz4,
        ] {
            let decode = |body: &[u8]| match enc {
                ResponseEncoding::Lz4 => lz4_frame(body).unwrap(),
                other => named(other.name(), body, DECOMPRESSED_BYTES_MAX).unwrap(),
            };
            let whole = enc.encode(&want);
            assert!(decode(&whole) == want, "{enc:?} whole");
            let mut streamed = StreamEncoder::new(enc);
            let mut body = streamed.push(&a);
            body.extend(streamed.push(&b));
            body.extend(streamed.push(b""));
            body.extend(streamed.finish());
            let got = decode(&body);
            assert!(
                got == want,
                "{enc:?} streamed: {} bytes, want {}",
                got.len(),
                want.len()
            );
        }
    }
}
