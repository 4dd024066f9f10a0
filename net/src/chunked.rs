//! Incremental decoder for `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1).

use crate::body::{Decoded, Progress};
use crate::chars;
use crate::error::{Error, ErrorKind};
use crate::limits::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// First byte of a chunk-size line: a hex digit.
    SizeStart,
    Size,
    /// Whitespace after the size; only a `;` extension may follow.
    SizeWs,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    EndLf,
    Done,
}

/// Decodes a chunked body fed in pieces of any size, keeping no input bytes.
///
/// Consumes every byte it is given except after the end of the body, so the caller never has
/// to hold back a partial chunk-size line. Chunk extensions are checked for control bytes and
/// skipped; trailer fields are checked and discarded. Line ends inside the framing must be
/// CRLF: a bare LF or CR is an error (lenient line ends are a smuggling vector). After an error
/// every call returns the same error.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being read, then the data bytes left in the current chunk.
    chunk_bytes: u64,
    /// Bytes of the current chunk-size line, without its CRLF.
    line_bytes: usize,
    trailer_bytes: usize,
    /// Data bytes of all chunks whose size line has been read.
    body_bytes: u64,
    /// Bytes consumed so far, framing included: the base of error offsets.
    position: u64,
    failed: Option<Error>,
    max_body_bytes: u64,
    max_chunk_line_bytes: usize,
    max_trailer_bytes: usize,
}

