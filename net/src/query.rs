//! Request-target splitting and `application/x-www-form-urlencoded` query decoding.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind};

/// Splits a request-target into its path and its query (without the `?`).
///
/// An absolute-form target (`http://host/p?q`) yields the path of the URL (`/` when empty);
/// anything after `#` is dropped (clients should not send fragments, some do).
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    let target = match target.find('#') {
        Some(index) => &target[..index],
        None => target,
    };
    let (before, query) = match target.find('?') {
        Some(index) => (&target[..index], Some(&target[index + 1..])),
        None => (target, None),
    };
    (strip_scheme_and_authority(before), query)
}

fn strip_scheme_and_authority(before: &str) -> &str {
    let bytes = before.as_bytes();
    let after_scheme = if bytes.len() >= 7 && bytes[..7].eq_ignore_ascii_case(b"http://") {
        7
    } else if bytes.len() >= 8 && bytes[..8].eq_ignore_ascii_case(b"https://") {
        8
    } else {
        return before;
    };
    match before[after_scheme..].find('/') {
        Some(index) => &before[after_scheme + index..],
        None => "/",
    }
}

/// Iterates the `key=value` pairs of a query string (without its `?`).
///
/// Pairs are separated by `&`; empty pairs are skipped; a pair without `=` has an empty value.
pub fn query_pairs(query: &str) -> QueryPairs<'_> {
    QueryPairs {
        rest: query,
        offset: 0,
        failed: false,
    }
}

/// Iterator over decoded query pairs; see [`query_pairs`]. Yields one error and then stops.
#[derive(Debug, Clone)]
pub struct QueryPairs<'a> {
    rest: &'a str,
    /// Offset of `rest` in the whole query string, for error offsets.
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = Result<(Cow<'a, str>, Cow<'a, str>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed && !self.rest.is_empty() {
            let (pair, rest, step) = match self.rest.find('&') {
                Some(index) => (&self.rest[..index], &self.rest[index + 1..], index + 1),
                None => (self.rest, "", self.rest.len()),
            };
            let pair_offset = self.offset;
            self.rest = rest;
            self.offset += step;
            if pair.is_empty() {
                continue;
            }
            let (key, value, value_offset) = match pair.find('=') {
                Some(index) => (&pair[..index], &pair[index + 1..], pair_offset + index + 1),
                None => (pair, "", pair_offset + pair.len()),
            };
            let decoded = decode_at(key, pair_offset)
                .and_then(|key| decode_at(value, value_offset).map(|value| (key, value)));
            self.failed = decoded.is_err();
            return Some(decoded);
        }
        None
    }
}

/// Percent-decodes `input`, reading `+` as a space when `plus_as_space` (form encoding).
///
/// Borrows when there is nothing to decode. A `%` not followed by two hex digits is
/// [`ErrorKind::InvalidPercentEncoding`]; decoded bytes that are not UTF-8 are
/// [`ErrorKind::InvalidQueryUtf8`] (reported at offset 0). Offsets count from the first byte
/// of `input`.
pub fn percent_decode(input: &str, plus_as_space: bool) -> Result<Cow<'_, str>, Error> {
    decode(input, plus_as_space, 0)
}

fn decode_at(input: &str, base_offset: usize) -> Result<Cow<'_, str>, Error> {
    decode(input, true, base_offset)
}

fn decode(input: &str, plus_as_space: bool, base_offset: usize) -> Result<Cow<'_, str>, Error> {
    let bytes = input.as_bytes();
    let first_escape = bytes
        .iter()
        .position(|byte| *byte == b'%' || (plus_as_space && *byte == b'+'));
    let Some(first_escape) = first_escape else {
        return Ok(Cow::Borrowed(input));
    };
    let mut decoded = Vec::with_capacity(bytes.len());
    decoded.extend_from_slice(&bytes[..first_escape]);
    let mut index = first_escape;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let high = bytes.get(index + 1).and_then(|byte| hex_value(*byte));
                let low = bytes.get(index + 2).and_then(|byte| hex_value(*byte));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(Error::at(
                        ErrorKind::InvalidPercentEncoding,
                        base_offset + index,
                    ));
                };
                decoded.push(high << 4 | low);
                index += 3;
            }
            b'+' if plus_as_space => {
                decoded.push(b' ');
                index += 1;
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    // The offset is the component's: decoded positions do not map back to input bytes simply.
    String::from_utf8(decoded)
        .map(Cow::Owned)
        .map_err(|_| Error::at(ErrorKind::InvalidQueryUtf8, base_offset))
}

