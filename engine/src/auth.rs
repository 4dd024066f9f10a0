//! Authentication: which configured user a request is, ClickHouse-style.
//!
//! With no `--user` configured every request is served (ClickHouse's `default` user without a
//! password). Otherwise a request names its user and password in one of the ways ClickHouse and
//! InfluxDB clients do, tried in this order: the `X-ClickHouse-User` / `X-ClickHouse-Key`
//! headers; `Authorization: Basic` (RFC 7617); `Authorization: Token NAME:PASSWORD` (InfluxDB 2
//! clients send their token so); the `user` / `password` URL parameters; InfluxDB 1's `u` / `p`
//! parameters. A request that names no user is `default` with an empty password. Liveness
//! endpoints (`/ping`, `/replicas_status`, `/health`, `/ready`, `GET /` without a query) need
//! none. A failure is ClickHouse's answer: 403, `Code: 516 ... (AUTHENTICATION_FAILED)`.

use crate::router::{Request, Response};

/// Whether `path` answers without credentials.
pub fn is_public(request: &Request) -> bool {
    match request.path.as_str() {
        "/ping" | "/replicas_status" | "/health" | "/ready" => true,
        "/" => request.param("query").is_none() && request.body.is_empty(),
        _ => false,
    }
}

/// `Ok` when `users` is empty or the request's credentials match one of them.
pub fn check(users: &[(String, String)], request: &Request) -> Result<(), Response> {
    if users.is_empty() || is_public(request) {
        return Ok(());
    }
    let (name, password) = credentials(request);
    let known = users
        .iter()
        .any(|(n, p)| n == &name && constant_time_eq(p.as_bytes(), password.as_bytes()));
    if known {
        return Ok(());
    }
    Err(Response::clickhouse_error(
        403,
        516,
        "AUTHENTICATION_FAILED",
        &format!(
            "{name}: Authentication failed: password is incorrect, or there is no user with such name"
        ),
    )
    .with_header("WWW-Authenticate", "Basic realm=\"ronto\""))
}

/// The (user, password) a request names; `("default", "")` when it names none.
fn credentials(r: &Request) -> (String, String) {
    if let Some(user) = r.header("x-clickhouse-user") {
        return (
            user.to_owned(),
            r.header("x-clickhouse-key").unwrap_or("").to_owned(),
        );
    }
    if let Some(auth) = r.header("authorization") {
        let (scheme, value) = auth.trim().split_once(' ').unwrap_or((auth, ""));
        let pair = if scheme.eq_ignore_ascii_case("basic") {
            base64_decode(value.trim()).and_then(|b| String::from_utf8(b).ok())
        } else if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
            Some(value.trim().to_owned())
        } else {
            None
        };
        if let Some((user, password)) = pair.as_deref().and_then(|p| p.split_once(':')) {
            return (user.to_owned(), password.to_owned());
        }
    }
    for (user_key, password_key) in [("user", "password"), ("u", "p")] {
        if let Some(user) = r.param(user_key) {
            return (
                user.to_owned(),
                r.param(password_key).unwrap_or("").to_owned(),
            );
        }
    }
    ("default".to_owned(), String::new())
}

/// Equal bytes, compared in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 with optional padding; `None` when malformed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.trim_end_matches('=').as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + produced]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_rfc4648_vectors() {
        for (text, want) in [
            ("", ""),
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
            ("YWxpY2U6czNjcjN0", "alice:s3cr3t"),
        ] {
            assert_eq!(base64_decode(text).unwrap(), want.as_bytes(), "{text}");
        }
        assert!(base64_decode("Zm9v!").is_none());
        assert!(base64_decode("Z").is_none());
    }

    #[test]
    fn equal_only_when_equal() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret!"));
    }
}
