//! The AROBS simulator's state: API users made "by hand" (seeded by tests or from a CSV
//! file, since the platform has no user API), the tokens it issued and each user's last
//! data call (the 1-per-30-s limit). Times are tokio's, so tests with paused time can step
//! over a window or a token's lifetime.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::sandbox::Reset;
use crate::sandbox::seed;
use crate::secret::Secret;

/// How long an access token lives (the documented sample's `expires_in`).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(28_800);

/// The platform's limit: one data request per user per this long.
pub const DATA_INTERVAL: Duration = Duration::from_secs(30);

/// An API user as an administrator made it in the web app.
#[derive(Debug, Clone)]
pub struct ApiUser {
    /// The login name (matched without regard to case).
    pub username: String,
    /// Also accepted as the login name (without regard to case).
    pub email: String,
    /// Set by the user on the activation page.
    pub password: Secret,
    /// Whether the user opened the activation link; inactive users cannot log in.
    pub active: bool,
    /// Whether "API User" was ticked; other users cannot use the API.
    pub api_user: bool,
    /// Vehicle rights, as registration numbers of [`seed::arobs_vehicles`] (any case).
    pub vehicles: Vec<String>,
}

/// Why a login was refused; the platform answers 401 alike for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    UnknownUser,
    WrongPassword,
    Inactive,
    NotApiUser,
}

/// A token and the refresh token issued with it (no `Debug`: they are credentials).
pub(super) struct Issued {
    pub access_token: String,
    pub refresh_token: String,
}

struct Account {
    user: ApiUser,
    vehicle_ids: Vec<i64>,
}

struct Session {
    account: usize,
    expires: Instant,
}

#[derive(Default)]
struct Book {
    accounts: Vec<Account>,
    sessions: HashMap<String, Session>,
    /// Every access token issued since the start or the last reset, in order.
    issued: Vec<String>,
    last_data_call: HashMap<usize, Instant>,
}

/// The simulator's state, attached to its [`crate::sandbox::Platform`].
#[derive(Default)]
pub struct Accounts {
    book: Mutex<Book>,
}

impl Accounts {
    fn lock(&self) -> MutexGuard<'_, Book> {
        // A panic in a handler must not take the simulator down with a poisoned lock.
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `user`; `Err` names what is wrong: an empty username, a username or e-mail
    /// already taken, or a vehicle the company does not have. Returns the users held now.
    pub(super) fn add(&self, user: ApiUser) -> Result<usize, String> {
        let username = user.username.trim();
        if username.is_empty() {
            return Err("the username is empty".into());
        }
        let fleet = seed::arobs_vehicles();
        let mut vehicle_ids = Vec::new();
        for v in &user.vehicles {
            let v = v.trim();
            match fleet.iter().find(|(_, reg)| reg.eq_ignore_ascii_case(v)) {
                Some((id, _)) if !vehicle_ids.contains(id) => vehicle_ids.push(*id),
                Some(_) => {}
                None => {
                    return Err(format!(
                        "vehicle \"{v}\" is not one of the company's (CJ-01-ARB … CJ-{:02}-ARB)",
                        fleet.len()
                    ));
                }
            }
        }
        let mut book = self.lock();
        let email = user.email.trim();
        for a in &book.accounts {
            if a.user.username.eq_ignore_ascii_case(username) {
                return Err(format!("username \"{username}\" is taken"));
            }
            if !email.is_empty() && a.user.email.eq_ignore_ascii_case(email) {
                return Err(format!("e-mail \"{email}\" is taken"));
            }
        }
        let user = ApiUser {
            username: username.to_string(),
            email: email.to_string(),
            ..user
        };
        book.accounts.push(Account { user, vehicle_ids });
        Ok(book.accounts.len())
    }

    /// Logs `name` (username or e-mail) in at `now`.
    pub(super) fn login(
        &self,
        name: &str,
        password: &str,
        now: Instant,
    ) -> Result<Issued, Refusal> {
        let mut book = self.lock();
        let name = name.trim();
        let Some(account) = book.accounts.iter().position(|a| {
            a.user.username.eq_ignore_ascii_case(name)
                || (!a.user.email.is_empty() && a.user.email.eq_ignore_ascii_case(name))
        }) else {
            return Err(Refusal::UnknownUser);
        };
        let user = &book.accounts[account].user;
        if user.password.expose() != password {
            return Err(Refusal::WrongPassword);
        }
        if !user.active {
            return Err(Refusal::Inactive);
        }
        if !user.api_user {
            return Err(Refusal::NotApiUser);
        }
        let issued = Issued {
            access_token: jwt_like(),
            refresh_token: hex::encode(rand::rng().random::<[u8; 32]>()).to_uppercase(),
        };
        book.sessions.insert(
            issued.access_token.clone(),
            Session {
                account,
                expires: now + TOKEN_LIFETIME,
            },
        );
        book.issued.push(issued.access_token.clone());
        Ok(issued)
    }

