//! The AROBS TrackGPS simulator, served under `/arobs/api/...`. Follows
//! `shared/vendors/arobs-trackgps.md`: the platform has no user API, so its API users are
//! made "by hand" — by tests through [`Sandbox::arobs`], by `muster sandbox --arobs-users
//! FILE` — and the simulator serves only what `muster verify` reads:
//! - `POST /api/authentication/login?api-version=2.0`, form body (`username` = username or
//!   e-mail, `password`) → 200 token; a JSON or missing body → 400; a wrong password, an
//!   unknown, inactive or non-API user → 401. Exempt from the per-user limit.
//! - `GET /api/carriers/company-vehicles?api-version=2.0` with `Authorization: Bearer` →
//!   the user's vehicles in the data envelope; a bad or expired token → 401; a second call
//!   by the same user within 30 s → 429 with `Retry-After` and a failure envelope.
//!
//! Besides the core's counters it keeps `logins`, `logins_refused` and `data_calls`;
//! `created` stays 0.

mod accounts;
mod wire;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;

pub use accounts::{ApiUser, DATA_INTERVAL, TOKEN_LIFETIME, read_users};

use super::Sandbox;
use super::platform::{Platform, stat};
use accounts::Accounts;
use wire::{CompanyVehicle, Envelope, FailureReason, LoginRefusal, TokenReply};

/// Counter: logins answered with a token.
pub const LOGINS: &str = "logins";
/// Counter: logins answered 401.
pub const LOGINS_REFUSED: &str = "logins_refused";
/// Counter: data requests answered with a payload (429s and 401s not included).
pub const DATA_CALLS: &str = "data_calls";

#[derive(Clone)]
struct Sim {
    accounts: Arc<Accounts>,
    platform: Platform,
}

/// The AROBS simulator; paths are below its prefix (`/api/authentication/login`, ...).
/// Seeds the API users of the sandbox's options.
pub fn router(platform: Platform) -> Router {
    let accounts = Arc::new(Accounts::default());
    for user in &platform.options().arobs_users {
        // `read_users` checked them as `add` will; a refusal here can only be a duplicate
        // given twice in code, which the sandbox survives.
        if let Err(e) = accounts.add(user.clone()) {
            tracing::warn!("sandbox: AROBS user not added: {e}");
        }
    }
    platform.attach(accounts.clone());
    platform.declare(&[LOGINS, LOGINS_REFUSED, DATA_CALLS]);
    platform.set(stat::USERS, accounts.len() as u64);
    let sim = Sim { accounts, platform };
    Router::new()
        .route("/api/authentication/login", post(login))
        .route("/api/carriers/company-vehicles", get(company_vehicles))
        .with_state(sim)
}

/// Query parameters in order.
type Params = Vec<(String, String)>;

fn has_api_version(params: &Params) -> bool {
    params
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("api-version") && v.trim() == "2.0")
}

fn login_refusal(status: StatusCode, error: &'static str, description: &str) -> Response {
    let body = LoginRefusal {
        error,
        error_description: description.to_string(),
    };
    (status, Json(body)).into_response()
}

/// `POST /api/authentication/login?api-version=2.0`.
async fn login(
    State(sim): State<Sim>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !has_api_version(&params) {
        return login_refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the query parameter api-version=2.0 is required",
        );
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form {
        return login_refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be form data (application/x-www-form-urlencoded)",
        );
    }
    let mut username = None;
    let mut password = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "username" => username = Some(v.into_owned()),
            "password" => password = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(username), Some(password)) = (
        username.filter(|u| !u.trim().is_empty()),
        password.filter(|p| !p.is_empty()),
    ) else {
        return login_refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "username and password are required",
        );
    };
    match sim
        .accounts
        .login(&username, &password, tokio::time::Instant::now())
    {
        Ok(issued) => {
            sim.platform.bump(LOGINS);
            let reply = TokenReply {
                access_token: issued.access_token,
                expires_in: TOKEN_LIFETIME.as_secs(),
                token_type: "Bearer",
                refresh_token: issued.refresh_token,
                scope: wire::SCOPE,
            };
            (StatusCode::OK, Json(reply)).into_response()
        }
        // One answer for every reason, as the platform gives: it does not say which.
        Err(_) => {
            sim.platform.bump(LOGINS_REFUSED);
            login_refusal(
                StatusCode::UNAUTHORIZED,
                "invalid_grant",
                "invalid_username_or_password",
            )
        }
    }
}

