//! `muster.toml`: one `[target.NAME]` per account on a platform (DESIGN "Configuration").
//!
//! Credentials are names of environment variables, never values. Everything that can be
//! checked without the network is checked here, before anything is read or sent.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::env::Env;
use crate::mapping::{Overrides, field_named};
use crate::model::{Field, VendorKind};
use crate::secret::Secret;

/// A config that cannot be used: exit 2, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config {path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "config {path} has keys muster cannot use; nothing was read or sent:\n{}",
        .problems.join("\n")
    )]
    Keys {
        path: PathBuf,
        /// One line each: `FILE:LINE:COLUMN: KEY: why`, never a value.
        problems: Vec<String>,
    },
    /// Several problems, one a line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
    #[error("target {target}: environment variable {var} (from {key}) is not set")]
    MissingEnv {
        target: String,
        key: String,
        var: String,
    },
}

/// The file as written.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    target: BTreeMap<String, RawTarget>,
    /// `"Header" = "field"` or `"ignore"` (DESIGN "Columns, defaults and the config's mapping").
    #[serde(default)]
    mapping: toml::Table,
    /// `[notify]`: a webhook told how each run ended (DESIGN "Ending a run").
    notify: Option<RawNotify>,
    /// The journal: a file, or `postgres://…` shared by a team (issue 26).
    journal: Option<String>,
    /// The environment variable holding the PostgreSQL journal's password (else
    /// `PGPASSWORD`).
    journal_password_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    webhook: String,
    notify_on: Option<String>,
}

/// The keys of the file's top level, `[target.NAME]` and `[notify]`: each unknown key is
/// reported with its line and column, all at once ([`check_keys`]). A test keeps these
/// lists the same as the serde types' fields.
const TOP_KEYS: &[&str] = &[
    "target",
    "mapping",
    "notify",
    "journal",
    "journal_password_env",
];
const TARGET_KEYS: &[&str] = &[
    "vendor",
    "url",
    "token_env",
    "api_key_env",
    "username_env",
    "password_env",
    "app_name",
    "rate",
    "burst",
    "concurrency",
    "timeout",
    "retries",
    "max_wait",
    "settle_wait",
    "max_body",
    "max_listing",
    "max_pages",
    "batch_size",
    "apps_rate",
    "apps_per_minute",
    "integration_name",
    "auth",
    "protect",
    "defaults",
    "values",
];
const NOTIFY_KEYS: &[&str] = &["webhook", "notify_on"];

/// Keys that hold a credential's value, and the `_env` key that names its variable instead.
const CREDENTIAL_KEYS: &[(&str, &str, &str)] = &[
    ("token", "token", "token_env"),
    ("api_key", "API key", "api_key_env"),
    ("apikey", "API key", "api_key_env"),
    ("key", "API key", "api_key_env"),
    ("secret", "secret", "token_env"),
    ("password", "password", "password_env"),
    ("pass", "password", "password_env"),
    ("username", "user name", "username_env"),
    ("user", "user name", "username_env"),
];

/// When to tell the webhook: only when a run did not fully succeed, or every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyOn {
    #[default]
    Failure,
    Always,
}

impl NotifyOn {
    pub const ALL: [NotifyOn; 2] = [NotifyOn::Failure, NotifyOn::Always];

    /// The word in muster.toml and on the command line.
    pub fn key(self) -> &'static str {
        match self {
            NotifyOn::Failure => "failure",
            NotifyOn::Always => "always",
        }
    }

    pub fn about(self) -> &'static str {
        match self {
            NotifyOn::Failure => "only when a row failed or was invalid, or drift was found",
            NotifyOn::Always => "at the end of every run",
        }
    }
}

/// `[notify]`: where a run's ending is posted.
#[derive(Debug, Clone)]
pub struct Notify {
    /// The incoming webhook's URL. It may hold a token of the chat service: it is never
    /// printed whole (see [`Notify::shown`]).
    pub webhook: String,
    pub on: NotifyOn,
}

impl Notify {
    /// The webhook as messages show it: scheme and host, never its path (a Slack or Teams
    /// webhook's path is its secret).
    pub fn shown(&self) -> String {
        match url::Url::parse(&self.webhook) {
            Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
            Err(_) => "the webhook".into(),
        }
    }
}

