//! Query parameters: ClickHouse's server-side `{name:Type}` placeholders, bound from `param_<name>`
//! URL parameters or multipart form fields.
//!
//! Each placeholder outside string literals, quoted identifiers and comments is replaced by a
//! literal of its type before the query is parsed, so a value can never change the query's
//! structure: strings are quoted and escaped, numbers must parse as numbers, identifiers are
//! back-quoted. Values arrive in ClickHouse's escaped text form (`\t`, `\n`, `\\`, `\'`, and
//! `\N` for NULL), as clickhouse-connect and the Rust crate send them.

use std::collections::HashMap;

/// Largest number of placeholders in one query.
pub const PLACEHOLDERS_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(pub String);

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `query` with every `{name:Type}` replaced by the literal of `params[name]`.
pub fn substitute(query: &str, params: &HashMap<String, String>) -> Result<String, ParamError> {
    let b = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut copied = 0usize;
    let mut i = 0usize;
    let mut count = 0usize;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => i = skip_quoted(b, i, q),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2)
            }
            b'{' => {
                let Some((name, ty, end)) = placeholder(query, i) else {
                    i += 1;
                    continue;
                };
                count += 1;
                if count > PLACEHOLDERS_MAX {
                    return Err(ParamError(format!(
                        "more than {PLACEHOLDERS_MAX} query parameters"
                    )));
                }
                let value = params.get(name).ok_or_else(|| {
                    ParamError(format!(
                        "Substitution `{name}` is not set (send it as param_{name})"
                    ))
                })?;
                out.push_str(&query[copied..i]);
                out.push_str(&literal(name, ty, value)?);
                i = end;
                copied = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&query[copied..]);
    Ok(out)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The index after a quoted run that starts at `start` (backslash escapes and doubled quotes).
fn skip_quoted(b: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => {
                if b.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    b.len()
}

/// `{name:Type}` at `start`: (name, type, index after `}`). Anything else is not a placeholder
/// (a `{` may start other syntax, such as a JSON-ish map literal), and is left alone.
fn placeholder(query: &str, start: usize) -> Option<(&str, &str, usize)> {
    let close = start + query[start..].find('}')?;
    let inner = &query[start + 1..close];
    let (name, ty) = inner.split_once(':')?;
    let (name, ty) = (name.trim(), ty.trim());
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            && !s.as_bytes()[0].is_ascii_digit()
    };
    if !ident(name) || ty.is_empty() || ty.contains(['{', '}', ';']) {
        return None;
    }
    Some((name, ty, close + 1))
}

