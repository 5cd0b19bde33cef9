//! Loopback simulators of the five platforms, one port, path prefixes per vendor
//! (DESIGN "The sandbox"). Stateful, in memory, enforcing each contract in
//! `shared/vendors/*.md`. Shares no wire types with `vendors/`, so a misread contract is
//! caught, not mirrored.

pub mod drtrack;
pub mod seed;

use std::net::SocketAddr;

use crate::config::Rate;

/// Faults and limits of the simulated platforms.
#[derive(Debug, Clone)]
pub struct Options {
    pub latency_ms: u64,
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub drop_rate: f64,
    /// Each simulated platform's own limit (token bucket, 429 with Retry-After).
    pub rate: Option<Rate>,
    pub drtrack_atomic: bool,
    pub seed: Option<u64>,
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
            seed: None,
        }
    }
}

/// A running sandbox.
pub struct Sandbox {
    pub addr: SocketAddr,
}

impl Sandbox {
    /// Binds `listen` (port 0 picks one) and serves until dropped or stopped.
    pub async fn start(listen: &str, options: Options) -> std::io::Result<Sandbox> {
        let _ = options;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        Ok(Sandbox {
            addr: listener.local_addr()?,
        })
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counters `GET /_sandbox/stats` serves.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::json!({})
    }

    /// A muster.toml with one target per vendor pointing at this sandbox.
    pub fn config_toml(&self) -> String {
        String::new()
    }

    /// The credentials the config's environment variables must hold.
    pub fn credentials() -> Vec<(String, String)> {
        seed::CREDENTIALS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