/// `byte` of `text` as `LINE:COLUMN`, both from 1.
fn position(text: &str, byte: usize) -> String {
    let before = &text[..byte.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{line}:{column}")
}

/// Every key of `text` muster does not know, with its line and column and the closest key,
/// and every credential written as a value (its value never shown): all at once. A file
/// that is not TOML is left to the parser's own message.
fn check_keys(text: &str, path: &Path) -> Vec<String> {
    use toml::de::{DeTable, DeValue};
    let Ok(doc) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let mut check = |key: &str, prefix: &str, start: usize, known: &[&str]| {
        if known.contains(&key) {
            return;
        }
        let at = format!(
            "{}:{}: {prefix}{key}",
            path.display(),
            position(text, start)
        );
        let credential = CREDENTIAL_KEYS.iter().find(|(k, ..)| *k == key);
        problems.push(match credential {
            Some((_, what, env_key)) if prefix.starts_with("target.") => format!(
                "{at}: a credential written in the config (its value is not shown); put the {what} in an environment variable and name it with {env_key}"
            ),
            _ => format!(
                "{at}: unknown key{}",
                crate::suggest::did_you_mean(key, known.iter().copied())
            ),
        });
    };
    for (k, v) in doc.get_ref() {
        let key: &str = k.get_ref();
        check(key, "", k.span().start, TOP_KEYS);
        let DeValue::Table(table) = v.get_ref() else {
            continue;
        };
        match key {
            "target" => {
                for (name, t) in table {
                    let DeValue::Table(t) = t.get_ref() else {
                        continue;
                    };
                    let prefix = format!("target.{}.", name.get_ref());
                    for (k, _) in t {
                        check(k.get_ref(), &prefix, k.span().start, TARGET_KEYS);
                    }
                }
            }
            "notify" => {
                for (k, _) in table {
                    check(k.get_ref(), "notify.", k.span().start, NOTIFY_KEYS);
                }
            }
            _ => {}
        }
    }
    problems
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    vendor: String,
    url: Option<String>,
    token_env: Option<String>,
    api_key_env: Option<String>,
    username_env: Option<String>,
    password_env: Option<String>,
    app_name: Option<String>,
    rate: Option<String>,
    burst: Option<u32>,
    concurrency: Option<usize>,
    timeout: Option<toml::Value>,
    retries: Option<u32>,
    /// The longest Retry-After muster waits for (default 5 min); a longer one halts the
    /// target.
    max_wait: Option<toml::Value>,
    /// How long a create answered 2xx without an id is looked for (default 30 s).
    settle_wait: Option<toml::Value>,
    /// The most bytes of one reply muster reads (default 16 MiB): `"16 MiB"` or a count.
    max_body: Option<toml::Value>,
    /// The most bytes one listing reads over all its pages (default 1 GiB).
    max_listing: Option<toml::Value>,
    /// The most pages one listing reads (default 10,000).
    max_pages: Option<u64>,
    batch_size: Option<usize>,
    /// Pegasus: the `/apps` limit per user (default "5/s").
    apps_rate: Option<String>,
    /// Pegasus: the `/apps` limit per minute (default 20).
    apps_per_minute: Option<u32>,
    /// Motive: the integration name for external ids (default "muster").
    integration_name: Option<String>,
    /// Motive: whether the key is sent as `X-Api-Key` (default) or `Authorization: Bearer`.
    auth: Option<String>,
    /// Accounts muster never updates, deactivates or deletes (emails or logins).
    #[serde(default)]
    protect: Vec<String>,
    /// Field → the value a row of this target gets when its cell is empty or it has none.
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    /// Field → (roster value → the value the platform takes).
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

/// A request rate: `10/s`, `600/min`, or unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Unlimited,
    /// `count` requests per `per`.
    Every {
        count: NonZeroU32,
        per: Duration,
    },
}

impl Rate {
    /// Parses `10/s`, `10/sec`, `600/min`, `36000/h`, `none`, `unlimited`.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim().to_ascii_lowercase();
        if matches!(t.as_str(), "none" | "unlimited" | "off" | "0") {
            return Ok(Rate::Unlimited);
        }
        let (count, unit) = t
            .split_once('/')
            .ok_or_else(|| format!("\"{text}\" is not a rate like \"10/s\" or \"600/min\""))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\": \"{}\" is not a whole number", count.trim()))?;
        let count =
            NonZeroU32::new(count).ok_or_else(|| format!("\"{text}\": rate must be > 0"))?;
        let per = match unit.trim() {
            "s" | "sec" | "second" | "1s" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => {
                return Err(format!(
                    "\"{text}\": unknown unit \"{other}\" (use s, min or h)"
                ));
            }
        };
        Ok(Rate::Every { count, per })
    }

    /// Requests per second, `None` when unlimited.
    pub fn per_second(self) -> Option<f64> {
        match self {
            Rate::Unlimited => None,
            Rate::Every { count, per } => Some(count.get() as f64 / per.as_secs_f64()),
        }
    }
}

/// One resolved target: everything the stages need except credentials' values.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub vendor: VendorKind,
    pub url: String,
    pub token_env: Option<String>,
    pub api_key_env: Option<String>,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub app_name: Option<String>,
    pub rate: Rate,
    pub burst: NonZeroU32,
    pub concurrency: usize,
    pub timeout: Duration,
    pub retries: u32,
    /// The longest Retry-After the target waits for; a longer one halts it.
    pub max_wait: Duration,
    /// How long the engine keeps looking for a user whose create was answered 2xx without
    /// an id it could read (a list that lags), with growing pauses, before the row fails.
    pub settle_wait: Duration,
    /// The most bytes of one reply read; a longer reply is an error naming its endpoint.
    pub max_body: u64,
    /// The most bytes one listing (every page of it) reads.
    pub max_listing: u64,
    /// The most pages one listing reads.
    pub max_pages: u64,
    pub batch_size: usize,
    pub apps_rate: Rate,
    pub apps_per_minute: u32,
    pub integration_name: String,
    pub bearer: bool,
    /// `protect = [...]`: accounts (email or login, as [`crate::model::normalise_key`]
    /// makes them) that are never updated, deactivated or deleted, besides the account
    /// muster is logged in as.
    pub protect: Vec<String>,
    /// `[target.NAME.defaults]`: the value of a field for rows whose cell is empty or
    /// that have no such column.
    pub defaults: BTreeMap<Field, String>,
    /// `[target.NAME.values.FIELD]`: a roster value (matched ignoring case and spaces
    /// around it) → the value sent.
    pub values: BTreeMap<Field, Vec<(String, String)>>,
}

