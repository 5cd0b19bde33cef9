//! AROBS TrackGPS (`shared/vendors/arobs-trackgps.md`). No API creates users:
//! - `import` sends nothing: every valid row becomes `manual`, listed with the steps to take
//!   in the platform's web app (the report's `Manual` sheet).
//! - `verify` logs each API user in (`POST /authentication/login?api-version=2.0`, form
//!   fields; exempt from the rate limit) and reads `GET /carriers/company-vehicles` with the
//!   bearer token (one data request per 30 s per user: a 429 waits for that user only), then
//!   compares the vehicles with the roster's.

pub mod rules;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::AUTHORIZATION;
use serde::Deserialize;

use crate::http::retry::Kind;
use crate::http::{Request, SendError};
use crate::model::{Field, Outcome, Status};
use crate::secret::Secret;
use crate::vendors::protocol::Engine;

use super::{Job, Vendor, VendorError};
use crate::model::{PlatformUser, list_items};

/// The platform's limit on data requests, per user.
pub const DATA_INTERVAL: Duration = Duration::from_secs(30);

/// Passwords of API users given outside the roster: (target, lower-case username) → password.
#[derive(Debug, Default)]
pub struct Passwords {
    by_user: HashMap<(String, String), Secret>,
}

impl Passwords {
    /// Reads `target,username,password` lines (the `--secrets-out` format). Blank lines and
    /// lines starting with `#` are skipped; a header line `target,username,password` too.
    pub fn load(path: &Path) -> std::io::Result<Passwords> {
        let file = std::fs::File::open(path)?;
        let mut by_user = HashMap::new();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .from_reader(std::io::BufReader::new(file));
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line {}: {e}", n + 1),
                )
            })?;
            if record.len() < 3 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("line {}: expected target,username,password", n + 1),
                ));
            }
            let (target, user) = (record[0].trim(), record[1].trim());
            if n == 0 && target.eq_ignore_ascii_case("target") {
                continue;
            }
            by_user.insert(
                (target.to_string(), user.to_lowercase()),
                Secret::new(record[2].to_string()),
            );
        }
        Ok(Passwords { by_user })
    }

    fn get(&self, target: &str, user: &str) -> Option<&Secret> {
        self.by_user.get(&(target.to_string(), user.to_lowercase()))
    }
}

/// The AROBS connector.
#[derive(Debug, Default)]
pub struct Arobs {
    verify: Option<Arc<Passwords>>,
}

