//! Where credentials come from: the process environment, plus an overlay that the demo
//! and in-process tests use instead of mutating the process environment.

use std::collections::HashMap;
use std::sync::Arc;

/// The environment seen by one `run()`.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overlay: Arc<HashMap<String, String>>,
}

impl Env {
    /// The process environment only.
    pub fn process() -> Env {
        Env::default()
    }

    /// The process environment with `vars` taking precedence.
    pub fn with(vars: impl IntoIterator<Item = (String, String)>) -> Env {
        Env {
            overlay: Arc::new(vars.into_iter().collect()),
        }
    }

    /// The value of `var`, if set and not empty.
    pub fn get(&self, var: &str) -> Option<String> {
        self.overlay
            .get(var)
            .cloned()
            .or_else(|| std::env::var(var).ok())
            .filter(|v| !v.is_empty())
    }
}