/// Credential values read from the environment for one target.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub token: Option<Secret>,
    pub username: Option<Secret>,
    pub password: Option<Secret>,
}

impl Target {
    /// A target with every default, for `vendor` at `url` (also used when no config is given).
    pub fn with_defaults(name: &str, vendor: VendorKind, url: &str) -> Target {
        Target {
            name: name.to_string(),
            vendor,
            url: url.to_string(),
            token_env: None,
            api_key_env: None,
            username_env: None,
            password_env: None,
            app_name: None,
            rate: Rate::parse("10/s").expect("default rate parses"),
            burst: NonZeroU32::new(5).expect("5 > 0"),
            concurrency: 8,
            timeout: Duration::from_secs(30),
            retries: 5,
            max_wait: Duration::from_secs(300),
            settle_wait: Duration::from_secs(30),
            max_body: DEFAULT_MAX_BODY,
            max_listing: DEFAULT_MAX_LISTING,
            max_pages: DEFAULT_MAX_PAGES,
            batch_size: 50,
            apps_rate: Rate::parse("5/s").expect("default apps rate parses"),
            apps_per_minute: 20,
            integration_name: "muster".into(),
            bearer: false,
            protect: Vec::new(),
            defaults: BTreeMap::new(),
            values: BTreeMap::new(),
        }
    }

    /// The environment variables this target's vendor needs, as (config key, variable).
    pub fn credential_vars(&self) -> Vec<(&'static str, Option<&str>)> {
        match self.vendor {
            VendorKind::Traccar => vec![("token_env", self.token_env.as_deref())],
            VendorKind::Motive => vec![(
                "api_key_env",
                self.api_key_env.as_deref().or(self.token_env.as_deref()),
            )],
            VendorKind::Pegasus | VendorKind::Drtrack => vec![
                ("username_env", self.username_env.as_deref()),
                ("password_env", self.password_env.as_deref()),
            ],
            VendorKind::Arobs => vec![],
        }
    }

    /// Reads this target's credentials from the environment. A missing variable is an
    /// error naming the key and the variable, never a value; every missing one is named.
    pub fn credentials(&self, env: &Env) -> Result<Credentials, ConfigError> {
        let mut missing = Vec::new();
        let mut read = |key: &str, var: Option<&str>| -> Option<Secret> {
            let found = var.and_then(|v| env.get(v)).map(Secret::new);
            if found.is_none() {
                missing.push(ConfigError::MissingEnv {
                    target: self.name.clone(),
                    key: key.to_string(),
                    var: var.unwrap_or("(none configured)").to_string(),
                });
            }
            found
        };
        let mut creds = Credentials::default();
        match self.vendor {
            VendorKind::Traccar => creds.token = read("token_env", self.token_env.as_deref()),
            VendorKind::Motive => {
                creds.token = read(
                    "api_key_env",
                    self.api_key_env.as_deref().or(self.token_env.as_deref()),
                )
            }
            VendorKind::Pegasus | VendorKind::Drtrack => {
                creds.username = read("username_env", self.username_env.as_deref());
                creds.password = read("password_env", self.password_env.as_deref());
            }
            VendorKind::Arobs => {}
        }
        match missing.len() {
            0 => Ok(creds),
            1 => Err(missing.remove(0)),
            _ => Err(ConfigError::Several(missing)),
        }
    }
}

