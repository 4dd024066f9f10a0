//! `multipart/form-data` request bodies (RFC 7578), as ClickHouse clients send a query with
//! its parameters: a `query` field and `param_<name>` fields. Only what ClickHouse reads is
//! supported: fields named by `Content-Disposition: form-data; name="..."`, values as bytes.

/// Most fields one body may carry.
pub const FIELDS_MAX: usize = 10_000;

/// The boundary of a `multipart/form-data` content type, `None` for any other type.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (mime, rest) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    rest.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"'))
            .filter(|b| !b.is_empty())
    })
}

/// The fields of `body`, in order: (name, value).
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<(String, &'a [u8])>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut at = find(body, 0, delimiter).ok_or("multipart body has no boundary")?;
    let mut fields = Vec::new();
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            return Ok(fields);
        }
        at = skip_crlf(body, at).ok_or("multipart boundary not followed by CRLF")?;
        let headers_end = find(body, at, b"\r\n\r\n").ok_or("multipart part has no header end")?;
        let headers = std::str::from_utf8(&body[at..headers_end])
            .map_err(|_| "multipart part headers are not UTF-8")?;
        let name = headers
            .split("\r\n")
            .find_map(|h| {
                let (k, v) = h.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then_some(v)
            })
            .and_then(field_name)
            .ok_or("multipart part has no Content-Disposition name")?;
        let value_start = headers_end + 4;
        let mut next_delimiter = Vec::with_capacity(delimiter.len() + 2);
        next_delimiter.extend_from_slice(b"\r\n");
        next_delimiter.extend_from_slice(delimiter);
        let value_end = find(body, value_start, &next_delimiter)
            .ok_or("multipart part is not closed by a boundary")?;
        if fields.len() == FIELDS_MAX {
            return Err(format!("more than {FIELDS_MAX} multipart fields"));
        }
        fields.push((name.to_string(), &body[value_start..value_end]));
        at = value_end + 2;
    }
}

fn field_name(disposition: &str) -> Option<&str> {
    disposition.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == "name").then(|| v.trim().trim_matches('"'))
    })
}

fn skip_crlf(b: &[u8], at: usize) -> Option<usize> {
    b[at..].starts_with(b"\r\n").then_some(at + 2)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_clickhouse_clients_send() {
        let ct = "multipart/form-data; boundary=XyZ";
        let b = boundary(ct).unwrap();
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT {s:String}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"param_s\"\r\n\r\nline1\r\nline2\r\n--XyZ--\r\n";
        let fields = parse(body, b).unwrap();
        assert_eq!(
            fields,
            vec![
                ("query".to_string(), &b"SELECT {s:String}"[..]),
                ("param_s".to_string(), &b"line1\r\nline2"[..]),
            ]
        );
        assert_eq!(boundary("text/plain"), None);
        assert_eq!(boundary("multipart/form-data; boundary=\"q\""), Some("q"));
    }

    #[test]
    fn malformed_bodies_are_errors_not_panics() {
        for body in [
            &b""[..],
            b"--XyZ",
            b"--XyZ\r\n",
            b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--",
            b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
        ] {
            assert!(parse(body, "XyZ").is_err(), "{body:?}");
        }
    }
}