fn hex_value(byte: u8) -> Option<u8> {
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

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(query)
            .map(|pair| {
                pair.map(|(key, value)| (key.into_owned(), value.into_owned()))
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn split_target_separates_path_and_query() {
        assert_eq!(split_target("/"), ("/", None));
        assert_eq!(split_target("/?"), ("/", Some("")));
        assert_eq!(split_target("/ping"), ("/ping", None));
        assert_eq!(
            split_target("/?query=SELECT%201"),
            ("/", Some("query=SELECT%201"))
        );
        assert_eq!(split_target("/a?b?c"), ("/a", Some("b?c")));
        assert_eq!(split_target("/a?b#frag"), ("/a", Some("b")));
        assert_eq!(split_target("*"), ("*", None));
    }

    #[test]
    fn split_target_handles_absolute_form() {
        assert_eq!(
            split_target("http://host:8123/ping?x=1"),
            ("/ping", Some("x=1"))
        );
        assert_eq!(split_target("HTTPS://host"), ("/", None));
        assert_eq!(split_target("http://host?q"), ("/", Some("q")));
    }

    #[test]
    fn pairs_decode_percent_and_plus() {
        assert_eq!(
            pairs("query=SELECT+1%2C%202&database=default&flag&&=v"),
            vec![
                ("query".into(), "SELECT 1, 2".into()),
                ("database".into(), "default".into()),
                ("flag".into(), "".into()),
                ("".into(), "v".into()),
            ]
        );
        assert_eq!(pairs(""), vec![]);
        assert_eq!(pairs("a=b=c"), vec![("a".into(), "b=c".into())]);
        assert_eq!(
            pairs("caf%C3%A9=%E2%82%AC"),
            vec![("café".into(), "€".into())]
        );
    }

    #[test]
    fn pairs_borrow_when_nothing_is_escaped() {
        let mut iter = query_pairs("a=1&b=x%20y");
        let (key, value) = iter.next().unwrap().unwrap();
        assert!(matches!(key, Cow::Borrowed("a")) && matches!(value, Cow::Borrowed("1")));
        let (_, value) = iter.next().unwrap().unwrap();
        assert!(matches!(value, Cow::Owned(_)));
        assert!(iter.next().is_none());
    }

    #[test]
    fn invalid_escapes_are_errors_with_offsets() {
        for (query, offset) in [
            ("a=%", 2),
            ("a=%4", 2),
            ("a=%zz", 2),
            ("ok=1&b%g1=2", 6),
            ("x=%4%41", 2),
        ] {
            let error = query_pairs(query).find_map(Result::err).unwrap();
            assert_eq!(error.kind, ErrorKind::InvalidPercentEncoding, "{query}");
            assert_eq!(error.offset, offset, "{query}");
            assert_eq!(error.status(), 400);
        }
    }

    #[test]
    fn iteration_stops_after_an_error() {
        let results: Vec<_> = query_pairs("a=%&b=1").collect();
        assert_eq!(results.len(), 1);
        assert!(results[0].is_err());
    }

    #[test]
    fn non_utf8_after_decoding_is_an_error() {
        let error = percent_decode("ab%FF", false).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidQueryUtf8);
        assert_eq!(error.offset, 0);
        let error = query_pairs("a=1&b=%C3").find_map(Result::err).unwrap();
        assert_eq!((error.kind, error.offset), (ErrorKind::InvalidQueryUtf8, 6));
    }

    #[test]
    fn plus_is_literal_outside_form_decoding() {
        assert_eq!(percent_decode("a+b", false).unwrap(), "a+b");
        assert!(matches!(
            percent_decode("a+b", false).unwrap(),
            Cow::Borrowed(_)
        ));
        assert_eq!(percent_decode("a+b%2B", true).unwrap(), "a b+");
    }
}