/// The whole configuration: targets by name.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub targets: BTreeMap<String, Target>,
    /// `[mapping]`: header → field overrides (a `--mapping FILE` is laid on top).
    pub mapping: Overrides,
    /// `[notify]`, when the config has one.
    pub notify: Option<Notify>,
    /// `journal = "…"`: a file or a `postgres://` URL (never with a password).
    pub journal: Option<String>,
    /// `journal_password_env = "VAR"`: where the PostgreSQL journal's password is.
    pub journal_password_env: Option<String>,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and checks config text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let problems = check_keys(text, path);
        if !problems.is_empty() {
            return Err(ConfigError::Keys {
                path: path.to_path_buf(),
                problems,
            });
        }
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let mut targets = BTreeMap::new();
        // Every problem of every target at once.
        let mut problems: Vec<ConfigError> = Vec::new();
        macro_rules! take {
            ($e:expr) => {
                match $e {
                    Ok(v) => Some(v),
                    Err(e) => {
                        problems.push(e);
                        None
                    }
                }
            };
        }
        for (name, t) in raw.target {
            let key = |k: &str| format!("target.{name}.{k}");
            let vendor = take!(VendorKind::from_key(&t.vendor).ok_or_else(|| {
                invalid(
                    key("vendor"),
                    format!(
                        "unknown vendor \"{}\" (known: traccar, motive, pegasus, drtrack, arobs)",
                        t.vendor
                    ),
                )
            }));
            let url = t.url.clone().unwrap_or_default();
            if t.url.is_none() {
                problems.push(invalid(key("url"), "is required".into()));
            } else if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(invalid(
                    key("url"),
                    format!("\"{url}\" must start with http:// or https://"),
                ));
            } else if let Ok(parsed) = url::Url::parse(&url) {
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    // Never echoed: the userinfo may hold a password.
                    problems.push(invalid(
                        key("url"),
                        "holds credentials (user:password@); put them in environment variables named by token_env, api_key_env or username_env/password_env".into(),
                    ));
                }
            }
            // The rest of the target is checked with a stand-in vendor when its own is unknown.
            let vendor = vendor.unwrap_or(VendorKind::Traccar);
            let mut target = Target::with_defaults(&name, vendor, url.trim_end_matches('/'));
            target.token_env = t.token_env;
            target.api_key_env = t.api_key_env;
            target.username_env = t.username_env;
            target.password_env = t.password_env;
            target.app_name = t.app_name;
            if let Some(rate) = &t.rate {
                if let Some(v) = take!(Rate::parse(rate).map_err(|m| invalid(key("rate"), m))) {
                    target.rate = v;
                }
            }
            let count = |k: &str, n: u64, min: u64, max: u64| {
                if (min..=max).contains(&n) {
                    Ok(n)
                } else {
                    Err(invalid(key(k), format!("{n} is not from {min} to {max}")))
                }
            };
            if let Some(burst) = t.burst {
                if let Some(b) = take!(count("burst", burst.into(), 1, MAX_COUNT)) {
                    target.burst = NonZeroU32::new(b as u32).unwrap_or(target.burst);
                }
            }
            if let Some(c) = t.concurrency {
                if let Some(c) = take!(count("concurrency", c as u64, 1, MAX_CONCURRENCY)) {
                    target.concurrency = c as usize;
                }
            }
            if let Some(timeout) = &t.timeout {
                if let Some(v) =
                    take!(parse_duration(timeout).map_err(|m| invalid(key("timeout"), m)))
                {
                    target.timeout = v;
                }
            }
            if let Some(r) = t.retries {
                if let Some(r) = take!(count("retries", r.into(), 0, MAX_RETRIES)) {
                    target.retries = r as u32;
                }
            }
            if let Some(wait) = &t.max_wait {
                if let Some(v) =
                    take!(parse_duration(wait).map_err(|m| invalid(key("max_wait"), m)))
                {
                    target.max_wait = v;
                }
            }
            if let Some(wait) = &t.settle_wait {
                if let Some(v) =
                    take!(parse_duration(wait).map_err(|m| invalid(key("settle_wait"), m)))
                {
                    target.settle_wait = v;
                }
            }
            if let Some(v) = &t.max_body {
                if let Some(v) = take!(
                    parse_size(v, MIN_BODY, MAX_BODY).map_err(|m| invalid(key("max_body"), m))
                ) {
                    target.max_body = v;
                }
            }
            if let Some(v) = &t.max_listing {
                if let Some(v) = take!(
                    parse_size(v, MIN_BODY, MAX_LISTING)
                        .map_err(|m| invalid(key("max_listing"), m))
                ) {
                    target.max_listing = v;
                }
            }
            if let Some(n) = t.max_pages {
                if let Some(n) = take!(count("max_pages", n, 1, MAX_PAGES)) {
                    target.max_pages = n;
                }
            }
            if let Some(b) = t.batch_size {
                if let Some(b) = take!(count("batch_size", b as u64, 1, MAX_COUNT)) {
                    target.batch_size = b as usize;
                }
            }
            if let Some(rate) = &t.apps_rate {
                if let Some(v) = take!(Rate::parse(rate).map_err(|m| invalid(key("apps_rate"), m)))
                {
                    target.apps_rate = v;
                }
            }
            if let Some(n) = t.apps_per_minute {
                // 0: no per-minute limit.
                if let Some(n) = take!(count("apps_per_minute", n.into(), 0, MAX_COUNT)) {
                    target.apps_per_minute = n as u32;
                }
            }
            if let Some(n) = t.integration_name {
                target.integration_name = n;
            }
            if let Some(a) = &t.auth {
                match a.to_ascii_lowercase().as_str() {
                    "bearer" => target.bearer = true,
                    "x-api-key" | "api-key" | "basic" => target.bearer = false,
                    _ => problems.push(invalid(
                        key("auth"),
                        format!("\"{a}\" is not one of bearer, x-api-key, basic"),
                    )),
                }
            }
            if let Some(p) = take!(protect_list(&t.protect).map_err(|m| invalid(key("protect"), m)))
            {
                target.protect = p;
            }
            for (field, value) in t.defaults {
                match field_named(&field) {
                    Some(f) => {
                        target.defaults.insert(f, value);
                    }
                    None => problems.push(invalid(
                        key(&format!("defaults.{field}")),
                        "is not a field (see muster fields)".into(),
                    )),
                }
            }
            for (field, table) in t.values {
                match field_named(&field) {
                    Some(f) => {
                        target.values.insert(f, table.into_iter().collect());
                    }
                    None => problems.push(invalid(
                        key(&format!("values.{field}")),
                        "is not a field (see muster fields)".into(),
                    )),
                }
            }
            targets.insert(name, target);
        }
        let mapping =
            take!(Overrides::from_table(&raw.mapping).map_err(|m| invalid("mapping".into(), m)))
                .unwrap_or_default();
        let notify_of = || -> Result<Option<Notify>, ConfigError> {
            Ok(match raw.notify {
                None => None,
                Some(n) => {
                    let webhook = n.webhook.trim().to_string();
                    match url::Url::parse(&webhook) {
                        Ok(u) if matches!(u.scheme(), "http" | "https") => {
                            if !u.username().is_empty() || u.password().is_some() {
                                return Err(invalid(
                                    "notify.webhook".into(),
                                    "holds credentials (user:password@)".into(),
                                ));
                            }
                        }
                        // Never echoed: a webhook's URL is its secret.
                        _ => {
                            return Err(invalid(
                                "notify.webhook".into(),
                                "is not an http:// or https:// URL".into(),
                            ));
                        }
                    }
                    let on = match n.notify_on.as_deref() {
                        None => NotifyOn::default(),
                        Some(word) => NotifyOn::ALL
                            .into_iter()
                            .find(|o| o.key().eq_ignore_ascii_case(word.trim()))
                            .ok_or_else(|| {
                                invalid(
                                    "notify.notify_on".into(),
                                    format!("\"{word}\" is not one of failure, always"),
                                )
                            })?,
                    };
                    Some(Notify { webhook, on })
                }
            })
        };
        if let Some(j) = &raw.journal
            && let Ok(u) = url::Url::parse(j.trim())
            && u.password().is_some()
        {
            // Never echoed: the file would hold the database's password.
            problems.push(invalid(
                "journal".into(),
                "holds a password (user:password@); the password comes from the environment: PGPASSWORD, or the variable journal_password_env names".into(),
            ));
        }
        let notify = take!(notify_of()).flatten();
        if !problems.is_empty() {
            return Err(if problems.len() == 1 {
                problems.remove(0)
            } else {
                ConfigError::Several(problems)
            });
        }
        Ok(Config {
            path: Some(path.to_path_buf()),
            targets,
            mapping,
            notify,
            journal: raw.journal.map(|j| j.trim().to_string()),
            journal_password_env: raw.journal_password_env,
        })
    }

    /// The target named `name`; without a config, a vendor key names that vendor
    /// (validation only, DESIGN "Configuration").
    pub fn target(&self, name: &str) -> Option<Target> {
        if let Some(t) = self.targets.get(name) {
            return Some(t.clone());
        }
        if let Some(t) = self
            .targets
            .values()
            .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
        {
            return Some(t.clone());
        }
        if self.path.is_none() {
            let vendor = VendorKind::from_key(name)?;
            return Some(Target::with_defaults(vendor.key(), vendor, ""));
        }
        None
    }
}

