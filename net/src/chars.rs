//! Byte classes of RFC 9110/9112 grammar as 256-entry lookup tables.

/// A 256-entry table of a `const fn(u8) -> bool` class (function pointers cannot run in const).
macro_rules! table {
    ($class:ident) => {{
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = $class(byte as u8);
            byte += 1;
        }
        table
    }};
}

const fn is_tchar(byte: u8) -> bool {
    matches!(byte,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Visible ASCII: what a request-target may hold. Stricter URI grammar is left to routing.
const fn is_target_char(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e)
}

/// field-vchar, SP, HTAB and obs-text: what a field value may hold between its first and last byte.
const fn is_value_char(byte: u8) -> bool {
    matches!(byte, b'\t' | 0x20..=0x7e | 0x80..=0xff)
}

static TCHAR: [bool; 256] = table!(is_tchar);
static TARGET: [bool; 256] = table!(is_target_char);
static VALUE: [bool; 256] = table!(is_value_char);

/// A token character (RFC 9110 §5.6.2): methods, header names, transfer codings.
#[inline(always)]
pub(crate) fn tchar(byte: u8) -> bool {
    TCHAR[byte as usize]
}

/// A byte allowed in a request-target.
#[inline(always)]
pub(crate) fn target(byte: u8) -> bool {
    TARGET[byte as usize]
}

/// A byte allowed in a field value (and in chunk extensions).
#[inline(always)]
pub(crate) fn value(byte: u8) -> bool {
    VALUE[byte as usize]
}

/// Optional whitespace: SP or HTAB.
#[inline(always)]
pub(crate) fn ows(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// `bytes` without leading and trailing SP/HTAB.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    let mut end = bytes.len();
    while start < end && ows(bytes[start]) {
        start += 1;
    }
    while end > start && ows(bytes[end - 1]) {
        end -= 1;
    }
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_the_rfc_grammar() {
        for byte in b"!#$%&'*+-.^_`|~09azAZ" {
            assert!(tchar(*byte), "{byte}");
        }
        for byte in b"()<>@,;:\\\"/[]?={} \t\r\n\x00\x7f\x80" {
            assert!(!tchar(*byte), "{byte}");
        }
        assert!(target(b'/') && target(b'?') && target(b'%') && target(b'~'));
        assert!(!target(b' ') && !target(0x7f) && !target(0x80) && !target(b'\r'));
        assert!(value(b'\t') && value(b' ') && value(0xff) && value(b'"'));
        assert!(!value(b'\r') && !value(b'\n') && !value(0) && !value(0x7f) && !value(0x1f));
    }

    #[test]
    fn trim_ows_strips_both_ends() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }
}
