//! Body framing: one decoder for Content-Length, chunked and absent bodies.

use crate::chunked::ChunkedDecoder;
use crate::error::{Error, ErrorKind};
use crate::head::BodyKind;
use crate::limits::Limits;

/// One step of body decoding: the bytes of input used and the body data found in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Input bytes used, framing included.
    pub consumed: usize,
    /// Body data: a sub-slice of the input (empty when the step read only framing).
    pub data: &'a [u8],
    /// The body has ended; input after `consumed` belongs to the next request.
    pub done: bool,
}

/// Progress of [`BodyDecoder::decode_into`] over one piece of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes used. Less than the input only when `done`.
    pub consumed: usize,
    /// The body has ended.
    pub done: bool,
}

/// Reads the body of one request, whatever its framing, from input fed in pieces.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    framing: Framing,
}

#[derive(Debug, Clone)]
enum Framing {
    Length { remaining: u64 },
    TooLarge,
    Chunked(ChunkedDecoder),
}

impl BodyDecoder {
    /// A decoder for a body framed as `kind`; [`BodyKind::None`] is an empty body.
    ///
    /// A `Length` over `limits.max_body_bytes` (the head parser already rejects those) makes
    /// the first `decode` fail with [`ErrorKind::BodyTooLarge`].
    pub fn new(kind: BodyKind, limits: &Limits) -> BodyDecoder {
        let framing = match kind {
            BodyKind::None => Framing::Length { remaining: 0 },
            BodyKind::Length(length) if length > limits.max_body_bytes => Framing::TooLarge,
            BodyKind::Length(length) => Framing::Length { remaining: length },
            BodyKind::Chunked => Framing::Chunked(ChunkedDecoder::new(limits)),
        };
        BodyDecoder { framing }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        match &self.framing {
            Framing::Length { remaining } => *remaining == 0,
            Framing::TooLarge => false,
            Framing::Chunked(decoder) => decoder.is_done(),
        }
    }

    /// Body bytes still to come when the length is known (Content-Length framing).
    pub fn remaining_bytes(&self) -> Option<u64> {
        match &self.framing {
            Framing::Length { remaining } => Some(*remaining),
            _ => None,
        }
    }

    /// Returns the next run of body data in `input` as a slice of it; see
    /// [`ChunkedDecoder::decode`] for the calling pattern.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<'a>, Error> {
        match &mut self.framing {
            Framing::Length { remaining } => {
                let take = (input.len() as u64).min(*remaining) as usize;
                *remaining -= take as u64;
                Ok(Decoded {
                    consumed: take,
                    data: &input[..take],
                    done: *remaining == 0,
                })
            }
            Framing::TooLarge => Err(Error::new(ErrorKind::BodyTooLarge, 0)),
            Framing::Chunked(decoder) => decoder.decode(input),
        }
    }

    /// Decodes as much of `input` as belongs to the body, appending the data to `out`.
    pub fn decode_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Progress, Error> {
        match &mut self.framing {
            Framing::Chunked(decoder) => decoder.decode_into(input, out),
            _ => {
                let decoded = self.decode(input)?;
                out.extend_from_slice(decoded.data);
                Ok(Progress {
                    consumed: decoded.consumed,
                    done: decoded.done,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bodies_stop_at_their_length() {
        let mut decoder = BodyDecoder::new(BodyKind::Length(5), &Limits::default());
        assert_eq!(decoder.remaining_bytes(), Some(5));
        let mut out = Vec::new();
        let first = decoder.decode_into(b"abc", &mut out).unwrap();
        assert_eq!(
            first,
            Progress {
                consumed: 3,
                done: false
            }
        );
        let second = decoder.decode(b"deGET").unwrap();
        assert_eq!(
            second,
            Decoded {
                consumed: 2,
                data: b"de",
                done: true
            }
        );
        assert!(decoder.is_done());
        let after = decoder.decode(b"more").unwrap();
        assert_eq!(
            after,
            Decoded {
                consumed: 0,
                data: b"",
                done: true
            }
        );
        assert_eq!(out, b"abc");
    }

    #[test]
    fn absent_and_empty_bodies_are_done_at_once() {
        for kind in [BodyKind::None, BodyKind::Length(0)] {
            let mut decoder = BodyDecoder::new(kind, &Limits::default());
            assert!(decoder.is_done());
            assert_eq!(
                decoder.decode(b"GET").unwrap(),
                Decoded {
                    consumed: 0,
                    data: b"",
                    done: true
                }
            );
        }
    }

    #[test]
    fn chunked_bodies_go_through_the_chunked_decoder() {
        let mut decoder = BodyDecoder::new(BodyKind::Chunked, &Limits::default());
        assert_eq!(decoder.remaining_bytes(), None);
        let mut out = Vec::new();
        let progress = decoder
            .decode_into(b"3\r\nabc\r\n0\r\n\r\nnext", &mut out)
            .unwrap();
        assert_eq!(
            progress,
            Progress {
                consumed: 13,
                done: true
            }
        );
        assert_eq!(out, b"abc");
    }

    #[test]
    fn an_oversized_length_is_refused() {
        let limits = Limits {
            max_body_bytes: 4,
            ..Limits::default()
        };
        let mut decoder = BodyDecoder::new(BodyKind::Length(5), &limits);
        assert!(!decoder.is_done());
        let error = decoder.decode(b"12345").unwrap_err();
        assert_eq!((error.kind, error.status()), (ErrorKind::BodyTooLarge, 413));
    }
}