/// The most a count may be (`burst`, `batch_size`, `apps_per_minute`).
const MAX_COUNT: u64 = 100_000;
/// The most requests a target may have in flight.
const MAX_CONCURRENCY: u64 = 1_024;
/// The most retries of one request.
const MAX_RETRIES: u64 = 100;
/// The longest a timeout may be: an hour.
const MAX_TIMEOUT: Duration = Duration::from_secs(3_600);

/// The default `max_body`: 16 MiB (issue 25: eight 300 MB replies in flight took 2.9 GB).
pub const DEFAULT_MAX_BODY: u64 = 16 << 20;
/// The default `max_listing`: 1 GiB of JSON over a listing's pages (about two million
/// Traccar users as the sandbox lists them).
pub const DEFAULT_MAX_LISTING: u64 = 1 << 30;
/// The default `max_pages` (Motive lists 100 users a page: a million users).
pub const DEFAULT_MAX_PAGES: u64 = 10_000;
/// The smallest `max_body` or `max_listing`: 1 KiB.
const MIN_BODY: u64 = 1 << 10;
/// The largest `max_body`: 4 GiB.
const MAX_BODY: u64 = 4 << 30;
/// The largest `max_listing`: 64 GiB.
const MAX_LISTING: u64 = 64 << 30;
/// The largest `max_pages`.
const MAX_PAGES: u64 = 10_000_000;

/// A size in bytes: a count (`16777216`) or a number with a unit (`"16 MiB"`, `"512KiB"`,
/// `"1 GiB"`, `"10 MB"`, `"100 kB"`, `"300 B"`), from `min` to `max`.
pub fn parse_size(value: &toml::Value, min: u64, max: u64) -> Result<u64, String> {
    let bounded = |bytes: f64, shown: &dyn std::fmt::Display| {
        if !(bytes >= min as f64 && bytes <= max as f64) {
            return Err(format!(
                "{shown} is not a size from {} to {}",
                show_size(min),
                show_size(max)
            ));
        }
        Ok(bytes as u64)
    };
    match value {
        toml::Value::Integer(n) => bounded(*n as f64, n),
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "k" | "kb" => 1e3,
                "m" | "mb" => 1e6,
                "g" | "gb" => 1e9,
                "kib" => 1024.0,
                "mib" => 1048576.0,
                "gib" => 1073741824.0,
                _ => {
                    return Err(format!(
                        "\"{s}\" is not a size like \"16 MiB\" or a count of bytes"
                    ));
                }
            };
            let n: f64 = num.trim().parse().map_err(|_| {
                format!("\"{s}\" is not a size like \"16 MiB\" or a count of bytes")
            })?;
            bounded((n * mult).round(), &format_args!("\"{s}\""))
        }
        other => Err(format!("{other} is not a size like \"16 MiB\"")),
    }
}

