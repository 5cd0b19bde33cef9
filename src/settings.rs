//! Settings resolved in one place: the command line's arguments, `muster.toml` (found the
//! same way by every command), the environment and the defaults, turned into the types the
//! stages take. Every default is decided here; no stage imports clap.
//!
//! Precedence: the command line, then the environment, then the config file, then the
//! default.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::cli::{ImportArgs, InputArgs};
use crate::config::{Config, Credentials, Target};
use crate::env::Env;
use crate::journal::lease::{self, Wait};
use crate::journal::{JournalAt, PgAt};
use crate::model::Mode;
use crate::secret::Secret;

/// The default journal, relative to the working directory.
pub const DEFAULT_JOURNAL: &str = ".muster/journal.db";

/// The configuration file every command looks for in the working directory.
pub const DEFAULT_CONFIG: &str = "muster.toml";

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "MUSTER_CONFIG";

/// The configuration file: `--config`, else the file `MUSTER_CONFIG` names, else
/// `./muster.toml` when there is one. The same for every command.
pub fn config_path(arg: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = arg {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.exists())
}

/// The configuration a command that reaches platforms needs: without one it cannot run.
pub fn config(arg: Option<&Path>, command: &str) -> anyhow::Result<Config> {
    match config_path(arg) {
        Some(path) => Ok(Config::load(&path)?),
        None => bail!(
            "{command} needs a configuration: --config FILE, {CONFIG_ENV}=FILE or ./{DEFAULT_CONFIG} (see README, or `muster sandbox --write-config {DEFAULT_CONFIG}`)"
        ),
    }
}

/// The configuration if there is one (found as by [`config`]), else none: `muster
/// validate` then takes a `target` value that is a vendor key as that vendor.
pub fn config_or_default(arg: Option<&Path>) -> anyhow::Result<Config> {
    match config_path(arg) {
        Some(path) => Ok(Config::load(&path)?),
        None => Ok(Config::default()),
    }
}

/// `--target NAME` must name a target of the config (or, without a config, a vendor
/// key): otherwise the run cannot do what was asked, and every row would be invalid.
pub fn check_target(config: &Config, name: Option<&str>) -> anyhow::Result<()> {
    let Some(name) = name else { return Ok(()) };
    if config.target(name).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = match &config.path {
        Some(_) => config.targets.keys().map(String::as_str).collect(),
        None => crate::model::VendorKind::ALL
            .iter()
            .map(|v| v.key())
            .collect(),
    };
    let place = match &config.path {
        Some(p) => format!("a target of {}", p.display()),
        None => "a vendor key (no config was found)".into(),
    };
    bail!(
        "--target {name}: is not {place}{} (known: {})",
        crate::suggest::did_you_mean(name, known.iter().copied()),
        if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        }
    )
}

/// Which rosters to read, and how: the reading stage's settings (from `InputArgs`).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub files: &'a [PathBuf],
    /// `--target`: every row goes to this target.
    pub target: Option<&'a str>,
    /// `--mapping`: header overrides laid over the config's `[mapping]`.
    pub mapping: Option<&'a Path>,
    /// `--sheet`: only these sheets are rosters.
    pub sheets: &'a [String],
}

impl<'a> From<&'a InputArgs> for Input<'a> {
    fn from(args: &'a InputArgs) -> Input<'a> {
        Input {
            files: &args.files,
            target: args.target.as_deref(),
            mapping: args.mapping.as_deref(),
            sheets: &args.sheet,
        }
    }
}

/// The environment variable naming the journal when `--journal` is not given.
pub const JOURNAL_ENV: &str = "MUSTER_JOURNAL";

/// Where a PostgreSQL journal's password is, unless `journal_password_env` names another.
pub const PG_PASSWORD_ENV: &str = "PGPASSWORD";

