//! Owned request and response types and the route table: which handler answers which path.
//!
//! The connection layer (`http.rs`) turns bytes into a [`Request`], calls [`route`], and writes
//! the [`Response`]; handlers never see sockets or framing. SQL lives behind
//! [`crate::query::handle_query`].

use std::net::SocketAddr;
use std::time::Instant;

use crate::body::Body;
use crate::ctx::CoreCtx;
use crate::mesh::MeshError;

/// The request method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Other(String),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Other(token) => token,
        }
    }
}

impl From<net::Method<'_>> for Method {
    fn from(method: net::Method<'_>) -> Method {
        match method {
            net::Method::Get => Method::Get,
            net::Method::Head => Method::Head,
            net::Method::Post => Method::Post,
            net::Method::Put => Method::Put,
            net::Method::Delete => Method::Delete,
            net::Method::Options => Method::Options,
            net::Method::Patch => Method::Patch,
            other => Method::Other(other.as_str().to_owned()),
        }
    }
}

/// One HTTP request, owned and fully read (the body is bounded by `max_body_bytes`).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Percent-encoded path as sent, without the query string (`/`, `/ping`).
    pub path: String,
    /// Query-string parameters, percent-decoded (`+` as space), in order; repeats kept.
    pub params: Vec<(String, String)>,
    /// Headers in order; names lowercased, values as text (non-UTF-8 bytes replaced).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `X-Request-Id` of the response: `<core>-<counter>`.
    pub request_id: String,
    pub peer: Option<SocketAddr>,
    /// When the first byte of the request arrived.
    pub received_at: Instant,
    /// An HTTP/1.0 request (its response is never chunked).
    pub http10: bool,
}

impl Request {
    /// A request with no headers or body, for tests and internal callers.
    pub fn new(method: Method, path: &str) -> Request {
        Request {
            method,
            path: path.to_owned(),
            params: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            request_id: String::new(),
            peer: None,
            received_at: Instant::now(),
            http10: false,
        }
    }

    /// The first header named `name` (give it in lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        debug_assert!(
            !name.bytes().any(|b| b.is_ascii_uppercase()),
            "header names are lowercase"
        );
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first query parameter named `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One HTTP response. The connection layer adds `Content-Length` or `Transfer-Encoding`,
/// `Connection` and `X-Request-Id`; handlers must not set those.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    pub fn new(status: u16, body: Body) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// A `text/plain` response.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::new(status, Body::Full(text.into().into_bytes()))
            .with_header("Content-Type", "text/plain; charset=UTF-8")
    }

    /// An `application/json` response.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Response::new(status, Body::Full(body))
            .with_header("Content-Type", "application/json; charset=UTF-8")
    }

    /// A ClickHouse-style error: body `Code: N. DB::Exception: <message>. (<NAME>) (version V)`
    /// and `X-ClickHouse-Exception-Code: N`.
    pub fn clickhouse_error(status: u16, code: u32, name: &str, message: &str) -> Response {
        let message = message.trim_end_matches('.');
        let body = format!(
            "Code: {code}. DB::Exception: {message}. ({name}) (version {})\n",
            crate::VERSION
        );
        Response::text(status, body).with_header("X-ClickHouse-Exception-Code", &code.to_string())
    }

    /// The answer to a failed mesh call: 503 with `Retry-After` when a shard is busy, else 500.
    pub fn from_mesh_error(error: &MeshError) -> Response {
        let status = error.http_status();
        let response = Response::text(status, format!("{error}\n"));
        if status == 503 {
            response.with_header("Retry-After", "1")
        } else {
            response
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The first header named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Answers one request. New endpoints are one match arm here and a handler function elsewhere.
pub async fn route(ctx: &CoreCtx, request: Request) -> Response {
    if let Err(refused) = crate::auth::check(&ctx.config().users, &request) {
        return refused;
    }
    let read_only = matches!(request.method, Method::Get | Method::Head);
    match request.path.as_str() {
        "/" if read_only && request.param("query").is_none() => ok_dot(),
        "/" if read_only || request.method == Method::Post => {
            crate::query::handle_query(ctx, request).await
        }
        "/ping" | "/replicas_status" if read_only => ok_dot(),
        "/stats" if read_only => crate::observe::stats(ctx).await,
        "/metrics" if read_only => crate::observe::metrics(ctx).await,
        "/write" | "/api/v1/write" | "/api/v2/write" | "/api/write" | "/api/write/"
            if request.method == Method::Post =>
        {
            crate::ingest::handle_write(ctx, request, crate::ingest::Kind::LineProtocol).await
        }
        "/write/v2/msgpack" | "/api/v1/write/msgpack" if request.method == Method::Post => {
            crate::ingest::handle_write(ctx, request, crate::ingest::Kind::MsgPack).await
        }
        "/write/json" if request.method == Method::Post => {
            crate::ingest::handle_write(ctx, request, crate::ingest::Kind::Json).await
        }
        "/health" if read_only => health(ctx),
        "/ready" if read_only => ready(ctx),
        "/" | "/ping" | "/replicas_status" | "/health" | "/ready" => Response::text(
            405,
            format!(
                "method {} not allowed on {}\n",
                request.method.as_str(),
                request.path
            ),
        )
        .with_header(
            "Allow",
            if request.path == "/" {
                "GET, HEAD, POST"
            } else {
                "GET, HEAD"
            },
        ),
        _ => Response::text(404, format!("no route for {}\n", request.path)),
    }
}

/// ClickHouse's health answer.
fn ok_dot() -> Response {
    Response::text(200, "Ok.\n")
}

/// Liveness: the process is up and serving.
fn health(ctx: &CoreCtx) -> Response {
    let value = serde_json::json!({
        "status": "ok",
        "version": crate::VERSION,
        "cores": ctx.cores(),
        "core": ctx.core(),
        "driver": ctx.driver(),
        "uptime_ms": ctx.uptime().as_millis() as u64,
    });
    Response::json(200, &value)
}

/// Readiness: every shard open and its WAL replayed, and not shutting down.
fn ready(ctx: &CoreCtx) -> Response {
    let ready = ctx.is_ready() && !ctx.is_shutting_down();
    let value = serde_json::json!({
        "ready": ready,
        "cores": ctx.cores(),
        "shutting_down": ctx.is_shutting_down(),
    });
    Response::json(if ready { 200 } else { 503 }, &value)
}