/// A size as the config would say it: `16 MiB`, `1 GiB`, `1500 bytes`.
pub fn show_size(bytes: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if bytes >= size && bytes % size == 0 {
            return format!("{} {unit}", bytes / size);
        }
    }
    format!("{bytes} bytes")
}

/// The seconds `text` says: `30`, `30s`, `500ms`, `2m`, `2min`, `1h` (any number, even
/// negative or endless: the caller bounds it).
pub(crate) fn seconds_of(text: &str) -> Option<f64> {
    let text = text.trim();
    let (num, unit) = [
        ("ms", 0.001),
        ("min", 60.0),
        ("s", 1.0),
        ("m", 60.0),
        ("h", 3600.0),
    ]
    .iter()
    .find_map(|(suffix, unit)| text.strip_suffix(suffix).map(|n| (n, *unit)))
    .unwrap_or((text, 1.0));
    num.trim().parse::<f64>().ok().map(|n| n * unit)
}

/// `30`, `"30s"`, `"500ms"`, `"2m"`: positive, finite and at most [`MAX_TIMEOUT`].
/// `protect = [...]`: each entry an email or login, normalised as identity keys are
/// ([`crate::model::normalise_key`]); an empty entry, one with spaces, commas or control
/// characters inside (two names in one string), is refused, naming it.
fn protect_list(entries: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for (n, entry) in entries.iter().enumerate() {
        let key = crate::model::normalise_key(entry);
        if key.is_empty() {
            return Err(format!("entry {} is empty (give an email or login)", n + 1));
        }
        if key
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ';')
        {
            return Err(format!(
                "entry {} \"{}\" is not one email or login (one account per entry)",
                n + 1,
                entry.escape_debug()
            ));
        }
        if !out.contains(&key) {
            out.push(key);
        }
    }
    Ok(out)
}

