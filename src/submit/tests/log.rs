//! A connector's log line goes through the engine, which hides the target's secrets in it
//! as it does in a platform's text (issue 25's loose end: connectors once logged with
//! `tracing` directly).

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::config::{Credentials, Target};
use crate::http::{Halt, Http};
use crate::journal::Journal;
use crate::model::{Mode, VendorKind};
use crate::secret::Secret;
use crate::vendors::protocol::Engine;

use super::super::{Ctx, Silent, scrubber_of};

/// What a subscriber wrote.
#[derive(Clone, Default)]
struct Written(Arc<Mutex<Vec<u8>>>);

impl Write for Written {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The engine's context for `target` with `credentials`, as a read of the target has it.
fn ctx(target: &Target, credentials: &Credentials) -> Ctx {
    let (outcomes, _) = tokio::sync::mpsc::unbounded_channel();
    Ctx {
        scrubber: std::sync::RwLock::new(scrubber_of(credentials)),
        failed: Default::default(),
        failure_budget: None,
        target: target.clone(),
        http: Http::new(target, Arc::new(Halt::new(None))).unwrap(),
        run_id: String::new(),
        dry_run: true,
        mode: Mode::Create,
        prune: false,
        journal: Arc::new(Journal::open(std::path::Path::new(":memory:")).unwrap()),
        scoped: Default::default(),
        outcomes,
        jobs: Default::default(),
        remarks: Default::default(),
        reporter: Arc::new(Silent),
        secrets: None,
    }
}

#[test]
fn a_connectors_log_line_is_scrubbed_of_the_targets_secrets() {
    let target = Target::with_defaults("fleet", VendorKind::Drtrack, "http://127.0.0.1:9");
    let credentials = Credentials {
        token: None,
        username: Some(Secret::new("dispatch")),
        password: Some(Secret::new("pa55-w0rd-echoed")),
    };
    let ctx = ctx(&target, &credentials);
    let written = Written::default();
    let out = written.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        // As a platform echoing the password into a reply a connector logs would have it.
        ctx.log(
            tracing::Level::INFO,
            r#"DRTrack said: {"error":"invalid password pa55-w0rd-echoed"}"#,
        );
        ctx.log(
            tracing::Level::DEBUG,
            "PUT /users/sync: call 1, 3 operations",
        );
    });
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("pa55-w0rd-echoed"), "{text}");
    assert!(
        text.contains(r#"DRTrack said: {"error":"invalid password ***"}"#),
        "{text}"
    );
    assert!(text.contains("target_name=fleet"), "{text}");
    assert!(
        text.contains("PUT /users/sync: call 1, 3 operations"),
        "{text}"
    );
}