fn correlation_id() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A data endpoint's failure: the envelope with `isSuccess: false` and one reason.
fn failure(status: StatusCode, code: &str, parameters: &[&str]) -> Response {
    let body: Envelope<Vec<CompanyVehicle>> = Envelope {
        payload: None,
        correlation_id: correlation_id(),
        failure_reasons: vec![FailureReason {
            error_code: code.to_string(),
            error_parameters: parameters.iter().map(|p| p.to_string()).collect(),
        }],
        is_success: false,
    };
    (status, Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn unauthorized() -> Response {
    let mut r = StatusCode::UNAUTHORIZED.into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    r
}

/// A stable UUID-shaped id for vehicle `id`.
fn vehicle_uid(id: i64) -> String {
    format!("5a1d0000-0000-4000-8000-{id:012}")
}

/// `GET /api/carriers/company-vehicles?api-version=2.0`.
async fn company_vehicles(
    State(sim): State<Sim>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let now = tokio::time::Instant::now();
    let Some(account) = bearer(&headers).and_then(|t| sim.accounts.session(t, now)) else {
        return unauthorized();
    };
    if !has_api_version(&params) {
        return failure(
            StatusCode::BAD_REQUEST,
            "ApiVersionUnspecified",
            &["api-version=2.0 is required"],
        );
    }
    if let Err(seconds) = sim.accounts.take_data_slot(account, now) {
        sim.platform.bump(stat::RATE_LIMITED);
        let mut r = failure(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            &["1 request per 30 seconds per user"],
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return r;
    }
    sim.platform.bump(DATA_CALLS);
    let payload = sim
        .accounts
        .vehicles(account)
        .into_iter()
        .map(|(id, registration)| CompanyVehicle {
            vehicle_id: id,
            vehicle_uid: vehicle_uid(id),
            vehicle_name: format!("Truck {id:02}"),
            vehicle_registration_number: registration,
        })
        .collect::<Vec<_>>();
    let body = Envelope {
        payload: Some(payload),
        correlation_id: correlation_id(),
        failure_reasons: Vec::new(),
        is_success: true,
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// The AROBS simulator as tests see it: add the API users an administrator made by hand.
#[derive(Clone)]
pub struct Arobs {
    accounts: Arc<Accounts>,
    platform: Platform,
}

impl Sandbox {
    /// The AROBS simulator's state.
    pub fn arobs(&self) -> Arobs {
        let platform = self
            .platform("arobs")
            .expect("the arobs simulator is mounted");
        let accounts = platform
            .state::<Accounts>()
            .expect("the arobs simulator attached its Accounts");
        Arobs { accounts, platform }
    }
}

impl Arobs {
    /// Adds an API user as if made in the web app before the run (counts nothing as
    /// created). `Err` names the problem: an empty or taken username, a taken e-mail, or a
    /// vehicle not in [`crate::sandbox::seed::arobs_vehicles`].
    pub fn add_user(&self, user: ApiUser) -> Result<(), String> {
        let n = self.accounts.add(user)?;
        self.platform.set(stat::USERS, n as u64);
        Ok(())
    }

    /// Every access token issued since the start or the last reset (to prove none leaks).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.accounts.issued()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let cases = [
            (Some("Bearer abc"), Some("abc")),
            (Some("bearer  abc "), Some("abc")),
            (Some("Basic abc"), None),
            (Some("abc"), None),
            (None, None),
        ];
        for (value, want) in cases {
            let mut h = HeaderMap::new();
            if let Some(v) = value {
                h.insert(header::AUTHORIZATION, HeaderValue::from_static(v));
            }
            assert_eq!(bearer(&h), want, "{value:?}");
        }
    }

    #[test]
    fn api_version_must_be_two() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(has_api_version(&p("api-version", "2.0")));
        assert!(!has_api_version(&p("api-version", "1.0")));
        assert!(!has_api_version(&Vec::new()));
    }

    #[test]
    fn ids_look_like_the_platform_s() {
        let c = correlation_id();
        assert_eq!(
            c.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert_eq!(vehicle_uid(7), "5a1d0000-0000-4000-8000-000000000007");
    }
}