/// Undoes ClickHouse's escaped text form; `None` is `\N` (NULL).
fn unescape(v: &str) -> Option<String> {
    if v == "\\N" {
        return None;
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Some(out)
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The SQL literal for `value` of ClickHouse type `ty`.
fn literal(name: &str, ty: &str, value: &str) -> Result<String, ParamError> {
    let bad = |what: &str| {
        ParamError(format!(
            "Cannot parse value '{value}' of parameter {name} as {ty}: {what}"
        ))
    };
    let (nullable, base) = match strip_wrapper(ty, "Nullable") {
        Some(inner) => (true, inner),
        None => (false, ty),
    };
    let base = strip_wrapper(base, "LowCardinality").unwrap_or(base);
    let Some(v) = unescape(value) else {
        return if nullable {
            Ok("NULL".into())
        } else {
            Err(bad("NULL for a type that is not Nullable"))
        };
    };
    let head = base.split('(').next().unwrap_or(base).trim();
    match head {
        "String" | "FixedString" | "UUID" | "IPv4" | "IPv6" | "Enum8" | "Enum16" => Ok(quote(&v)),
        "Identifier" => {
            if v.is_empty() || v.contains('`') {
                return Err(bad("not an identifier"));
            }
            Ok(format!("`{v}`"))
        }
        "Bool" | "Boolean" => match v.to_ascii_lowercase().as_str() {
            "1" | "true" => Ok("true".into()),
            "0" | "false" => Ok("false".into()),
            _ => Err(bad("not a boolean")),
        },
        h if h.starts_with("Int") || h.starts_with("UInt") => {
            let t = v.trim();
            let ok = if h.starts_with('U') {
                t.parse::<u64>().is_ok()
            } else {
                t.parse::<i64>().is_ok()
            };
            if !ok {
                return Err(bad("not an integer of that range"));
            }
            Ok(format!("CAST({t} AS {base})"))
        }
        "Float32" | "Float64" | "Double" | "Decimal" | "Decimal32" | "Decimal64" => {
            let t = v.trim();
            let f: f64 = t.parse().map_err(|_| bad("not a number"))?;
            if f.is_nan() {
                return Ok("nan".into());
            }
            if f.is_infinite() {
                return Ok(if f > 0.0 { "inf" } else { "-inf" }.into());
            }
            Ok(format!("CAST({t} AS Float64)"))
        }
        "DateTime" | "DateTime64" | "Date" | "Date32" => {
            // Integer seconds (DateTime) are accepted as ClickHouse does; anything else must be
            // a date-time string, converted by the same parser as a literal in SQL.
            let t = v.trim();
            if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()) && head == "DateTime" {
                return Ok(format!("toDateTime({t})"));
            }
            Ok(format!("CAST({} AS {base})", quote(t)))
        }
        _ => Err(ParamError(format!(
            "Query parameter {name} has type {ty}, which Ronto does not bind (String, \
             integers, floats, Bool, Date/DateTime/DateTime64, Identifier and their \
             Nullable/LowCardinality forms are)"
        ))),
    }
}

/// `inner` of `Wrapper(inner)`.
fn strip_wrapper<'a>(ty: &'a str, wrapper: &str) -> Option<&'a str> {
    ty.strip_prefix(wrapper)?
        .trim_start()
        .strip_prefix('(')?
        .strip_suffix(')')
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn binds_each_type_as_a_literal() {
        let params = p(&[
            ("sym", "AA'PL\\tx"),
            ("n", "42"),
            ("x", "1.5"),
            ("b", "true"),
            ("t", "2024-01-02 03:04:05.123"),
            ("none", "\\N"),
            ("tbl", "trades"),
        ]);
        let q = "SELECT * FROM {tbl:Identifier} WHERE symbol = {sym:String} AND n < {n:UInt32} \
                 AND x > {x: Float64} AND b = {b:Bool} AND t >= {t:DateTime64(3)} \
                 AND y = {none:Nullable(Int64)}";
        assert_eq!(
            substitute(q, &params).unwrap(),
            "SELECT * FROM `trades` WHERE symbol = 'AA\\'PL\tx' AND n < CAST(42 AS UInt32) \
             AND x > CAST(1.5 AS Float64) AND b = true AND t >= \
             CAST('2024-01-02 03:04:05.123' AS DateTime64(3)) AND y = NULL"
        );
    }

    #[test]
    fn placeholders_inside_strings_and_comments_are_text() {
        let params = p(&[("a", "1")]);
        let q = "SELECT '{a:UInt8}', `{a:UInt8}` -- {a:UInt8}\n/* {a:UInt8} */ + {a:UInt8}";
        assert_eq!(
            substitute(q, &params).unwrap(),
            "SELECT '{a:UInt8}', `{a:UInt8}` -- {a:UInt8}\n/* {a:UInt8} */ + CAST(1 AS UInt8)"
        );
    }

    #[test]
    fn values_cannot_change_the_query() {
        let params = p(&[("s", "x' OR '1'='1"), ("n", "1 OR 1=1"), ("id", "a`; DROP")]);
        assert_eq!(
            substitute("SELECT {s:String}", &params).unwrap(),
            "SELECT 'x\\' OR \\'1\\'=\\'1'"
        );
        assert!(substitute("SELECT {n:Int64}", &params).is_err());
        assert!(substitute("SELECT {n:Float64}", &params).is_err());
        assert!(substitute("SELECT 1 FROM {id:Identifier}", &params).is_err());
    }

    #[test]
    fn missing_null_and_unsupported_are_errors() {
        let params = p(&[("v", "\\N"), ("a", "[1,2]")]);
        let e = substitute("SELECT {missing:String}", &params).unwrap_err();
        assert!(e.0.contains("missing"), "{e}");
        assert!(substitute("SELECT {v:Int64}", &params).is_err());
        assert!(substitute("SELECT {a:Array(Int64)}", &params).is_err());
        // Not placeholders: left alone.
        assert_eq!(substitute("SELECT {}", &params).unwrap(), "SELECT {}");
        assert_eq!(substitute("SELECT {1:x}", &params).unwrap(), "SELECT {1:x}");
    }
}