#[derive(Debug, Deserialize)]
struct Login {
    access_token: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    #[serde(default)]
    payload: Option<Vec<Vehicle>>,
    #[serde(default)]
    failure_reasons: Option<Vec<FailureReason>>,
    #[serde(default)]
    is_success: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vehicle {
    #[serde(default)]
    vehicle_name: Option<String>,
    #[serde(default)]
    vehicle_registration_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailureReason {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_parameters: Option<Vec<String>>,
}

impl Arobs {
    /// `verify`: passwords from outside the roster; `None` for import.
    pub fn new(verify: Option<Arc<Passwords>>) -> Arobs {
        Arobs { verify }
    }

    async fn verify_one(&self, ctx: &impl Engine, passwords: &Passwords, job: Job) {
        let mut out = Outcome::new(Status::Failed, job.action);
        let row = &job.row;
        let Some(username) = row.get(Field::Username) else {
            out.error = Some("no username to verify".into());
            return ctx.finish(job.index, out);
        };
        let password = match row.get(Field::Password) {
            Some(p) => Secret::new(p),
            None => match passwords.get(&ctx.target().name, username) {
                Some(p) => p.clone(),
                None => {
                    out.error = Some(
                        "no password to log in with: give it in the roster's password column or with --secrets FILE"
                            .into(),
                    );
                    return ctx.finish(job.index, out);
                }
            },
        };
        // Login: exempt from the per-user limit; repeating it changes nothing.
        let login = Request::new(Method::POST, "/authentication/login", Kind::Read)
            .query("api-version", "2.0")
            .form(vec![
                ("username".into(), username.to_string()),
                ("password".into(), password.expose().to_string()),
            ])
            .anonymous();
        let token = match ctx.http().send(login).await {
            Ok(r) => {
                out.attempts += r.attempts;
                out.http_status = Some(r.status);
                match r.status {
                    200..=299 => match serde_json::from_str::<Login>(&r.body) {
                        Ok(l) => Secret::new(l.access_token),
                        Err(_) => {
                            out.error = Some("login answered without an access_token".into());
                            return ctx.finish(job.index, out);
                        }
                    },
                    400 | 401 | 403 => {
                        out.error = Some(
                            "login refused (not activated, not an API user, or wrong password)"
                                .into(),
                        );
                        return ctx.finish(job.index, out);
                    }
                    s => {
                        out.error = Some(format!("login answered HTTP {s}: {}", r.excerpt()));
                        return ctx.finish(job.index, out);
                    }
                }
            }
            Err(SendError::Halted(_)) => return,
            Err(e) => {
                out.attempts += e.attempts();
                out.error = Some(format!("login: {e}"));
                return ctx.finish(job.index, out);
            }
        };
        let vehicles = Request::get("/carriers/company-vehicles")
            .query("api-version", "2.0")
            .header(
                AUTHORIZATION,
                Secret::new(format!("Bearer {}", token.expose())),
            )
            .anonymous()
            .own_pace(DATA_INTERVAL);
        let reply = match ctx.http().send(vehicles).await {
            Ok(r) => r,
            Err(SendError::Halted(_)) => return,
            Err(e) => {
                out.attempts += e.attempts();
                out.http_status = e.status();
                out.error = Some(format!("reading vehicles: {e}"));
                return ctx.finish(job.index, out);
            }
        };
        out.attempts += reply.attempts;
        out.http_status = Some(reply.status);
        let envelope: Option<Envelope> = serde_json::from_str(&reply.body).ok();
        let Some(envelope) = envelope.filter(|_| reply.ok()) else {
            out.error = Some(format!(
                "reading vehicles answered HTTP {}: {}",
                reply.status,
                reply.excerpt()
            ));
            return ctx.finish(job.index, out);
        };
        if envelope.is_success == Some(false) {
            let reasons: Vec<String> = envelope
                .failure_reasons
                .unwrap_or_default()
                .into_iter()
                .map(|f| {
                    let params = f.error_parameters.unwrap_or_default().join(", ");
                    format!(
                        "{}{}",
                        f.error_code.unwrap_or_default(),
                        if params.is_empty() {
                            String::new()
                        } else {
                            format!(" ({params})")
                        }
                    )
                })
                .collect();
            out.error = Some(format!("reading vehicles failed: {}", reasons.join("; ")));
            return ctx.finish(job.index, out);
        }
        let platform = envelope.payload.unwrap_or_default();
        let wanted: Vec<&str> = row.get(Field::Devices).map(list_items).unwrap_or_default();
        let diff = compare_vehicles(&wanted, &platform);
        if diff.missing.is_empty() && diff.unexpected.is_empty() {
            out.status = Status::Verified;
        } else {
            let mut parts = Vec::new();
            if !diff.missing.is_empty() {
                parts.push(format!("missing {}", diff.missing.join(", ")));
            }
            if !diff.unexpected.is_empty() {
                parts.push(format!("unexpected {}", diff.unexpected.join(", ")));
            }
            out.error = Some(format!("vehicles differ: {}", parts.join("; ")));
        }
        ctx.finish(job.index, out);
    }
}

/// Vehicles the roster names but the user cannot see, and the other way round.
#[derive(Debug, PartialEq, Eq)]
struct VehicleDiff {
    missing: Vec<String>,
    unexpected: Vec<String>,
}

/// A roster vehicle matches a platform vehicle by registration number or name, compared
/// without spaces, dashes or case (`CJ 01 ARB` = `cj-01-arb`).
fn compare_vehicles(wanted: &[&str], platform: &[Vehicle]) -> VehicleDiff {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect()
    };
    let mut matched = vec![false; platform.len()];
    let mut missing = Vec::new();
    for w in wanted {
        let n = norm(w);
        let hit = platform.iter().position(|v| {
            [&v.vehicle_registration_number, &v.vehicle_name]
                .into_iter()
                .flatten()
                .any(|x| norm(x) == n)
        });
        match hit {
            Some(i) => matched[i] = true,
            None => missing.push(w.to_string()),
        }
    }
    let unexpected: BTreeSet<String> = platform
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(v, _)| {
            v.vehicle_registration_number
                .clone()
                .or_else(|| v.vehicle_name.clone())
                .unwrap_or_else(|| "(unnamed vehicle)".into())
        })
        .collect();
    VehicleDiff {
        missing,
        unexpected: unexpected.into_iter().collect(),
    }
}

impl Vendor for Arobs {
    async fn list_users(
        &self,
        _ctx: &impl Engine,
        _want: &super::Want,
    ) -> Result<Vec<PlatformUser>, VendorError> {
        Err(VendorError::Unsupported(
            "AROBS has no API that lists users: `muster verify` checks them one by one".into(),
        ))
    }

    async fn probe(&self, _ctx: &impl Engine) -> Result<(), VendorError> {
        // Import sends nothing; verify logs in as each user (no account-wide credential).
        Ok(())
    }

    async fn run(&self, ctx: &impl Engine, jobs: Vec<Job>) -> Result<(), VendorError> {
        match &self.verify {
            None => {
                for job in jobs {
                    ctx.finish(job.index, Outcome::new(Status::Manual, job.action));
                }
            }
            Some(passwords) => {
                ctx.note("one vehicle read per user per 30 s");
                ctx.for_each(jobs, |job| self.verify_one(ctx, passwords, job))
                    .await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(reg: &str, name: &str) -> Vehicle {
        Vehicle {
            vehicle_registration_number: Some(reg.into()),
            vehicle_name: Some(name.into()),
        }
    }

    #[test]
    fn vehicles_match_by_registration_or_name_loosely() {
        let platform = [v("CJ-01-ARB", "Truck 1"), v("CJ-02-ARB", "Truck 2")];
        let d = compare_vehicles(&["cj 01 arb", "Truck 2"], &platform);
        assert_eq!(
            d,
            VehicleDiff {
                missing: vec![],
                unexpected: vec![]
            }
        );
        let d = compare_vehicles(&["CJ-01-ARB", "B-99-XYZ"], &platform);
        assert_eq!(d.missing, vec!["B-99-XYZ"]);
        assert_eq!(d.unexpected, vec!["CJ-02-ARB"]);
    }

    #[test]
    fn passwords_file_reads_secrets_out_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        std::fs::write(
            &p,
            "target,username,password\n# comment\narobs,Jane.Doe,\"Pa,ss1X\"\n",
        )
        .unwrap();
        let pw = Passwords::load(&p).unwrap();
        assert_eq!(pw.get("arobs", "jane.doe").unwrap().expose(), "Pa,ss1X");
        assert!(pw.get("other", "jane.doe").is_none());
    }
}
