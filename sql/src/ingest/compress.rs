//! Bounded decompression of request bodies (`Content-Encoding: gzip | zstd`), in pure Rust.
//!
//! A small compressed body can expand enormously (a zip bomb), so output stops one byte past
//! the caller's limit and the answer is [`DecompressError::TooLarge`]: the buffer never holds
//! more than the limit plus one byte of data (its capacity at most twice that).

use std::io::Read;

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::StreamingDecoder;

/// A `Content-Encoding` Ronto accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    /// The encoding a `Content-Encoding` header names (ASCII case-insensitive, surrounding
    /// blanks ignored; `x-gzip` is gzip; an empty value is identity). `None` for anything
    /// else, which a server answers with 415.
    pub fn parse(header: &str) -> Option<Encoding> {
        let h = header.trim();
        if h.is_empty() || h.eq_ignore_ascii_case("identity") {
            Some(Encoding::Identity)
        } else if h.eq_ignore_ascii_case("gzip") || h.eq_ignore_ascii_case("x-gzip") {
            Some(Encoding::Gzip)
        } else if h.eq_ignore_ascii_case("zstd") {
            Some(Encoding::Zstd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }
}

/// Why a body could not be decompressed. Both are the request's fault (413 and 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    #[error("the decompressed body is over the limit of {max} bytes")]
    TooLarge { max: usize },
    #[error("invalid {encoding} data: {message}")]
    Corrupt {
        encoding: &'static str,
        message: String,
    },
}

impl DecompressError {
    /// The HTTP status a server answers with: 413 over the limit, 400 for bad data.
    pub fn http_status(&self) -> u16 {
        match self {
            DecompressError::TooLarge { .. } => 413,
            DecompressError::Corrupt { .. } => 400,
        }
    }
}

fn corrupt(encoding: Encoding, e: impl std::fmt::Display) -> DecompressError {
    DecompressError::Corrupt {
        encoding: encoding.name(),
        message: e.to_string(),
    }
}

/// The body as `encoding` says to read it, at most `max_bytes` long: `body` itself for
/// identity or an empty body, else `out` (cleared first, so a caller can reuse one buffer
/// across requests).
pub fn decompress<'a>(
    encoding: Encoding,
    body: &'a [u8],
    max_bytes: usize,
    out: &'a mut Vec<u8>,
) -> Result<&'a [u8], DecompressError> {
    out.clear();
    let limit = max_bytes as u64 + 1;
    match encoding {
        // An empty body is empty whatever its encoding claims.
        _ if body.is_empty() => return Ok(body),
        Encoding::Identity => {
            if body.len() > max_bytes {
                return Err(DecompressError::TooLarge { max: max_bytes });
            }
            return Ok(body);
        }
        Encoding::Gzip => {
            // Multi-member: `cat a.gz b.gz` is one valid gzip stream.
            flate2::read::MultiGzDecoder::new(body)
                .take(limit)
                .read_to_end(out)
                .map_err(|e| corrupt(encoding, e))?;
        }
        Encoding::Zstd => {
            // A stream may hold several frames, and skippable frames between them.
            let mut input = body;
            while !input.is_empty() && out.len() <= max_bytes {
                match StreamingDecoder::new(&mut input) {
                    Ok(mut frame) => {
                        let left = limit - out.len() as u64;
                        (&mut frame)
                            .take(left)
                            .read_to_end(out)
                            .map_err(|e| corrupt(encoding, e))?;
                    }
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let n = length as usize;
                        if n > input.len() {
                            return Err(corrupt(encoding, "skippable frame past the end"));
                        }
                        input = &input[n..];
                    }
                    Err(e) => return Err(corrupt(encoding, e)),
                }
            }
        }
    }
    if out.len() > max_bytes {
        return Err(DecompressError::TooLarge { max: max_bytes });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    #[test]
    fn header_names() {
        assert_eq!(Encoding::parse(" GZip "), Some(Encoding::Gzip));
        assert_eq!(Encoding::parse("x-gzip"), Some(Encoding::Gzip));
        assert_eq!(Encoding::parse("zstd"), Some(Encoding::Zstd));
        assert_eq!(Encoding::parse(""), Some(Encoding::Identity));
        assert_eq!(Encoding::parse("identity"), Some(Encoding::Identity));
        assert_eq!(Encoding::parse("br"), None);
        assert_eq!(Encoding::parse("gzip, zstd"), None);
    }

    #[test]
    fn round_trips_and_multiple_members() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut out = Vec::new();
        for (enc, packed) in [(Encoding::Gzip, gzip(&data)), (Encoding::Zstd, zstd(&data))] {
            assert_eq!(
                decompress(enc, &packed, data.len(), &mut out).unwrap(),
                &data[..]
            );
            let mut twice = packed.clone();
            twice.extend_from_slice(&packed);
            let both = decompress(enc, &twice, 2 * data.len(), &mut out).unwrap();
            assert_eq!(both.len(), 2 * data.len(), "{enc:?}");
        }
        assert_eq!(
            decompress(Encoding::Identity, b"abc", 3, &mut out).unwrap(),
            b"abc"
        );
        assert_eq!(decompress(Encoding::Gzip, b"", 3, &mut out).unwrap(), b"");
    }

    #[test]
    fn skippable_zstd_frames_are_skipped() {
        let mut body = vec![0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9];
        body.extend_from_slice(&zstd(b"hello"));
        let mut out = Vec::new();
        assert_eq!(
            decompress(Encoding::Zstd, &body, 5, &mut out).unwrap(),
            b"hello"
        );
        let truncated = &body[..6];
        assert!(matches!(
            decompress(Encoding::Zstd, truncated, 5, &mut out),
            Err(DecompressError::Corrupt { .. })
        ));
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 50 << 20];
        for (enc, packed) in [
            (Encoding::Gzip, gzip(&zeros)),
            (Encoding::Zstd, zstd(&zeros)),
        ] {
            let mut out = Vec::new();
            assert!(packed.len() < 1 << 20, "{enc:?} packs zeros well");
            let err = decompress(enc, &packed, 1 << 20, &mut out).unwrap_err();
            assert_eq!(err, DecompressError::TooLarge { max: 1 << 20 });
            assert_eq!(err.http_status(), 413);
            assert!(
                out.capacity() <= (2 << 20) + 2,
                "{enc:?}: {}",
                out.capacity()
            );
            assert_eq!(
                decompress(enc, &packed, 50 << 20, &mut out).map(|o| o.len()),
                Ok(50 << 20)
            );
        }
        let mut out = Vec::new();
        assert_eq!(
            decompress(Encoding::Identity, b"abcd", 3, &mut out),
            Err(DecompressError::TooLarge { max: 3 })
        );
    }

    #[test]
    fn garbage_is_corrupt_never_a_panic() {
        let mut out = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..300 {
            let mut data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for enc in [Encoding::Gzip, Encoding::Zstd] {
                let _ = decompress(enc, &data, 1 << 16, &mut out);
                // Also with a valid header in front.
                let mut framed = if enc == Encoding::Gzip {
                    gzip(b"x")[..10].to_vec()
                } else {
                    zstd(b"x")[..6].to_vec()
                };
                framed.append(&mut data.clone());
                let _ = decompress(enc, &framed, 1 << 16, &mut out);
            }
            data.clear();
        }
        assert!(matches!(
            decompress(Encoding::Gzip, b"not gzip", 100, &mut out),
            Err(DecompressError::Corrupt {
                encoding: "gzip",
                ..
            })
        ));
    }
}
