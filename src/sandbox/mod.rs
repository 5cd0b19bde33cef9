//! Loopback simulators of the five platforms, one port, path prefixes per vendor
//! (DESIGN "The sandbox"). Stateful, in memory, enforcing each contract in
//! `shared/vendors/*.md`. Shares no wire types with `vendors/`, so a misread contract is
//! caught, not mirrored.
//!
//! The core (`server`, `platform`, `limiter`) owns the port, the faults, each platform's
//! rate limit and counters; each simulator owns only its contract.
//!
//! Adding a simulator (`motive.rs`, ...): write `pub fn router(platform: Platform) ->
//! axum::Router` serving the paths below its prefix (`/v1/users` for `/motive/v1/users`),
//! then declare `pub mod motive;` and add `("motive", motive::router)` to `SIMULATORS`.
//! Before a request reaches the router the core has already counted it (`requests`,
//! `writes`) and applied the drop fault, the latency, the platform's own rate limit (429 +
//! `Retry-After`) and the error fault. The simulator itself:
//! - keeps its state in an `Arc<T: Reset>` handed to [`Platform::attach`], so
//!   `POST /_sandbox/reset` resets it and tests reach it with
//!   `sandbox.platform("motive")?.state::<T>()` (wrap that in an `impl Sandbox` accessor in
//!   its own file, as `traccar::Traccar` does);
//! - counts with [`Platform::bump`] (`stat::CREATED`, `stat::DUPLICATES_REFUSED`), keeps
//!   the `stat::USERS` gauge with [`Platform::set`], and declares its own counters with
//!   [`Platform::declare`] so they show at zero;
//! - passes the answer of every user creation through [`Platform::answer_create`], which
//!   applies the timeout fault (the user stays created, the answer is withheld).

pub mod arobs;
pub mod drtrack;
pub mod motive;
pub mod pegasus;
pub mod platform;
pub mod seed;
pub mod traccar;

mod limiter;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Rate;
use crate::model::VendorKind;

pub use platform::{Platform, Reset, stat};

/// A simulator: its routes below its prefix, given its share of the sandbox.
pub type Simulator = fn(Platform) -> Router;

/// The simulators served, as (vendor key = path prefix, router).
const SIMULATORS: &[(&str, Simulator)] = &[
    ("traccar", traccar::router),
    ("motive", motive::router),
    ("pegasus", pegasus::router),
    ("drtrack", drtrack::router),
    ("arobs", arobs::router),
];

/// Faults and limits of the simulated platforms.
#[derive(Debug, Clone)]
pub struct Options {
    /// Delay before every answer of a simulated platform.
    pub latency_ms: u64,
    /// Share of requests answered 500/503 without doing anything (0..=1).
    pub error_rate: f64,
    /// Share of creates done whose answer never comes (0..=1).
    pub timeout_rate: f64,
    /// Share of requests whose connection is closed before anything is done (0..=1).
    pub drop_rate: f64,
    /// Each simulated platform's own limit (token bucket, 429 with Retry-After).
    pub rate: Option<Rate>,
    /// DRTrack: a batch with an invalid operation applies nothing (true) or the valid ones.
    pub drtrack_atomic: bool,
    /// DRTrack: how long a token from `GET /auth` stays valid (default 24 h).
    pub drtrack_token_ttl: std::time::Duration,
    /// Seed for the fault dice; `None` rolls differently each run.
    pub seed: Option<u64>,
    /// Pegasus: token lifetime and the `/apps` limits per account.
    pub pegasus: pegasus::Settings,
    /// AROBS API users made "by hand" before the sandbox starts (`--arobs-users FILE`).
    pub arobs_users: Vec<arobs::ApiUser>,
    /// Users each simulated platform already holds when it starts (audit, upsert and sync
    /// tests): each simulator takes those of its own vendor and stores them its own way.
    pub platform_users: Vec<seed::PlatformSeed>,
    /// Writes whose path holds this text are answered `307` to another origin instead of
    /// reaching their simulator (the redirect tests: credentials must not follow).
    pub redirect: Option<Redirect>,
}

/// Answers some writes with a redirect to another origin (see [`Options::redirect`]).
#[derive(Debug, Clone)]
pub struct Redirect {
    /// A write (POST, PUT, PATCH, DELETE) whose path contains this is redirected.
    pub path_contains: String,
    /// The origin redirected to, `http://127.0.0.1:PORT`; the request's path is appended.
    pub to: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            latency_ms: 0,
            error_rate: 0.0,
            timeout_rate: 0.0,
            drop_rate: 0.0,
            rate: None,
            drtrack_atomic: true,
            drtrack_token_ttl: std::time::Duration::from_secs(24 * 3600),
            seed: None,
            pegasus: pegasus::Settings::default(),
            arobs_users: Vec::new(),
            platform_users: Vec::new(),
            redirect: None,
        }
    }
}

