//! `[notify]`: one JSON POST to a webhook when an import, a verify or an audit with
//! `--fail-on-drift` has ended (DESIGN "Ending a run"): the run id, the command, the counts
//! per target, the time taken, the workbook, the first errors, and a `text` field, which is
//! what Slack's and Teams' incoming webhooks display.
//!
//! Never a secret: no credential is known here, and the first errors are masked as the
//! workbook masks them (`report::ending`). The webhook's own URL is a secret of the chat
//! service: it is never printed, only its host. A notification that cannot be delivered is
//! a warning on standard error, never a failed run or another exit code.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::{Notify, NotifyOn};
use crate::report::Ending;

/// How many times the POST is tried, and the pause before each retry (doubled each time).
const ATTEMPTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// How long one attempt may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the webhook is told.
#[derive(Debug, Clone)]
pub struct Notice {
    pub run_id: String,
    pub command: String,
    /// Whether the run needs someone: rows failed or were invalid, or drift was found.
    pub failed: bool,
    pub elapsed: Duration,
    pub workbook: String,
    /// Counts per target, as `--json`'s summary lists them.
    pub targets: Value,
    pub first_errors: Vec<String>,
    /// All the errors, of which `first_errors` are the first.
    pub errors: usize,
    /// The one line a chat shows first.
    pub headline: String,
}

impl Notice {
    /// The notice of an import's or verify's ending.
    pub fn of_ending(ending: &Ending) -> Notice {
        let targets = crate::report::json::targets_json(&ending.counts, &ending.stats);
        Notice {
            run_id: ending.run_id.clone(),
            command: ending.command.clone(),
            failed: !ending.succeeded(),
            elapsed: ending.elapsed,
            workbook: absolute(&ending.workbook),
            targets,
            first_errors: ending.failures.first.clone(),
            errors: ending.failures.count,
            headline: ending.headline(),
        }
    }

    /// The JSON body: every field above, and `text` for chat webhooks.
    pub fn body(&self) -> Value {
        let mut text = format!("{}\nworkbook: {}", self.headline, self.workbook);
        if !self.first_errors.is_empty() {
            text.push_str(&format!("\n{} to fix, first:", self.errors));
            for e in &self.first_errors {
                text.push_str(&format!("\n• {e}"));
            }
        }
        json!({
            "run_id": self.run_id,
            "command": self.command,
            "ok": !self.failed,
            "elapsed_seconds": (self.elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "workbook": self.workbook,
            "targets": self.targets,
            "errors": self.errors,
            "first_errors": self.first_errors,
            "text": text,
        })
    }
}

/// The path made absolute, so a reader elsewhere knows where the workbook is.
fn absolute(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Tells the webhook how an import or a verify ended (a plan has no ending to tell).
pub async fn tell_ending(
    notify: Option<&Notify>,
    on: Option<NotifyOn>,
    ending: Option<&Ending>,
    allow_insecure_http: bool,
) {
    if let Some(ending) = ending {
        tell(notify, on, &Notice::of_ending(ending), allow_insecure_http).await;
    }
}

/// Tells the webhook, when there is one and `on` (the command line's, else the config's)
/// says so. Every way this can fail is a warning; it never changes how the run ended.
pub async fn tell(
    notify: Option<&Notify>,
    on: Option<NotifyOn>,
    notice: &Notice,
    allow_insecure_http: bool,
) {
    let Some(notify) = notify else { return };
    if on.unwrap_or(notify.on) == NotifyOn::Failure && !notice.failed {
        return;
    }
    if let Err(why) = post(notify, &notice.body(), allow_insecure_http).await {
        crate::say!(
            "muster: warning: the webhook {} was not told how run {} ended: {why}",
            notify.shown(),
            notice.run_id
        );
    }
}

/// One POST, tried [`ATTEMPTS`] times with pauses between; `Err` says why the last failed
/// (never with the URL: reqwest's errors name it, and the webhook's path is its secret).
async fn post(notify: &Notify, body: &Value, allow_insecure_http: bool) -> Result<(), String> {
    let url = reqwest::Url::parse(&notify.webhook).map_err(|_| "not a URL".to_string())?;
    if crate::settings::plain_http_refused(&url, allow_insecure_http) {
        return Err(
            "it uses plain http:// to a host that is not loopback (use https://, or --allow-insecure-http)"
                .into(),
        );
    }
    // reqwest is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.without_url().to_string())?;
    let mut pause = FIRST_PAUSE;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match client.post(url.clone()).json(body).send().await {
            Ok(reply) if reply.status().is_success() => return Ok(()),
            Ok(reply) => last = format!("it answered {}", reply.status()),
            Err(e) if e.is_timeout() => last = format!("no answer within {} s", TIMEOUT.as_secs()),
            Err(e) => last = e.without_url().to_string(),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    Err(format!("{last} ({ATTEMPTS} attempts)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_goes_only_to_loopback_unless_allowed() {
        let notify = |url: &str| Notify {
            webhook: url.into(),
            on: NotifyOn::Always,
        };
        let err = post(&notify("http://hooks.example/T1/secret"), &json!({}), false)
            .await
            .unwrap_err();
        assert!(err.contains("plain http://"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let loopback = reqwest::Url::parse("http://127.0.0.1:9/hook").unwrap();
        assert!(!crate::settings::plain_http_refused(&loopback, false));
        let elsewhere = reqwest::Url::parse("http://hooks.example/hook").unwrap();
        assert!(!crate::settings::plain_http_refused(&elsewhere, true));
    }

    #[test]
    fn the_body_has_a_text_for_chats_and_every_field() {
        let notice = Notice {
            run_id: "r1".into(),
            command: "import".into(),
            failed: true,
            elapsed: Duration::from_millis(1234),
            workbook: "/w/results.xlsx".into(),
            targets: json!([{"target": "powunity", "rows": 2}]),
            first_errors: vec![
                "roster.csv row 3 (invalid, powunity): email (B3): \"x\" is not an email address"
                    .into(),
            ],
            errors: 1,
            headline: "muster import run r1: 2 rows (1 created, 1 invalid) in 1.2 s".into(),
        };
        let body = notice.body();
        assert_eq!(body["ok"], false);
        assert_eq!(body["elapsed_seconds"], 1.2);
        assert_eq!(body["targets"][0]["target"], "powunity");
        assert_eq!(
            body["text"],
            "muster import run r1: 2 rows (1 created, 1 invalid) in 1.2 s\nworkbook: /w/results.xlsx\n1 to fix, first:\n• roster.csv row 3 (invalid, powunity): email (B3): \"x\" is not an email address"
        );
    }
}
