//! String escaping of the text formats, byte for byte as ClickHouse does it. None of them
//! validates UTF-8: bytes that are not special pass through unchanged, as in ClickHouse.

/// Appends `bytes`, copying runs that need no escape in one go and calling `escape` for the
/// others (`needs` picks them).
#[inline]
fn escaped(
    out: &mut Vec<u8>,
    bytes: &[u8],
    needs: impl Fn(u8) -> bool,
    escape: impl Fn(&mut Vec<u8>, u8),
) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if needs(b) {
            out.extend_from_slice(&bytes[start..i]);
            escape(out, b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// TabSeparated and Values escaping: `\b \f \n \r \t \0 \\ \'` become backslash escapes.
pub(super) fn write_tsv_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    escaped(
        out,
        bytes,
        |b| {
            matches!(
                b,
                b'\x08' | b'\x0c' | b'\n' | b'\r' | b'\t' | b'\0' | b'\\' | b'\''
            )
        },
        |out, b| {
            let c = match b {
                b'\x08' => b'b',
                b'\x0c' => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                b'\0' => b'0',
                other => other,
            };
            out.extend_from_slice(&[b'\\', c]);
        },
    );
}

/// A CSV field: always double-quoted, with `"` doubled and nothing else escaped.
pub(super) fn write_csv_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    escaped(
        out,
        bytes,
        |b| b == b'"',
        |out, _| out.extend_from_slice(b"\"\""),
    );
    out.push(b'"');
}

/// A JSON string with ClickHouse's escapes: `\" \\ \b \f \n \r \t`, `\/` when
/// `escape_forward_slashes`, `\u00XX` (upper-case hex) for other control bytes, and
/// `\u2028`/`\u2029`, which JavaScript does not allow raw in strings. With `validate_utf8`
/// (what the JSON and JSONCompact documents do) bytes that are not UTF-8 are replaced first.
pub(super) fn write_json_string(
    out: &mut Vec<u8>,
    bytes: &[u8],
    escape_forward_slashes: bool,
    validate_utf8: bool,
) {
    if validate_utf8 && std::str::from_utf8(bytes).is_err() {
        let mut valid = Vec::with_capacity(bytes.len() + 2);
        replace_invalid_utf8(&mut valid, bytes);
        return write_json_string(out, &valid, escape_forward_slashes, false);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'/' if escape_forward_slashes => Some(b"\\/"),
            b'\x08' => Some(b"\\b"),
            b'\x0c' => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0xE2 if bytes.get(i + 1) == Some(&0x80)
                && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                Some(if bytes[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                })
            }
            _ => None,
        };
        if let Some(escape) = escape {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(escape);
            i += if b == 0xE2 { 3 } else { 1 };
            start = i;
        } else if b < 0x20 {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]);
            i += 1;
            start = i;
        } else {
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Copies `bytes`, writing U+FFFD for each run of bytes that are not UTF-8, as ClickHouse's
/// `WriteBufferValidUTF8` does: an invalid byte is skipped alone, and consecutive skipped bytes
/// share one replacement character.
pub(super) fn replace_invalid_utf8(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut valid_from = 0;
    let mut at = 0;
    let mut just_replaced = false;
    while at < bytes.len() {
        let len = match bytes[at] {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 0,
        };
        let sequence = bytes.get(at..at + len).filter(|_| len > 0);
        if sequence.is_some_and(|s| std::str::from_utf8(s).is_ok()) {
            at += len;
            continue;
        }
        if valid_from < at {
            out.extend_from_slice(&bytes[valid_from..at]);
            just_replaced = false;
        }
        if !just_replaced {
            out.extend_from_slice("\u{FFFD}".as_bytes());
            just_replaced = true;
        }
        at += 1;
        valid_from = at;
    }
    out.extend_from_slice(&bytes[valid_from..]);
}