/// The journal: `--journal`, else `MUSTER_JOURNAL`, else the config's `journal`, else
/// [`DEFAULT_JOURNAL`]. A `postgres://` (or `postgresql://`) URL is the shared database;
/// its password comes from the URL given on the command line or in the environment (and
/// is then never shown), else the variable `journal_password_env` names, else
/// `PGPASSWORD`. The config's URL never holds one (`Config::parse` refuses it).
pub fn journal(arg: Option<&Path>, env: &Env, config: &Config) -> anyhow::Result<JournalAt> {
    let (text, from) = if let Some(p) = arg {
        (p.to_string_lossy().into_owned(), "--journal")
    } else if let Some(v) = env.get(JOURNAL_ENV) {
        (v, JOURNAL_ENV)
    } else if let Some(j) = &config.journal {
        (j.clone(), "the config's journal")
    } else {
        return Ok(JournalAt::File(PathBuf::from(DEFAULT_JOURNAL)));
    };
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Ok(JournalAt::File(PathBuf::from(text)));
    }
    // Never echoed: it may hold a password.
    let mut url = url::Url::parse(&text)
        .map_err(|e| anyhow::anyhow!("{from}: not a PostgreSQL URL ({e})"))?;
    let in_url = url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if in_url.is_some() {
        let _ = url.set_password(None);
    }
    let password = match (in_url, &config.journal_password_env) {
        (Some(p), _) => Some(p),
        (None, Some(var)) => Some(env.get(var).ok_or_else(|| {
            anyhow::anyhow!("journal_password_env names {var}, which is not set")
        })?),
        (None, None) => env.get(PG_PASSWORD_ENV),
    };
    Ok(JournalAt::Postgres(PgAt {
        url: url.to_string(),
        password: password.map(Secret::new),
    }))
}

/// The targets rows use, each with its credentials from the environment and its URL
/// checked. Every problem is found before the first is reported, and all are reported
/// at once: a run that cannot start says everything it needs.
pub fn connect<'a>(
    targets: impl IntoIterator<Item = &'a Target>,
    env: &Env,
    allow_insecure_http: bool,
) -> anyhow::Result<(BTreeMap<String, Target>, HashMap<String, Credentials>)> {
    let mut chosen = BTreeMap::new();
    let mut credentials = HashMap::new();
    let mut problems = Vec::new();
    for t in targets {
        if chosen.contains_key(&t.name) {
            continue;
        }
        if let Err(e) = check_url(t, allow_insecure_http) {
            problems.push(format!("{e:#}"));
        }
        match t.credentials(env) {
            Ok(c) => {
                credentials.insert(t.name.clone(), c);
            }
            Err(e) => problems.push(e.to_string()),
        }
        chosen.insert(t.name.clone(), t.clone());
    }
    match problems.len() {
        0 => Ok((chosen, credentials)),
        _ => bail!("{}", problems.join("\n")),
    }
}

/// Refuses plain http:// to anything but loopback, unless allowed.
pub fn check_url(target: &Target, allow_insecure: bool) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&target.url).with_context(|| {
        format!(
            "target {}: url \"{}\" is not a URL",
            target.name, target.url
        )
    })?;
    if plain_http_refused(&url, allow_insecure) {
        bail!(
            "target {}: {} uses plain http:// to a host that is not loopback; credentials would travel unencrypted (use https://, or --allow-insecure-http)",
            target.name,
            target.url
        );
    }
    Ok(())
}

/// Whether `url` is plain http:// to a host that is not loopback, and that is not allowed
/// (`--allow-insecure-http`): for targets and the webhook alike.
pub fn plain_http_refused(url: &reqwest::Url, allow_insecure: bool) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.scheme() == "http" && !allow_insecure && !loopback
}