impl ChunkedDecoder {
    pub fn new(limits: &Limits) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::SizeStart,
            chunk_bytes: 0,
            line_bytes: 0,
            trailer_bytes: 0,
            body_bytes: 0,
            position: 0,
            failed: None,
            max_body_bytes: limits.max_body_bytes,
            max_chunk_line_bytes: limits.max_chunk_line_bytes,
            max_trailer_bytes: limits.max_header_bytes,
        }
    }

    /// Whether the last chunk, the trailers and the final CRLF have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decoded data bytes so far (sizes of the chunks begun, data not necessarily all read).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Reads framing from `input` up to the next run of chunk data and returns that run as a
    /// slice of `input`. Call again with `input[consumed..]` until `done`, or until `consumed`
    /// is 0 (all input used). Bytes after the end of the body are left unconsumed: they start
    /// the next request.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<'a>, Error> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let mut index = 0;
        while index < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let available = (input.len() - index) as u64;
                let take = available.min(self.chunk_bytes) as usize;
                let data = &input[index..index + take];
                index += take;
                self.chunk_bytes -= take as u64;
                if self.chunk_bytes == 0 {
                    self.state = State::DataCr;
                }
                self.position += index as u64;
                return Ok(Decoded {
                    consumed: index,
                    data,
                    done: false,
                });
            }
            if let Err(kind) = self.step(input[index]) {
                let error = Error::new(kind, self.position + index as u64);
                self.failed = Some(error);
                return Err(error);
            }
            index += 1;
        }
        self.position += index as u64;
        Ok(Decoded {
            consumed: index,
            data: &[],
            done: self.state == State::Done,
        })
    }

    /// Decodes as much of `input` as belongs to the body, appending the data to `out`.
    pub fn decode_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Progress, Error> {
        let mut consumed = 0;
        loop {
            let decoded = self.decode(&input[consumed..])?;
            out.extend_from_slice(decoded.data);
            consumed += decoded.consumed;
            if decoded.done || decoded.consumed == 0 {
                return Ok(Progress {
                    consumed,
                    done: decoded.done,
                });
            }
        }
    }

    /// Advances the framing state machine by one byte (never called in `Data` or `Done`).
    fn step(&mut self, byte: u8) -> Result<(), ErrorKind> {
        match self.state {
            State::SizeStart => {
                let digit = hex_digit(byte).ok_or(ErrorKind::InvalidChunkSize)?;
                self.chunk_bytes = 0;
                self.line_bytes = 0;
                self.count_line_byte()?;
                self.add_size_digit(digit)?;
                self.state = State::Size;
            }
            State::Size | State::SizeWs | State::Extension => {
                if byte == b'\r' {
                    // Whitespace after the size is allowed only before an extension.
                    if self.state == State::SizeWs {
                        return Err(ErrorKind::InvalidChunkSize);
                    }
                    self.state = State::SizeLf;
                    return Ok(());
                }
                if byte == b'\n' {
                    return Err(ErrorKind::MissingChunkCrlf);
                }
                self.count_line_byte()?;
                match (self.state, byte) {
                    (State::Size, _) if hex_digit(byte).is_some() => {
                        self.add_size_digit(hex_digit(byte).unwrap_or(0))?;
                    }
                    (State::Size | State::SizeWs, b' ' | b'\t') => self.state = State::SizeWs,
                    (State::Size | State::SizeWs, b';') => self.state = State::Extension,
                    (State::Size | State::SizeWs, _) => return Err(ErrorKind::InvalidChunkSize),
                    (_, _) if chars::value(byte) => {}
                    (_, _) => return Err(ErrorKind::InvalidChunkExtension),
                }
            }
            State::SizeLf => {
                if byte != b'\n' {
                    return Err(ErrorKind::BareCr);
                }
                if self.chunk_bytes == 0 {
                    self.state = State::TrailerStart;
                } else {
                    self.body_bytes += self.chunk_bytes;
                    self.state = State::Data;
                }
            }
            State::DataCr => {
                if byte != b'\r' {
                    return Err(ErrorKind::MissingChunkCrlf);
                }
                self.state = State::DataLf;
            }
            State::DataLf => {
                if byte != b'\n' {
                    return Err(ErrorKind::MissingChunkCrlf);
                }
                self.state = State::SizeStart;
            }
            State::TrailerStart
            | State::TrailerName
            | State::TrailerValue
            | State::TrailerLf
            | State::EndLf => {
                self.trailer_bytes += 1;
                if self.trailer_bytes > self.max_trailer_bytes {
                    return Err(ErrorKind::TrailersTooLarge);
                }
                self.state = match (self.state, byte) {
                    (State::TrailerStart, b'\r') => State::EndLf,
                    (State::TrailerStart, b' ' | b'\t') => return Err(ErrorKind::ObsFold),
                    (State::TrailerStart | State::TrailerName, _) if chars::tchar(byte) => {
                        State::TrailerName
                    }
                    (State::TrailerName, b':') => State::TrailerValue,
                    (State::TrailerValue, b'\r') => State::TrailerLf,
                    (State::TrailerValue, _) if chars::value(byte) => State::TrailerValue,
                    (State::TrailerLf, b'\n') => State::TrailerStart,
                    (State::EndLf, b'\n') => State::Done,
                    (State::TrailerLf | State::EndLf, _) => return Err(ErrorKind::BareCr),
                    (_, b'\n') => return Err(ErrorKind::MissingChunkCrlf),
                    (_, _) => return Err(ErrorKind::InvalidTrailer),
                };
            }
            State::Data | State::Done => {
                debug_assert!(false, "step called in {:?}", self.state);
            }
        }
        Ok(())
    }

    fn count_line_byte(&mut self) -> Result<(), ErrorKind> {
        self.line_bytes += 1;
        if self.line_bytes > self.max_chunk_line_bytes {
            return Err(ErrorKind::ChunkLineTooLong);
        }
        Ok(())
    }

    /// Sizes only grow digit by digit, so the body limit is checked as soon as it is crossed.
    fn add_size_digit(&mut self, digit: u8) -> Result<(), ErrorKind> {
        let size = self
            .chunk_bytes
            .checked_mul(16)
            .map(|size| size + u64::from(digit))
            .ok_or(ErrorKind::BodyTooLarge)?;
        if self.body_bytes.saturating_add(size) > self.max_body_bytes {
            return Err(ErrorKind::BodyTooLarge);
        }
        self.chunk_bytes = size;
        Ok(())
    }
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, Progress), Error> {
        let mut decoder = ChunkedDecoder::new(limits);
        let mut out = Vec::new();
        let progress = decoder.decode_into(input, &mut out)?;
        Ok((out, progress))
    }

    fn error_of(input: &[u8]) -> (ErrorKind, u64) {
        let error = decode_all(input, &Limits::default()).unwrap_err();
        (error.kind, error.offset)
    }

    #[test]
    fn decodes_chunks_and_stops_at_the_end() {
        let input = b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (data, progress) = decode_all(input, &Limits::default()).unwrap();
        assert_eq!(data, b"hello, world");
        assert!(progress.done);
        assert_eq!(&input[progress.consumed..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn hex_sizes_in_both_cases_and_leading_zeros() {
        let mut input = b"00A\r\n0123456789\r\n0b\r\nabcdefghijk\r\n000\r\n\r\n".to_vec();
        let (data, progress) = decode_all(&input, &Limits::default()).unwrap();
        assert_eq!(data, b"0123456789abcdefghijk");
        assert!(progress.done && progress.consumed == input.len());
        input.truncate(input.len() - 1);
        let (_, progress) = decode_all(&input, &Limits::default()).unwrap();
        assert!(!progress.done && progress.consumed == input.len());
    }

    #[test]
    fn extensions_and_trailers_are_skipped() {
        let input = b"3;name=value;flag;q=\"a b\"\r\nabc\r\n3 ; x\r\ndef\r\n0;last\r\nX-Sum: 1\r\nX-Other:\r\n\r\n";
        let (data, progress) = decode_all(input, &Limits::default()).unwrap();
        assert_eq!(data, b"abcdef");
        assert!(progress.done && progress.consumed == input.len());
    }

    #[test]
    fn slices_come_straight_from_the_input() {
        let input = b"4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n";
        let mut decoder = ChunkedDecoder::new(&Limits::default());
        let first = decoder.decode(input).unwrap();
        assert_eq!(
            (first.data, first.consumed, first.done),
            (&b"abcd"[..], 7, false)
        );
        let second = decoder.decode(&input[7..]).unwrap();
        assert_eq!((second.data, second.consumed), (&b"ef"[..], 7));
        let last = decoder.decode(&input[14..]).unwrap();
        assert_eq!((last.data, last.consumed, last.done), (&b""[..], 7, true));
        assert_eq!(decoder.body_bytes(), 6);
    }

    #[test]
    fn every_split_point_gives_the_same_body() {
        let input = b"5;e=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nT: v\r\n\r\nrest";
        for split in 0..=input.len() {
            let mut decoder = ChunkedDecoder::new(&Limits::default());
            let mut out = Vec::new();
            let first = decoder.decode_into(&input[..split], &mut out).unwrap();
            assert_eq!(first.consumed, split.min(input.len() - 4), "split {split}");
            let second = decoder
                .decode_into(&input[first.consumed..], &mut out)
                .unwrap();
            assert!(second.done, "split {split}");
            assert_eq!(out, b"hello world");
            assert_eq!(first.consumed + second.consumed, input.len() - 4);
        }
    }

    #[test]
    fn malformed_sizes_are_rejected() {
        assert_eq!(error_of(b"\r\n"), (ErrorKind::InvalidChunkSize, 0));
        assert_eq!(error_of(b"g\r\n"), (ErrorKind::InvalidChunkSize, 0));
        assert_eq!(error_of(b"-1\r\n"), (ErrorKind::InvalidChunkSize, 0));
        assert_eq!(error_of(b"0x5\r\n"), (ErrorKind::InvalidChunkSize, 1));
        assert_eq!(error_of(b"5 \r\nhello"), (ErrorKind::InvalidChunkSize, 2));
        assert_eq!(error_of(b"5 x\r\n"), (ErrorKind::InvalidChunkSize, 2));
        assert_eq!(error_of(b";x\r\n"), (ErrorKind::InvalidChunkSize, 0));
    }

    #[test]
    fn line_ends_must_be_crlf() {
        assert_eq!(error_of(b"5\nhello\r\n"), (ErrorKind::MissingChunkCrlf, 1));
        assert_eq!(error_of(b"5\rhello"), (ErrorKind::BareCr, 2));
        assert_eq!(error_of(b"5\r\nhelloX"), (ErrorKind::MissingChunkCrlf, 8));
        assert_eq!(error_of(b"5\r\nhello\rX"), (ErrorKind::MissingChunkCrlf, 9));
        assert_eq!(error_of(b"5\r\nhello\n"), (ErrorKind::MissingChunkCrlf, 8));
        assert_eq!(error_of(b"0\r\n\n"), (ErrorKind::MissingChunkCrlf, 3));
        assert_eq!(error_of(b"0\r\n\rX"), (ErrorKind::BareCr, 4));
        assert_eq!(error_of(b"0;a\nb\r\n"), (ErrorKind::MissingChunkCrlf, 3));
    }

    #[test]
    fn extension_control_bytes_are_rejected() {
        assert_eq!(
            error_of(b"1;a\x00\r\n"),
            (ErrorKind::InvalidChunkExtension, 3)
        );
        assert_eq!(
            error_of(b"1;a\x7f\r\n"),
            (ErrorKind::InvalidChunkExtension, 3)
        );
    }

    #[test]
    fn malformed_trailers_are_rejected() {
        assert_eq!(
            error_of(b"0\r\n: v\r\n\r\n"),
            (ErrorKind::InvalidTrailer, 3)
        );
        assert_eq!(
            error_of(b"0\r\nName v\r\n\r\n"),
            (ErrorKind::InvalidTrailer, 7)
        );
        assert_eq!(
            error_of(b"0\r\nA: \x01\r\n\r\n"),
            (ErrorKind::InvalidTrailer, 6)
        );
        assert_eq!(
            error_of(b"0\r\nA: b\r\n c\r\n\r\n"),
            (ErrorKind::ObsFold, 9)
        );
        assert_eq!(error_of(b"0\r\nA: b\rc"), (ErrorKind::BareCr, 8));
        assert_eq!(
            error_of(b"0\r\nA: b\n\r\n"),
            (ErrorKind::MissingChunkCrlf, 7)
        );
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_body_bytes: 10,
            max_chunk_line_bytes: 8,
            max_header_bytes: 12,
            ..Limits::default()
        };
        let over_body = decode_all(b"5\r\nhello\r\n6\r\n", &limits).unwrap_err();
        assert_eq!(
            (over_body.kind, over_body.offset, over_body.status()),
            (ErrorKind::BodyTooLarge, 10, 413)
        );
        let at_body = decode_all(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", &limits).unwrap();
        assert!(at_body.1.done);
        let huge = decode_all(b"ffffffffffffffffff\r\n", &Limits::default()).unwrap_err();
        assert_eq!(huge.kind, ErrorKind::BodyTooLarge);
        let long_line = decode_all(b"1;aaaaaaa\r\n", &limits).unwrap_err();
        assert_eq!(
            (long_line.kind, long_line.offset),
            (ErrorKind::ChunkLineTooLong, 8)
        );
        let just_fits = decode_all(b"1;aaaaaa\r\nx\r\n", &limits).unwrap();
        assert_eq!(just_fits.0, b"x");
        let zeros = decode_all(b"000000001\r\n", &limits).unwrap_err();
        assert_eq!(zeros.kind, ErrorKind::ChunkLineTooLong);
        let trailers = decode_all(b"0\r\nA: 1234567\r\n\r\n", &limits).unwrap_err();
        assert_eq!(
            (trailers.kind, trailers.status()),
            (ErrorKind::TrailersTooLarge, 431)
        );
    }

    #[test]
    fn errors_are_sticky() {
        let mut decoder = ChunkedDecoder::new(&Limits::default());
        let first = decoder.decode(b"z").unwrap_err();
        assert_eq!(decoder.decode(b"0\r\n\r\n").unwrap_err(), first);
    }
}