fn parse_duration(value: &toml::Value) -> Result<Duration, String> {
    let bounded = |secs: f64, shown: &dyn std::fmt::Display| {
        if !(secs > 0.0 && secs <= MAX_TIMEOUT.as_secs_f64()) {
            return Err(format!(
                "{shown} is not a duration from 1ms to {} s",
                MAX_TIMEOUT.as_secs()
            ));
        }
        Ok(Duration::from_secs_f64(secs).max(Duration::from_millis(1)))
    };
    match value {
        toml::Value::Integer(n) => bounded(*n as f64, n),
        toml::Value::Float(f) => bounded(*f, f),
        toml::Value::String(s) => {
            let s = s.trim();
            let n = seconds_of(s)
                .ok_or_else(|| format!("\"{s}\" is not a duration like \"30s\" or \"500ms\""))?;
            bounded(n, &format_args!("\"{s}\""))
        }
        other => Err(format!("{other} is not a duration like \"30s\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("muster.toml"))
    }

    #[test]
    fn the_mapping_defaults_and_value_tables_live_in_the_config() {
        let c = parse(
            r#"
            [mapping]
            "Kit" = "devices"
            "Notes" = "ignore"

            [target.dr]
            vendor = "drtrack"
            url = "https://dr.example"
            [target.dr.defaults]
            "user group" = "Driver"
            [target.dr.values.user_group]
            "Dispatch" = "Dispatcher"
            "#,
        )
        .unwrap();
        assert_eq!(c.mapping.by_header.get("kit"), Some(&Some(Field::Devices)));
        assert!(c.mapping.ignores("Notes"));
        let t = &c.targets["dr"];
        assert_eq!(
            t.defaults.get(&Field::UserGroup).map(String::as_str),
            Some("Driver")
        );
        assert_eq!(
            t.values[&Field::UserGroup],
            [("Dispatch".to_string(), "Dispatcher".to_string())]
        );
        // --mapping FILE wins over the config.
        let file = Overrides::from_table(&toml::from_str(r#""Kit" = "ignore""#).unwrap()).unwrap();
        assert!(c.mapping.clone().merged(file).ignores("Kit"));
    }

    #[test]
    fn a_bad_mapping_or_default_names_its_key() {
        for (text, want) in [
            (
                "[mapping]\n\"Kit\" = \"gadgets\"",
                "config muster.toml: mapping: \"Kit\" = \"gadgets\": gadgets is not a field",
            ),
            (
                "[target.dr]\nvendor = \"drtrack\"\nurl = \"https://x\"\n[target.dr.defaults]\ngadgets = \"1\"",
                "config muster.toml: target.dr.defaults.gadgets: is not a field (see muster fields)",
            ),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn protect_entries_are_normalised_and_checked() {
        let t = |list: &str| {
            parse(&format!(
                "[target.t]\nvendor = \"traccar\"\nurl = \"https://x\"\nprotect = {list}\n"
            ))
        };
        let c = t(r#"[" Svc@Fleet.Test ", "svc@fleet.test", "ops-bot"]"#).unwrap();
        assert_eq!(c.targets["t"].protect, ["svc@fleet.test", "ops-bot"]);
        assert!(t("[]").unwrap().targets["t"].protect.is_empty());
        for (list, want) in [
            (
                r#"["a@x.test", " "]"#,
                "config muster.toml: target.t.protect: entry 2 is empty (give an email or login)",
            ),
            (
                r#"["a@x.test, b@x.test"]"#,
                "config muster.toml: target.t.protect: entry 1 \"a@x.test, b@x.test\" is not one email or login (one account per entry)",
            ),
        ] {
            assert_eq!(t(list).unwrap_err().to_string(), want);
        }
        assert!(t(r#""a@x.test""#).is_err(), "a string, not a list");
    }

    #[test]
    fn rates_parse_per_second_and_per_minute() {
        assert_eq!(Rate::parse("10/s").unwrap().per_second(), Some(10.0));
        assert_eq!(Rate::parse("600/min").unwrap().per_second(), Some(10.0));
        assert_eq!(Rate::parse("none").unwrap(), Rate::Unlimited);
        assert!(Rate::parse("ten/s").is_err());
        assert!(Rate::parse("10/fortnight").is_err());
    }

    #[test]
    fn design_example_parses() {
        let c = parse(
            r#"
[target.powunity]
vendor = "traccar"
url = "https://iot.powunity.com/api"
token_env = "POWUNITY_TOKEN"
rate = "10/s"
burst = 5
concurrency = 8

[target.drtrack]
vendor = "drtrack"
url = "https://acme.drtrack.example/api/v1.0"
username_env = "DRTRACK_USER"
password_env = "DRTRACK_PASSWORD"
app_name = "acme"
timeout = "5s"
"#,
        )
        .unwrap();
        let t = &c.targets["powunity"];
        assert_eq!(t.vendor, VendorKind::Traccar);
        assert_eq!(t.concurrency, 8);
        assert_eq!(c.targets["drtrack"].timeout, Duration::from_secs(5));
    }

    #[test]
    fn unknown_vendor_names_the_key() {
        let err = parse("[target.x]\nvendor = \"samsara\"\nurl = \"http://h\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "config muster.toml: target.x.vendor: unknown vendor \"samsara\" (known: traccar, motive, pegasus, drtrack, arobs)"
        );
    }

    #[test]
    fn bad_rate_names_the_key() {
        let err = parse("[target.x]\nvendor = \"traccar\"\nurl = \"http://h\"\nrate = \"fast\"\n")
            .unwrap_err();
        assert!(err.to_string().contains("target.x.rate"), "{err}");
    }

    #[test]
    fn missing_env_names_variable_not_value() {
        let c = parse(
            "[target.p]\nvendor = \"traccar\"\nurl = \"http://h\"\ntoken_env = \"MUSTER_TEST_SURELY_UNSET\"\n",
        )
        .unwrap();
        let err = c.targets["p"].credentials(&Env::process()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target p: environment variable MUSTER_TEST_SURELY_UNSET (from token_env) is not set"
        );
    }

    #[test]
    fn every_bad_value_of_every_target_is_reported_at_once() {
        let err = parse(
            "[target.a]\nvendor = \"traccar\"\nurl = \"ftp://h\"\ntimeout = 0\nrate = \"fast\"\n\
             [target.b]\nvendor = \"tracar\"\nurl = \"http://h\"\nconcurrency = 0\nauth = \"magic\"\n\
             [target.b.defaults]\ncolour = \"red\"\n",
        )
        .expect_err("seven problems")
        .to_string();
        for key in [
            "target.a.url",
            "target.a.timeout",
            "target.a.rate",
            "target.b.vendor",
            "target.b.concurrency",
            "target.b.auth",
            "target.b.defaults.colour",
        ] {
            assert!(err.contains(key), "{key} missing from: {err}");
        }
        assert_eq!(err.lines().count(), 7, "{err}");
    }

    #[test]
    fn durations_and_counts_are_finite_positive_and_bounded() {
        let target = |extra: &str| {
            parse(&format!(
                "[target.x]\nvendor = \"traccar\"\nurl = \"http://h\"\n{extra}\n"
            ))
        };
        for (extra, key) in [
            ("timeout = inf", "target.x.timeout"),
            ("timeout = nan", "target.x.timeout"),
            ("timeout = \"nan\"", "target.x.timeout"),
            ("timeout = \"1e30s\"", "target.x.timeout"),
            ("timeout = -3", "target.x.timeout"),
            ("timeout = 0", "target.x.timeout"),
            ("timeout = \"2h\"", "target.x.timeout"),
            ("concurrency = 0", "target.x.concurrency"),
            ("concurrency = 100000000", "target.x.concurrency"),
            ("retries = 4000000000", "target.x.retries"),
            ("batch_size = 0", "target.x.batch_size"),
            ("burst = 0", "target.x.burst"),
            ("apps_per_minute = 200000", "target.x.apps_per_minute"),
            ("max_body = 0", "target.x.max_body"),
            ("max_body = \"100 TiB\"", "target.x.max_body"),
            ("max_body = \"5 GiB\"", "target.x.max_body"),
            ("max_body = \"nan MiB\"", "target.x.max_body"),
            ("max_body = -1", "target.x.max_body"),
            ("max_body = 1.5", "target.x.max_body"),
            ("max_listing = \"1e30 GiB\"", "target.x.max_listing"),
            ("max_pages = 0", "target.x.max_pages"),
        ] {
            let err = target(extra).expect_err(extra).to_string();
            assert!(err.contains(key), "{extra}: {err}");
        }
        let t = &target("timeout = \"500ms\"\nconcurrency = 32\nretries = 0")
            .unwrap()
            .targets["x"];
        assert_eq!(t.timeout, Duration::from_millis(500));
        assert_eq!((t.concurrency, t.retries), (32, 0));
        assert_eq!(
            (t.max_body, t.max_listing, t.max_pages),
            (16 << 20, 1 << 30, 10_000),
            "the defaults"
        );
        for (text, bytes) in [
            ("max_body = \"16 MiB\"", 16 << 20),
            ("max_body = \"512KiB\"", 512 << 10),
            ("max_body = \"10 MB\"", 10_000_000),
            ("max_body = 2048", 2048),
            ("max_body = \"1.5 MiB\"", 3 << 19),
        ] {
            assert_eq!(target(text).unwrap().targets["x"].max_body, bytes, "{text}");
        }
        let t = &target("max_listing = \"2 GiB\"\nmax_pages = 50")
            .unwrap()
            .targets["x"];
        assert_eq!((t.max_listing, t.max_pages), (2 << 30, 50));
        assert_eq!(show_size(16 << 20), "16 MiB");
        assert_eq!(show_size(1500), "1500 bytes");
    }

    #[test]
    fn credentials_in_a_url_are_refused_without_being_shown() {
        let err = parse(
            "[target.x]\nvendor = \"traccar\"\nurl = \"https://admin:hunter2@fleet.example/api\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("target.x.url: holds credentials"), "{err}");
        assert!(!err.contains("hunter2") && !err.contains("admin"), "{err}");
    }

    #[test]
    fn every_unknown_key_is_reported_at_once_with_its_place() {
        let err = parse(
            "[target.p]\nvendor = \"traccar\"\nurl = \"https://p.example\"\nconcurency = 4\ntoken = \"hunter2\"\n\n[target.m]\nvendor = \"motive\"\nurl = \"https://m.example\"\n  api_key = \"sk-live-1\"\nrat = \"1/s\"\n\n[notfy]\nwebhook = \"https://h.example\"\n",
        )
        .unwrap_err()
        .to_string();
        let want = "\
config muster.toml has keys muster cannot use; nothing was read or sent:
muster.toml:4:1: target.p.concurency: unknown key; did you mean concurrency?
muster.toml:5:1: target.p.token: a credential written in the config (its value is not shown); put the token in an environment variable and name it with token_env
muster.toml:10:3: target.m.api_key: a credential written in the config (its value is not shown); put the API key in an environment variable and name it with api_key_env
muster.toml:11:1: target.m.rat: unknown key; did you mean rate?
muster.toml:13:2: notfy: unknown key; did you mean notify?";
        // Keys come in the file's order within a table; tables sorted by name.
        let mut got: Vec<&str> = err.lines().collect();
        let mut wanted: Vec<&str> = want.lines().collect();
        got.sort();
        wanted.sort();
        assert_eq!(got, wanted, "{err}");
        assert!(
            !err.contains("hunter2") && !err.contains("sk-live"),
            "{err}"
        );
    }

    #[test]
    fn the_key_lists_are_the_serde_types_fields() {
        // deny_unknown_fields names every field it expects: the lists must say the same.
        let expected = |text: &str| {
            let e = toml::from_str::<RawConfig>(text).unwrap_err().to_string();
            // "unknown field `zzz`, expected one of `a`, `b`" or "expected `a` or `b`".
            let list = e.split(", expected ").nth(1).unwrap_or("").to_string();
            let mut names: Vec<String> = list
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect();
            names.sort();
            names
        };
        let sorted = |l: &[&str]| {
            let mut v: Vec<String> = l.iter().map(|s| s.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(expected("zzz = 1"), sorted(TOP_KEYS));
        assert_eq!(
            expected("[target.x]\nvendor = \"traccar\"\nzzz = 1"),
            sorted(TARGET_KEYS)
        );
        assert_eq!(
            expected("[notify]\nwebhook = \"https://h\"\nzzz = 1"),
            sorted(NOTIFY_KEYS)
        );
    }

    #[test]
    fn notify_takes_a_webhook_and_when() {
        let c = parse(
            "[notify]\nwebhook = \"https://hooks.example/T1/B2/secret\"\nnotify_on = \"always\"\n",
        )
        .unwrap();
        let n = c.notify.unwrap();
        assert_eq!(n.on, NotifyOn::Always);
        assert_eq!(n.shown(), "https://hooks.example/…");
        assert_eq!(parse("").unwrap().notify.map(|n| n.on), None);
        let err = parse("[notify]\nwebhook = \"hooks.example/T1/secret\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config muster.toml: notify.webhook: is not an http:// or https:// URL"
        );
        let err = parse("[notify]\nwebhook = \"https://h.example\"\nnotify_on = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("notify.notify_on"), "{err}");
    }

    #[test]
    fn without_config_a_vendor_key_is_a_target() {
        let c = Config::default();
        assert_eq!(c.target("motive").unwrap().vendor, VendorKind::Motive);
        assert!(c.target("nope").is_none());
    }
}