    /// The account a bearer token stands for at `now`; `None` if unknown or expired.
    pub(super) fn session(&self, token: &str, now: Instant) -> Option<usize> {
        let book = self.lock();
        let s = book.sessions.get(token)?;
        (now < s.expires).then_some(s.account)
    }

    /// Takes `account`'s data slot at `now`, or says in how many whole seconds (≥ 1) the
    /// next one opens. A refused call does not move the window.
    pub(super) fn take_data_slot(&self, account: usize, now: Instant) -> Result<(), u64> {
        let mut book = self.lock();
        if let Some(last) = book.last_data_call.get(&account) {
            let since = now.saturating_duration_since(*last);
            if since < DATA_INTERVAL {
                let wait = (DATA_INTERVAL - since).as_secs_f64();
                // `as` saturates; the wait is at most 30 s.
                return Err((wait.ceil() as u64).max(1));
            }
        }
        book.last_data_call.insert(account, now);
        Ok(())
    }

    /// `account`'s vehicles as (vehicleId, registration), in id order.
    pub(super) fn vehicles(&self, account: usize) -> Vec<(i64, String)> {
        let book = self.lock();
        let Some(a) = book.accounts.get(account) else {
            return Vec::new();
        };
        let mut fleet = seed::arobs_vehicles();
        fleet.retain(|(id, _)| a.vehicle_ids.contains(id));
        fleet
    }

    /// Access tokens issued since the start or the last reset.
    pub(super) fn issued(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// API users held.
    pub(super) fn len(&self) -> usize {
        self.lock().accounts.len()
    }
}

impl Reset for Accounts {
    /// Users were made by hand before any request, so they stay; tokens and limit windows go.
    fn reset(&self) {
        let mut book = self.lock();
        book.sessions.clear();
        book.issued.clear();
        book.last_data_call.clear();
    }
}

/// An opaque token shaped like the platform's RS256 JWT: three base64url-looking parts.
fn jwt_like() -> String {
    let mut rng = rand::rng();
    format!(
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
        hex::encode(rng.random::<[u8; 24]>()),
        hex::encode(rng.random::<[u8; 32]>())
    )
}

/// Reads API users from a CSV `username,email,password,active,api_user,vehicles` (a header
/// line naming those columns is optional; `active` and `api_user` are true/false, yes/no or
/// 1/0, empty is false; vehicles are `|`-separated registrations such as `CJ-01-ARB|CJ-02-ARB`). The whole
/// file is checked as the simulator would take it; an error names the file and line.
pub fn read_users(path: &Path) -> Result<Vec<ApiUser>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(std::io::BufReader::new(file));
    let check = Accounts::default();
    let mut users = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = record.position().map_or(0, |p| p.line());
        let at = |msg: String| format!("{}, line {line}: {msg}", path.display());
        if users.is_empty()
            && record
                .get(0)
                .is_some_and(|f| f.eq_ignore_ascii_case("username"))
        {
            continue;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != 6 {
            return Err(at(format!(
                "expected 6 fields username,email,password,active,api_user,vehicles, found {}",
                record.len()
            )));
        }
        let user = ApiUser {
            username: record[0].to_string(),
            email: record[1].to_string(),
            password: Secret::new(&record[2]),
            active: flag(&record[3])
                .ok_or_else(|| at(format!("active \"{}\" is not true or false", &record[3])))?,
            api_user: flag(&record[4])
                .ok_or_else(|| at(format!("api_user \"{}\" is not true or false", &record[4])))?,
            vehicles: record[5]
                .split('|')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect(),
        };
        check.add(user.clone()).map_err(at)?;
        users.push(user);
    }
    Ok(users)
}

