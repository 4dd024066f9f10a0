//! Typed parse errors: what was wrong, where, and which HTTP status answers it.

/// What was wrong with the bytes a client sent.
///
/// Every kind is the client's fault and maps to one status through [`ErrorKind::status`].
/// After any error the framing of the connection is lost: answer with the status and close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The method is empty or holds a byte that is not a token character.
    #[error("invalid method")]
    InvalidMethod,
    /// The request-target is empty or holds a control, space-like or non-ASCII byte.
    #[error("invalid request target")]
    InvalidTarget,
    /// The request line does not end in `HTTP/<digit>.<digit>` followed by the line end.
    #[error("invalid HTTP version")]
    InvalidVersion,
    /// A well-formed version other than HTTP/1.x (for example the HTTP/2 preface).
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// A header name is empty, holds a non-token byte, or has whitespace before its colon.
    #[error("invalid header name")]
    InvalidHeaderName,
    /// A header line ended before its colon.
    #[error("header line without ':'")]
    HeaderWithoutColon,
    /// A header value holds a control byte (other than horizontal tab) or DEL.
    #[error("invalid header value")]
    InvalidHeaderValue,
    /// A carriage return not followed by a line feed.
    #[error("bare carriage return")]
    BareCr,
    /// A header line that starts with whitespace (obsolete line folding), rejected by RFC 9112 §5.2.
    #[error("obsolete line folding")]
    ObsFold,
    /// The head (request line and headers) is longer than `Limits::max_header_bytes`.
    #[error("request head too large")]
    HeadersTooLarge,
    /// More header lines than `Limits::max_headers` or than the caller's header array holds.
    #[error("too many headers")]
    TooManyHeaders,
    /// The request-target is longer than `Limits::max_target_bytes`.
    #[error("request target too long")]
    TargetTooLong,
    /// A Content-Length value that is not a list of decimal digits.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// Several Content-Length values that differ (RFC 9112 §6.3).
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding: a request-smuggling shape (RFC 9112 §6.1).
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding whose final coding is not `chunked`, or `chunked` applied twice.
    #[error("Transfer-Encoding does not end in a single chunked")]
    TransferEncodingNotChunked,
    /// Transfer-Encoding in an HTTP/1.0 request: faulty framing (RFC 9112 §6.1).
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingInHttp10,
    /// A transfer coding other than `chunked` before the final `chunked` (e.g. `gzip, chunked`).
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// More than one Host header (RFC 9112 §3.2).
    #[error("more than one Host header")]
    DuplicateHost,
    /// The body is, or declares itself, longer than `Limits::max_body_bytes`.
    #[error("request body too large")]
    BodyTooLarge,
    /// A POST, PUT or PATCH with neither Content-Length nor chunked framing. The parser never
    /// returns this itself (`BodyKind::None` is valid framing); see `RequestHead::require_length`.
    #[error("Content-Length or chunked Transfer-Encoding required")]
    LengthRequired,
    /// A chunk-size line that does not start with a hexadecimal size.
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk extension with a control byte in it.
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    /// A chunk-size line longer than `Limits::max_chunk_line_bytes`.
    #[error("chunk-size line too long")]
    ChunkLineTooLong,
    /// Chunk data not followed by CRLF, or a chunk line ended by a bare LF.
    #[error("missing CRLF in chunked body")]
    MissingChunkCrlf,
    /// A malformed trailer field line after the last chunk.
    #[error("invalid trailer field")]
    InvalidTrailer,
    /// The trailer section is longer than `Limits::max_header_bytes`.
    #[error("trailer section too large")]
    TrailersTooLarge,
    /// A `%` not followed by two hexadecimal digits in the query string.
    #[error("invalid percent escape")]
    InvalidPercentEncoding,
    /// A percent-decoded query component that is not UTF-8.
    #[error("query component is not UTF-8 after percent-decoding")]
    InvalidQueryUtf8,
}

impl ErrorKind {
    /// The HTTP status code that answers this error.
    pub const fn status(self) -> u16 {
        match self {
            ErrorKind::HeadersTooLarge
            | ErrorKind::TooManyHeaders
            | ErrorKind::TrailersTooLarge => 431,
            ErrorKind::TargetTooLong => 414,
            ErrorKind::BodyTooLarge => 413,
            ErrorKind::LengthRequired => 411,
            ErrorKind::UnsupportedTransferCoding => 501,
            ErrorKind::UnsupportedVersion => 505,
            ErrorKind::InvalidMethod
            | ErrorKind::InvalidTarget
            | ErrorKind::InvalidVersion
            | ErrorKind::InvalidHeaderName
            | ErrorKind::HeaderWithoutColon
            | ErrorKind::InvalidHeaderValue
            | ErrorKind::BareCr
            | ErrorKind::ObsFold
            | ErrorKind::InvalidContentLength
            | ErrorKind::ConflictingContentLength
            | ErrorKind::ContentLengthWithTransferEncoding
            | ErrorKind::TransferEncodingNotChunked
            | ErrorKind::TransferEncodingInHttp10
            | ErrorKind::DuplicateHost
            | ErrorKind::InvalidChunkSize
            | ErrorKind::InvalidChunkExtension
            | ErrorKind::ChunkLineTooLong
            | ErrorKind::MissingChunkCrlf
            | ErrorKind::InvalidTrailer
            | ErrorKind::InvalidPercentEncoding
            | ErrorKind::InvalidQueryUtf8 => 400,
        }
    }
}

/// A parse error: its kind and the byte offset where it was found.
///
/// The offset counts from the first byte of the buffer given to the head parser, from the first
/// byte of the body for the body decoders, and from the first byte of the query string for
/// query decoding. It is the same however the input was split across calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct Error {
    /// What was wrong.
    pub kind: ErrorKind,
    /// Where it was found, in bytes.
    pub offset: u64,
}

impl Error {
    pub(crate) const fn new(kind: ErrorKind, offset: u64) -> Error {
        Error { kind, offset }
    }

    pub(crate) fn at(kind: ErrorKind, offset: usize) -> Error {
        Error {
            kind,
            offset: offset as u64,
        }
    }

    /// The HTTP status code that answers this error (400, 411, 413, 414, 431, 501 or 505).
    pub const fn status(&self) -> u16 {
        self.kind.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind_and_offset() {
        let error = Error::at(ErrorKind::BareCr, 17);
        assert_eq!(error.to_string(), "bare carriage return at byte 17");
        assert_eq!(error.status(), 400);
    }

    #[test]
    fn limit_kinds_map_to_their_statuses() {
        assert_eq!(ErrorKind::HeadersTooLarge.status(), 431);
        assert_eq!(ErrorKind::TooManyHeaders.status(), 431);
        assert_eq!(ErrorKind::TrailersTooLarge.status(), 431);
        assert_eq!(ErrorKind::TargetTooLong.status(), 414);
        assert_eq!(ErrorKind::BodyTooLarge.status(), 413);
        assert_eq!(ErrorKind::LengthRequired.status(), 411);
        assert_eq!(ErrorKind::UnsupportedTransferCoding.status(), 501);
        assert_eq!(ErrorKind::UnsupportedVersion.status(), 505);
        assert_eq!(ErrorKind::ObsFold.status(), 400);
    }
}
