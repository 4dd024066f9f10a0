//! The SQL seam: `handle_query` answers `POST /` and `GET /?query=` (a stub for now).

use crate::ctx::CoreCtx;
use crate::router::{Request, Response};

/// Answers a ClickHouse HTTP query request.
///
/// The query text is the `query` parameter, then `"\n"` and the body when the parameter is
/// non-empty, else the body alone (`request.param("query")`, `request.body`). Use
/// `ctx.call(shard, ..)` / `ctx.call_all(..)` for per-shard fragments and appends, and
/// `Body::Stream` (`ChunkStream::channel`) for large results. Errors should use
/// `Response::clickhouse_error`; a failed mesh call maps with `Response::from_mesh_error`.
pub async fn handle_query(ctx: &CoreCtx, request: Request) -> Response {
    let _ = (ctx, request);
    Response::clickhouse_error(
        501,
        48,
        "NOT_IMPLEMENTED",
        "SQL queries are not implemented yet",
    )
}
