//! `ronto-ping-baseline`: the smallest tokio/hyper server answering `GET /ping` with `Ok.\n`, the yardstick for Ronto's `/ping`.
//!
//! `ronto-ping-baseline --port P [--threads N]` listens on 127.0.0.1:P. Each of the N threads
//! runs its own current-thread tokio runtime, pinned to CPU i of the process's affinity set the
//! way `ronto serve --cores N` pins core i, and accepts from the one shared listening socket.
//! HTTP/1.1 keep-alive, no pipelining flush tricks, nothing else: any path other than `/ping`
//! gets 404. It runs until killed (SIGTERM ends it by default action).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

const USAGE: &str = "usage: ronto-ping-baseline --port PORT [--threads N]";

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = if request.uri().path() == "/ping" {
        (StatusCode::OK, Bytes::from_static(b"Ok.\n"))
    } else {
        (StatusCode::NOT_FOUND, Bytes::from_static(b"not found\n"))
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    Ok(response)
}

fn serve(listener: std::net::TcpListener) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                // Another thread took the connection, or a transient error (EMFILE): go on.
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    })
}

fn parse_args() -> Result<(u16, usize), String> {
    let mut port = None;
    let mut threads = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match a.as_str() {
            "--port" => {
                port = Some(
                    value("--port")?
                        .parse()
                        .map_err(|e| format!("--port: {e}"))?,
                )
            }
            "--threads" => {
                threads = value("--threads")?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    let port = port.ok_or(format!("--port is required\n{USAGE}"))?;
    if threads == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok((port, threads))
}

fn main() -> ExitCode {
    let (port, threads) = match parse_args() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ronto-ping-baseline: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ronto-ping-baseline: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let listener = match listener.try_clone().and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        }) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("ronto-ping-baseline: {e}");
                return ExitCode::FAILURE;
            }
        };
        let cpu = cpus.get(i).copied();
        handles.push(std::thread::spawn(move || {
            if let Some(cpu) = cpu {
                core_affinity::set_for_current(cpu);
            }
            serve(listener)
        }));
    }
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("ronto-ping-baseline: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => return ExitCode::FAILURE,
        }
    }
    ExitCode::SUCCESS
}