fn flag(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" | "" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, active: bool, api_user: bool, vehicles: &[&str]) -> ApiUser {
        ApiUser {
            username: name.into(),
            email: format!("{name}@example.com"),
            password: Secret::new("Activ8Me"),
            active,
            api_user,
            vehicles: vehicles.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn users_are_checked_when_added() {
        let a = Accounts::default();
        assert_eq!(a.add(user("api.one", true, true, &["CJ-01-ARB"])), Ok(1));
        let cases = [
            (user(" ", true, true, &[]), "the username is empty"),
            (
                user("API.ONE", true, true, &[]),
                "username \"API.ONE\" is taken",
            ),
            (
                ApiUser {
                    email: "Api.One@Example.com".into(),
                    ..user("api.two", true, true, &[])
                },
                "e-mail \"Api.One@Example.com\" is taken",
            ),
            (
                user("api.three", true, true, &["B-99-XYZ"]),
                "vehicle \"B-99-XYZ\" is not one of the company's (CJ-01-ARB … CJ-30-ARB)",
            ),
        ];
        for (u, want) in cases {
            assert_eq!(a.add(u).unwrap_err(), want);
        }
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn login_refuses_each_kind_of_user_that_may_not_use_the_api() {
        let a = Accounts::default();
        a.add(user("ok", true, true, &[])).unwrap();
        a.add(user("sleeping", false, true, &[])).unwrap();
        a.add(user("webonly", true, false, &[])).unwrap();
        let now = Instant::now();
        let cases = [
            ("ok", "Activ8Me", Ok(())),
            ("OK@example.com", "Activ8Me", Ok(())),
            ("ok", "activ8me", Err(Refusal::WrongPassword)),
            ("nobody", "Activ8Me", Err(Refusal::UnknownUser)),
            ("sleeping", "Activ8Me", Err(Refusal::Inactive)),
            ("webonly", "Activ8Me", Err(Refusal::NotApiUser)),
        ];
        for (name, password, want) in cases {
            assert_eq!(a.login(name, password, now).map(|_| ()), want, "{name}");
        }
        assert_eq!(a.issued().len(), 2);
    }

    #[test]
    fn tokens_expire_after_their_lifetime() {
        let a = Accounts::default();
        a.add(user("ok", true, true, &[])).unwrap();
        let t0 = Instant::now();
        let token = a.login("ok", "Activ8Me", t0).unwrap().access_token;
        assert!(token.starts_with("eyJ") && token.split('.').count() == 3);
        assert_eq!(a.session(&token, t0 + TOKEN_LIFETIME / 2), Some(0));
        assert_eq!(a.session(&token, t0 + TOKEN_LIFETIME), None);
        assert_eq!(a.session("eyJ.forged.token", t0), None);
    }

    #[test]
    fn one_data_call_per_user_per_thirty_seconds() {
        let a = Accounts::default();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(a.take_data_slot(0, t0), Ok(()));
        assert_eq!(
            a.take_data_slot(1, t0),
            Ok(()),
            "another user has its own window"
        );
        assert_eq!(a.take_data_slot(0, t0 + s(1)), Err(29));
        assert_eq!(
            a.take_data_slot(0, t0 + Duration::from_millis(29_500)),
            Err(1)
        );
        // Refused calls do not move the window.
        assert_eq!(a.take_data_slot(0, t0 + s(30)), Ok(()));
        assert_eq!(a.take_data_slot(0, t0 + s(59)), Err(1));
    }

    #[test]
    fn reset_keeps_users_and_forgets_tokens_and_windows() {
        let a = Accounts::default();
        a.add(user("ok", true, true, &["CJ-02-ARB", "cj-01-arb"]))
            .unwrap();
        let t0 = Instant::now();
        let token = a.login("ok", "Activ8Me", t0).unwrap().access_token;
        a.take_data_slot(0, t0).unwrap();
        a.reset();
        assert_eq!(a.len(), 1);
        assert_eq!(a.session(&token, t0), None);
        assert!(a.issued().is_empty());
        assert_eq!(a.take_data_slot(0, t0), Ok(()));
        assert_eq!(
            a.vehicles(0),
            vec![(1, "CJ-01-ARB".to_string()), (2, "CJ-02-ARB".to_string())]
        );
    }

    #[test]
    fn users_file_is_read_and_checked_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "username,email,password,active,api_user,vehicles\n\
                 api.one,one@example.com,Activ8Me,true,yes,CJ-01-ARB|CJ-02-ARB\n\
                 # a comment\n\
                 api.two,two@example.com,\"Pa,ss1Word\",0,1,\n",
                Ok(vec![
                    ("api.one", "Activ8Me", true, true, 2),
                    ("api.two", "Pa,ss1Word", false, true, 0),
                ]),
            ),
            (
                "api.one,one@example.com,Activ8Me,maybe,true,\n",
                Err("line 1: active \"maybe\" is not true or false"),
            ),
            (
                "api.one,one@example.com,Activ8Me,true,true,CJ-01-ARB\napi.one,x@example.com,Activ8Me,true,true,\n",
                Err("line 2: username \"api.one\" is taken"),
            ),
            (
                "api.one,one@example.com,Activ8Me\n",
                Err(
                    "line 1: expected 6 fields username,email,password,active,api_user,vehicles, found 3",
                ),
            ),
        ];
        for (n, (text, want)) in cases.into_iter().enumerate() {
            let path = dir.path().join(format!("users{n}.csv"));
            std::fs::write(&path, text).unwrap();
            let got = read_users(&path).map(|users| {
                users
                    .iter()
                    .map(|u| {
                        (
                            u.username.clone(),
                            u.password.expose().to_string(),
                            u.active,
                            u.api_user,
                            u.vehicles.len(),
                        )
                    })
                    .collect::<Vec<_>>()
            });
            match want {
                Ok(users) => {
                    let users: Vec<_> = users
                        .into_iter()
                        .map(|(u, p, a, api, v)| (u.to_string(), p.to_string(), a, api, v))
                        .collect();
                    assert_eq!(got, Ok(users), "case {n}");
                }
                Err(msg) => {
                    let err = got.unwrap_err();
                    assert_eq!(err, format!("{}, {msg}", path.display()), "case {n}");
                }
            }
        }
        let missing = dir.path().join("none.csv");
        assert!(
            read_users(&missing)
                .unwrap_err()
                .starts_with(&missing.display().to_string())
        );
    }
}
