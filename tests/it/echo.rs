//! A platform that echoes what it was sent (issue 25, item 5): a loopback Traccar whose
//! refusal of `POST /api/users` repeats the request body and the Authorization header,
//! password and token included. No secret (the token, the password inside it, the roster's
//! password, the password muster generated) reaches stdout, stderr, the workbook or the
//! journal; the server did receive them, so the echo really carried them.

use std::io::Read;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

use crate::support::{World, serve};

/// Every byte of a workbook's parts, unzipped.
fn unzipped(path: &std::path::Path) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut all = Vec::new();
    for i in 0..zip.len() {
        zip.by_index(i).unwrap().read_to_end(&mut all).unwrap();
    }
    all
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_a_platform_echoes_reach_no_output() {
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = received.clone();
    let app = Router::new()
        .route("/api/devices", get(|| async { "[]" }))
        .route(
            "/api/users",
            get(|| async { "[]" }).post(move |headers: HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    log.lock().unwrap().push(format!("{auth} {body}"));
                    (
                        StatusCode::BAD_REQUEST,
                        format!(
                            "java.lang.IllegalArgumentException: cannot take {body} from {auth}"
                        ),
                    )
                }
            }),
        );
    let addr = serve(app).await;

    let w = World::start(muster::sandbox::Options::default()).await;
    let config = w.traccar_at(addr, "");
    const ROSTER_PASSWORD: &str = "Roster-Secret-77";
    let roster = w.write(
        "roster.csv",
        &format!(
            "target,name,email,password\ntraccar,A,a@x.test,{ROSTER_PASSWORD}\ntraccar,B,b@x.test,\n"
        ),
    );
    // base64("admin@x.test:Token-Pass-99")
    let token = "YWRtaW5AeC50ZXN0OlRva2VuLVBhc3MtOTk=";
    let (journal, out, secrets_out) = (w.path("j.db"), w.path("r.xlsx"), w.path("pw.csv"));
    let run = Command::new(env!("CARGO_BIN_EXE_muster"))
        .arg("import")
        .arg(&roster)
        .arg("--config")
        .arg(&config)
        .arg("--journal")
        .arg(&journal)
        .arg("--out")
        .arg(&out)
        .arg("--secrets-out")
        .arg(&secrets_out)
        .env("SANDBOX_TRACCAR_TOKEN", token)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let generated = std::fs::read_to_string(&secrets_out).unwrap();
    let generated = generated.trim().rsplit(',').next().unwrap().to_string();
    let secrets = [token, "Token-Pass-99", ROSTER_PASSWORD, generated.as_str()];
    // The platform was sent each of them, and echoed it.
    let seen = received.lock().unwrap().join("\n");
    for s in [token, ROSTER_PASSWORD, generated.as_str()] {
        assert!(seen.contains(s), "the server got {s}");
    }
    let mut journal_bytes = std::fs::read(&journal).unwrap();
    if let Ok(wal) = std::fs::read(journal.with_extension("db-wal")) {
        journal_bytes.extend(wal);
    }
    let places = [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        ("workbook", unzipped(&out)),
        ("journal", journal_bytes),
    ];
    for (place, bytes) in &places {
        for s in secrets {
            assert!(!holds(bytes, s), "{place} holds {s}");
        }
    }
    // The refusal still says what happened, with the secrets hidden.
    let errors = w.last_run_errors(&journal, 5);
    assert!(
        errors
            .iter()
            .all(|e| e.contains("cannot take") && e.contains("***")),
        "{errors:?}"
    );
}
