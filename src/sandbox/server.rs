//! The sandbox's one loopback port: accepts connections, serves them with hyper so a
//! simulated fault can really close one, applies the faults and the rate limit of the
//! platform a path names (`/{vendor}/...`) before its simulator sees the request, and
//! serves `/_sandbox/*`, which is never faulted or limited. Knows no vendor's contract.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::platform::{self, Platform, Withheld, stat};

/// How long `stop` lets requests in flight finish before cutting them off.
const GRACE: Duration = Duration::from_secs(2);

/// Every platform the sandbox serves, by path prefix.
pub(crate) struct Hub {
    pub(crate) platforms: Vec<Platform>,
}

impl Hub {
    /// The platform whose key is `key`.
    pub(crate) fn platform(&self, key: &str) -> Option<&Platform> {
        self.platforms.iter().find(|p| p.key() == key)
    }

    /// `{ vendor: { counter: n } }`, what `GET /_sandbox/stats` serves.
    pub(crate) fn stats(&self) -> serde_json::Value {
        let map = self
            .platforms
            .iter()
            .map(|p| {
                let counters = p
                    .counters()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
                    .collect::<serde_json::Map<_, _>>();
                (p.key().to_string(), serde_json::Value::Object(counters))
            })
            .collect::<serde_json::Map<_, _>>();
        serde_json::Value::Object(map)
    }
}

/// Resolves when the sandbox is told to stop.
#[derive(Clone)]
pub(crate) struct Shutdown(pub(crate) watch::Receiver<bool>);

impl Shutdown {
    async fn wait(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Why a connection was closed without an answer.
#[derive(Debug, thiserror::Error)]
enum Aborted {
    #[error("connection dropped by the drop fault")]
    Dropped,
    #[error("withheld answer abandoned at shutdown")]
    Withheld,
}

/// `/_sandbox/*` beside the simulators' routers.
pub(crate) fn control_routes(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/_sandbox/stats", get(stats))
        .route("/_sandbox/reset", post(reset))
        .with_state(hub)
}

async fn stats(State(hub): State<Arc<Hub>>) -> impl IntoResponse {
    axum::Json(hub.stats())
}

async fn reset(State(hub): State<Arc<Hub>>) -> StatusCode {
    for p in &hub.platforms {
        p.reset();
    }
    StatusCode::NO_CONTENT
}

/// Accepts connections until `shutdown`, then lets requests in flight finish (at most
/// [`GRACE`]) and closes everything.
pub(crate) async fn serve(listener: TcpListener, hub: Arc<Hub>, app: Router, shutdown: Shutdown) {
    let mut connections = JoinSet::new();
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            _ = stop.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, hub.clone(), app.clone(), shutdown.clone()));
                }
                Err(err) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!("sandbox: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(GRACE, drained).await.is_err() {
        connections.abort_all();
    }
}

async fn connection(stream: TcpStream, hub: Arc<Hub>, app: Router, shutdown: Shutdown) {
    let _ = stream.set_nodelay(true);
    let app = TowerToHyperService::new(app);
    let held = shutdown.clone();
    let service =
        hyper::service::service_fn(move |req| handle(hub.clone(), app.clone(), held.clone(), req));
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut stop = shutdown;
    tokio::select! {
        // Errors here are the client's or a fault's doing; nothing to report.
        _ = conn.as_mut() => {}
        _ = stop.wait() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// One request: faults and limit of its platform, then its simulator.
async fn handle(
    hub: Arc<Hub>,
    app: TowerToHyperService<Router>,
    mut shutdown: Shutdown,
    req: Request<Incoming>,
) -> Result<Response, Aborted> {
    let key = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let Some(platform) = hub.platform(key).cloned() else {
        return Ok(call(&app, req).await);
    };
    platform.bump(stat::REQUESTS);
    if matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        platform.bump(stat::WRITES);
    }
    let options = platform.options();
    if let Some(to) = redirected(options, &req) {
        return Ok(redirect(&to));
    }
    if platform.roll(options.drop_rate) {
        platform.bump(stat::DROPS_INJECTED);
        platform.bump(stat::FAULTS_INJECTED);
        return Err(Aborted::Dropped);
    }
    if let Some(latency) = platform::latency(options) {
        tokio::time::sleep(latency).await;
    }
    if let Err(seconds) = platform.take_token() {
        platform.bump(stat::RATE_LIMITED);
        return Ok(too_many_requests(seconds));
    }
    if platform.roll(options.error_rate) {
        platform.bump(stat::ERRORS_INJECTED);
        platform.bump(stat::FAULTS_INJECTED);
        let status = if platform.coin() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return Ok(plain(status, status.canonical_reason().unwrap_or("error")));
    }
    let response = call(&app, req).await;
    if response.extensions().get::<Withheld>().is_some() {
        // The timeout fault: the work is done, the answer never comes. Hold the connection
        // until the client gives up (hyper then drops this future) or the sandbox stops.
        shutdown.wait().await;
        return Err(Aborted::Withheld);
    }
    Ok(response)
}

async fn call(app: &TowerToHyperService<Router>, req: Request<Incoming>) -> Response {
    use hyper::service::Service as _;
    match app.call(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Where a write is redirected to, when [`super::Options::redirect`] names its path.
fn redirected(options: &super::Options, req: &Request<Incoming>) -> Option<String> {
    let r = options.redirect.as_ref()?;
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let path = req.uri().path();
    (write && path.contains(&r.path_contains)).then(|| {
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("{}{path}{query}", r.to.trim_end_matches('/'))
    })
}

/// `307 Temporary Redirect` to `location` (method and body are to be kept).
fn redirect(location: &str) -> Response {
    let mut response = plain(StatusCode::TEMPORARY_REDIRECT, "Temporary Redirect");
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

fn too_many_requests(seconds: u64) -> Response {
    let mut response = plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