/// The files, as one line for a message.
pub fn display_paths(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the plan stage takes from an import's command line.
#[derive(Debug, Clone, Default)]
pub struct PlanSettings {
    pub mode: Mode,
    /// `--prune` (with `--mode sync`).
    pub prune: bool,
    /// `--max-prune`; `None`: 10% of the target's users.
    pub max_prune: Option<usize>,
    /// `--max-unlink`; `None`: 10% of the links the target's users hold.
    pub max_unlink: Option<usize>,
    /// `--yes`: no question before pruning.
    pub yes: bool,
    /// `--plan-only`: write the plan, send nothing.
    pub plan_only: bool,
    /// `--dry-run`: plan and look up, send no write.
    pub dry_run: bool,
}

impl PlanSettings {
    /// The plan settings of an import's command line.
    pub fn of(args: &ImportArgs) -> PlanSettings {
        PlanSettings {
            mode: args.mode,
            prune: args.prune,
            max_prune: args.max_prune,
            max_unlink: args.max_unlink,
            yes: args.yes,
            plan_only: args.plan_only,
            dry_run: args.dry_run,
        }
    }

    /// Whether the plan lists each target first: `--mode upsert|sync`, `--plan-only`, or
    /// carrying out an approved plan (`strict`).
    pub fn lists_targets(&self, strict: bool) -> bool {
        self.mode != Mode::Create || self.plan_only || strict
    }
}

/// The environment variable that sets how long a lease lasts without a renewal (seconds,
/// or `500ms`, `2s`): hidden, for tests that make a holder die and must not wait the
/// default 30 s for its lease to expire.
pub const LEASE_TTL_ENV: &str = "MUSTER_LEASE_TTL";

/// How long a run's leases last without a renewal: [`LEASE_TTL_ENV`], else 30 s.
pub fn lease_ttl(env: &Env) -> anyhow::Result<Duration> {
    match env.get(LEASE_TTL_ENV) {
        None => Ok(lease::DEFAULT_TTL),
        Some(text) => match parse_duration(&text) {
            Some(d) if d >= Duration::from_millis(100) => Ok(d),
            _ => bail!("{LEASE_TTL_ENV}={text}: not a duration of 100ms or more, like \"30s\""),
        },
    }
}

/// `--wait[=DURATION]`: how long to wait for targets another run is importing to.
pub fn wait(arg: Option<&str>) -> anyhow::Result<Wait> {
    match arg.map(str::trim) {
        None => Ok(Wait::No),
        Some("") => Ok(Wait::Forever),
        Some(text) => match parse_duration(text) {
            Some(d) => Ok(Wait::For(d)),
            None => bail!("--wait={text}: not a duration like 90s, 10m or 2h"),
        },
    }
}

/// `90`, `90s`, `500ms`, `10m`, `10min`, `2h`: a finite duration from 0 up.
fn parse_duration(text: &str) -> Option<Duration> {
    Duration::try_from_secs_f64(crate::config::seconds_of(text)?).ok()
}

/// `--deadline` as a duration; a negative or endless one cannot be a deadline.
pub fn deadline(seconds: Option<f64>) -> anyhow::Result<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) => match Duration::try_from_secs_f64(s) {
            Ok(d) => Ok(Some(d)),
            Err(_) => bail!("--deadline {s}: not a number of seconds from 0 up"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::VendorKind;

    #[test]
    fn every_target_problem_is_reported_at_once() {
        let mut a = Target::with_defaults("a", VendorKind::Traccar, "http://fleet.example/api");
        a.token_env = Some("A_TOKEN".into());
        let mut b = Target::with_defaults("b", VendorKind::Motive, "https://m.example/v1");
        b.api_key_env = Some("B_KEY".into());
        let env = Env::with([]);
        let err = connect([&a, &b], &env, false).unwrap_err().to_string();
        assert!(
            err.contains("target a: http://fleet.example/api uses plain http://"),
            "{err}"
        );
        assert!(err.contains("A_TOKEN"), "{err}");
        assert!(err.contains("B_KEY"), "{err}");
        assert_eq!(err.lines().count(), 3, "{err}");
    }

    #[test]
    fn an_unknown_target_flag_cannot_run_and_says_the_closest() {
        let config = Config::parse(
            "[target.powunity]\nvendor = \"traccar\"\nurl = \"https://p.example\"\n",
            Path::new("muster.toml"),
        )
        .unwrap();
        assert!(check_target(&config, Some("powunity")).is_ok());
        assert!(check_target(&config, None).is_ok());
        assert_eq!(
            check_target(&config, Some("powunty"))
                .unwrap_err()
                .to_string(),
            "--target powunty: is not a target of muster.toml; did you mean powunity? (known: powunity)"
        );
        let none = Config::default();
        assert!(check_target(&none, Some("motive")).is_ok());
        let err = check_target(&none, Some("motiv")).unwrap_err().to_string();
        assert!(err.contains("did you mean motive?"), "{err}");
    }

    #[test]
    fn the_journal_is_the_flag_the_variable_the_config_or_the_file_and_its_password_is_hidden() {
        let config = |extra: &str| {
            Config::parse(
                &format!("{extra}[target.t]\nvendor = \"traccar\"\nurl = \"https://t.example\"\n"),
                Path::new("muster.toml"),
            )
        };
        let none = Env::with([]);
        let plain = config("").unwrap();
        assert_eq!(
            journal(None, &none, &plain).unwrap().file(),
            Some(Path::new(DEFAULT_JOURNAL))
        );
        let shared = config("journal = \"postgres://ops@db.example/muster\"\n").unwrap();
        let JournalAt::Postgres(at) = journal(None, &none, &shared).unwrap() else {
            panic!("a database")
        };
        assert_eq!(at.url, "postgres://ops@db.example/muster");
        // The flag wins over the variable, which wins over the config.
        let env = Env::with([(JOURNAL_ENV.to_string(), "from-env.db".to_string())]);
        assert_eq!(
            journal(None, &env, &shared).unwrap().file(),
            Some(Path::new("from-env.db"))
        );
        assert_eq!(
            journal(Some(Path::new("flag.db")), &env, &shared)
                .unwrap()
                .file(),
            Some(Path::new("flag.db"))
        );
        // A password on the command line is used, and gone from the URL shown.
        let JournalAt::Postgres(at) = journal(
            Some(Path::new("postgres://ops:p%40ss@db/muster")),
            &none,
            &plain,
        )
        .unwrap() else {
            panic!("a database")
        };
        assert_eq!(at.url, "postgres://ops@db/muster");
        assert_eq!(at.password.unwrap().expose(), "p@ss");
        // From the variable the config names, else PGPASSWORD.
        let env = Env::with([
            (PG_PASSWORD_ENV.to_string(), "pg".to_string()),
            ("TEAM_DB_PASSWORD".to_string(), "team".to_string()),
        ]);
        let JournalAt::Postgres(at) = journal(None, &env, &shared).unwrap() else {
            panic!("a database")
        };
        assert_eq!(at.password.unwrap().expose(), "pg");
        let named = config(
            "journal = \"postgres://ops@db/muster\"\njournal_password_env = \"TEAM_DB_PASSWORD\"\n",
        )
        .unwrap();
        let JournalAt::Postgres(at) = journal(None, &env, &named).unwrap() else {
            panic!("a database")
        };
        assert_eq!(at.password.unwrap().expose(), "team");
        let err = journal(None, &none, &named).unwrap_err().to_string();
        assert_eq!(
            err,
            "journal_password_env names TEAM_DB_PASSWORD, which is not set"
        );
        // A password in the config's URL is refused, and not echoed.
        let err = config("journal = \"postgres://ops:hunter2@db/muster\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("journal") && err.contains("PGPASSWORD"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn wait_and_lease_durations_read_as_operators_write_them() {
        assert_eq!(wait(None).unwrap(), Wait::No);
        assert_eq!(wait(Some("")).unwrap(), Wait::Forever);
        assert_eq!(
            wait(Some("10m")).unwrap(),
            Wait::For(Duration::from_secs(600))
        );
        assert_eq!(
            wait(Some("90")).unwrap(),
            Wait::For(Duration::from_secs(90))
        );
        assert_eq!(
            wait(Some("2h")).unwrap(),
            Wait::For(Duration::from_secs(7200))
        );
        assert_eq!(
            wait(Some("soon")).unwrap_err().to_string(),
            "--wait=soon: not a duration like 90s, 10m or 2h"
        );
        assert!(wait(Some("-1s")).is_err());
        assert_eq!(lease_ttl(&Env::with([])).unwrap(), Duration::from_secs(30));
        let env = Env::with([(LEASE_TTL_ENV.to_string(), "500ms".to_string())]);
        assert_eq!(lease_ttl(&env).unwrap(), Duration::from_millis(500));
        let env = Env::with([(LEASE_TTL_ENV.to_string(), "1ms".to_string())]);
        assert!(lease_ttl(&env).is_err());
    }

    #[test]
    fn a_negative_or_endless_deadline_cannot_run() {
        assert_eq!(
            deadline(Some(1.5)).unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(deadline(None).unwrap(), None);
        for bad in [-1.0, f64::INFINITY, f64::NAN] {
            let err = deadline(Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with("--deadline "), "{err}");
        }
    }
}