impl Options {
    /// Checks that every probability is within 0..=1; the message names the option.
    pub fn check(&self) -> Result<(), String> {
        for (name, p) in [
            ("error rate", self.error_rate),
            ("timeout rate", self.timeout_rate),
            ("drop rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} {p} is not a share between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// A running sandbox. Stop it with [`Sandbox::stop`]; dropping it stops it too, without
/// waiting.
pub struct Sandbox {
    /// The address it listens on.
    pub addr: SocketAddr,
    hub: Arc<server::Hub>,
    app: Router,
    shutdown: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `listen` (port 0 picks one) and serves on the current tokio runtime until
    /// stopped or dropped. Options out of range are an `InvalidInput` error.
    pub async fn start(listen: &str, options: Options) -> std::io::Result<Sandbox> {
        options
            .check()
            .map_err(|m| std::io::Error::new(std::io::ErrorKind::InvalidInput, m))?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let platforms: Vec<Platform> = SIMULATORS
            .iter()
            .map(|(key, _)| Platform::new(key, &options))
            .collect();
        let mut app = Router::new();
        for ((key, router), platform) in SIMULATORS.iter().zip(&platforms) {
            app = app.nest(&format!("/{key}"), router(platform.clone()));
        }
        let hub = Arc::new(server::Hub { platforms });
        let app = app.merge(server::control_routes(hub.clone()));
        let (shutdown, stop) = watch::channel(false);
        let server = tokio::spawn(server::serve(
            listener,
            hub.clone(),
            app.clone(),
            server::Shutdown(stop),
        ));
        Ok(Sandbox {
            addr,
            hub,
            app,
            shutdown,
            server: Some(server),
        })
    }

    /// Closes the port as [`Sandbox::stop`] does (requests in flight finish, withheld
    /// answers are abandoned) but keeps every platform's state and counters, so
    /// [`Sandbox::resume`] serves the same platforms again: a platform that goes away
    /// mid-run and comes back.
    pub async fn stop_listening(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Listens again on the same address after [`Sandbox::stop_listening`], with the state
    /// it had; does nothing when already listening.
    pub async fn resume(&mut self) -> std::io::Result<()> {
        if self.server.is_some() {
            return Ok(());
        }
        let listener = tokio::net::TcpListener::bind(self.addr).await?;
        let (shutdown, stop) = watch::channel(false);
        self.shutdown = shutdown;
        self.server = Some(tokio::spawn(server::serve(
            listener,
            self.hub.clone(),
            self.app.clone(),
            server::Shutdown(stop),
        )));
        Ok(())
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counters `GET /_sandbox/stats` serves: `{ vendor key: { counter: n } }`.
    pub fn stats(&self) -> serde_json::Value {
        self.hub.stats()
    }

    /// The platform served under `/{key}`, to read its counters or reach its state.
    pub fn platform(&self, key: &str) -> Option<Platform> {
        self.hub.platform(key).cloned()
    }

    /// Stops accepting, lets requests in flight finish (a couple of seconds at most;
    /// withheld answers are abandoned), and returns when the port is closed.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// A muster.toml with one target per vendor, named by its vendor key, pointing at
    /// this sandbox. Credentials are the variables of [`Sandbox::credentials`].
    pub fn config_toml(&self) -> String {
        let base = self.url();
        let mut out = format!(
            "# muster.toml for the sandbox at {base} (written by `muster sandbox`).\n\
             # Export the SANDBOX_* variables `muster sandbox` prints; they hold sandbox-only values.\n"
        );
        for vendor in VendorKind::ALL {
            let key = vendor.key();
            let (path, credentials) = match vendor {
                VendorKind::Traccar => ("traccar/api", "token_env = \"SANDBOX_TRACCAR_TOKEN\"\n"),
                VendorKind::Motive => ("motive/v1", "api_key_env = \"SANDBOX_MOTIVE_API_KEY\"\n"),
                VendorKind::Pegasus => (
                    "pegasus",
                    "username_env = \"SANDBOX_PEGASUS_USER\"\n\
                     password_env = \"SANDBOX_PEGASUS_PASSWORD\"\n",
                ),
                VendorKind::Drtrack => (
                    "drtrack/api/v1.0",
                    "username_env = \"SANDBOX_DRTRACK_USER\"\n\
                     password_env = \"SANDBOX_DRTRACK_PASSWORD\"\n\
                     app_name = \"sandbox\"\n",
                ),
                VendorKind::Arobs => ("arobs/api", ""),
            };
            out.push_str(&format!(
                "\n[target.{key}]\nvendor = \"{key}\"\nurl = \"{base}/{path}\"\n{credentials}\
                 rate = \"50/s\"\nburst = 10\nconcurrency = 8\ntimeout = \"5s\"\n"
            ));
        }
        out
    }

    /// The credentials the config's environment variables must hold.
    pub fn credentials() -> Vec<(String, String)> {
        seed::CREDENTIALS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_outside_zero_to_one_are_refused_by_name() {
        let cases = [
            (
                Options {
                    error_rate: 1.5,
                    ..Options::default()
                },
                Some("error rate 1.5 is not a share between 0 and 1"),
            ),
            (
                Options {
                    drop_rate: -0.1,
                    ..Options::default()
                },
                Some("drop rate -0.1 is not a share between 0 and 1"),
            ),
            (
                Options {
                    timeout_rate: f64::NAN,
                    ..Options::default()
                },
                Some("timeout rate NaN is not a share between 0 and 1"),
            ),
            (
                Options {
                    error_rate: 1.0,
                    drop_rate: 0.0,
                    ..Options::default()
                },
                None,
            ),
        ];
        for (options, want) in cases {
            assert_eq!(options.check().err().as_deref(), want);
        }
    }

    #[test]
    fn every_simulator_key_is_a_vendor_key() {
        for (key, _) in SIMULATORS {
            assert!(VendorKind::from_key(key).is_some(), "{key}");
        }
    }
}
