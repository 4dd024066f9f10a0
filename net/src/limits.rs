//! Named bounds on everything a client can make the parser hold or count.

/// Bounds applied while parsing; over a bound the parser returns a typed error.
///
/// `max_target_bytes` only matters when it is below `max_header_bytes` (the target is part of
/// the head). Trailer sections of chunked bodies are bounded by `max_header_bytes` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request head (request line, header lines and the empty line). Over it: 431.
    pub max_header_bytes: usize,
    /// Most header lines in one head. Over it: 431. The caller's header array bounds it too.
    pub max_headers: usize,
    /// Longest request body, declared or decoded. Over it: 413.
    pub max_body_bytes: u64,
    /// Longest request-target (path and query). Over it: 414.
    pub max_target_bytes: usize,
    /// Longest chunk-size line (size and extensions, without CRLF). Over it: 400.
    pub max_chunk_line_bytes: usize,
}

impl Limits {
    /// The defaults: 64 KiB heads, 100 headers, 256 MiB bodies, 32 KiB targets, 4 KiB chunk lines.
    pub const DEFAULT: Limits = Limits {
        max_header_bytes: 64 * 1024,
        max_headers: 100,
        max_body_bytes: 256 * 1024 * 1024,
        max_target_bytes: 32 * 1024,
        max_chunk_line_bytes: 4 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let limits = Limits::default();
        assert_eq!(limits.max_header_bytes, 65_536);
        assert_eq!(limits.max_body_bytes, 268_435_456);
        assert!(limits.max_target_bytes < limits.max_header_bytes);
        assert!(limits.max_headers > 0);
        assert!(limits.max_chunk_line_bytes >= 16);
    }
}
