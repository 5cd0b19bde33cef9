//! Planning: what each row needs on DRTrack, decided from the user list read once and the
//! journal's ledger. Rows settled without a write (exists, failed before sending, invalid)
//! are finished here; the others become sync operations.

use std::collections::HashMap;

use super::wire::{self, Directory, Method, OpFields};
use super::{Drtrack, Pending, STEP, STEP_DELETE, rules, strong_password, unchanged};
use crate::model::Mode;
use crate::model::StepState;
use crate::model::{Action, Field, Outcome, Status, VendorKind};
use crate::vendors::protocol::Engine;
use crate::vendors::protocol::RowError;
use crate::vendors::protocol::Step;
use crate::vendors::{Job, VendorError};

/// What planning decided for a row.
enum Decision {
    Finish(Outcome),
    Send(Box<Pending>),
}

/// A step an earlier run left unsettled (an intent), and whether the list read since shows
/// it took effect (the id to journal it done with): for the engine to settle.
struct Unsettled {
    key: String,
    step: &'static str,
    took_effect: Option<String>,
}

impl Drtrack {
    /// write are finished here, the others come back as operations in input order.
    pub(super) async fn plan(
        &self,
        ctx: &impl Engine,
        dir: &Directory,
        jobs: Vec<Job>,
    ) -> Result<Vec<Pending>, VendorError> {
        let mut logins: HashMap<String, String> = HashMap::new();
        let mut emails: HashMap<String, (String, String, String)> = HashMap::new();
        let mut pending = Vec::new();
        let mut unsettled = Vec::new();
        for job in jobs {
            let index = job.index;
            match self.decide(ctx, dir, job, &mut logins, &mut emails, &mut unsettled)? {
                Decision::Finish(out) => ctx.finish(index, out),
                Decision::Send(p) if ctx.dry_run() => {
                    let mut out = p.out;
                    out.status = Status::Planned;
                    ctx.finish(index, out);
                }
                Decision::Send(p) => pending.push(*p),
            }
        }
        // What the list shows of earlier runs' unsettled steps, journaled before anything
        // is sent.
        for u in unsettled {
            let step = Step {
                key: &u.key,
                name: u.step,
                also_done: &[],
                noun: "user",
            };
            match ctx.settle_listed(step, u.took_effect.as_deref()).await {
                Ok(_) => {}
                Err(RowError::Journal(e)) => return Err(e),
                Err(RowError::Halted) => return Ok(Vec::new()),
            }
        }
        Ok(pending)
    }

    fn decide(
        &self,
        ctx: &impl Engine,
        dir: &Directory,
        job: Job,
        logins: &mut HashMap<String, String>,
        emails: &mut HashMap<String, (String, String, String)>,
        unsettled: &mut Vec<Unsettled>,
    ) -> Result<Decision, VendorError> {
        let row = job.row.clone();
        let key = job.key.clone();
        let place = format!("{} row {}", row.layout.file, row.line);
        let mut out = Outcome::new(Status::Planned, job.action);
        let failed = |mut out: Outcome, why: String| {
            out.status = Status::Failed;
            out.error = Some(why);
            Ok(Decision::Finish(out))
        };
        let login = row
            .get(Field::Username)
            .unwrap_or(key.as_str())
            .trim()
            .to_string();
        if let Some(first) = logins.get(&key) {
            return failed(
                out,
                format!("login {login} also appears at {first}; only that row is sent"),
            );
        }
        logins.insert(key.clone(), place.clone());
        let target = &ctx.target().name;
        let listed = dir.login(&key);

        if job.action == Action::Delete {
            let Some(user) = listed else {
                if let Some(step) = ctx.ledger(&key, STEP_DELETE) {
                    // Muster deleted it (or sent the DELETE, and the list shows it took
                    // effect): done, nothing to send again.
                    if step.state == StepState::Intent {
                        unsettled.push(Unsettled {
                            key: key.clone(),
                            step: STEP_DELETE,
                            took_effect: Some(key.clone()),
                        });
                    }
                    out.user_id = step.id.clone();
                    out.status = Status::Deleted;
                    out.error = Some(format!(
                        "deleted; login {login} was already removed by an earlier run, nothing sent"
                    ));
                    return Ok(Decision::Finish(out));
                }
                return failed(
                    out,
                    format!("no user with login {login} on target {target}"),
                );
            };
            out.user_id = Some(user.key.clone());
            let body = wire::operation(
                Method::Delete,
                &OpFields {
                    login: &user.login,
                    ..OpFields::default()
                },
                &[],
            );
            return Ok(Decision::Send(Box::new(Pending {
                method: Method::Delete,
                body,
                login: user.login.clone(),
                email: None,
                group: None,
                branches: None,
                notes: Vec::new(),
                out,
                job,
            })));
        }

        let ledger = ctx.ledger(&key, STEP).cloned();
        let method = match listed {
            Some(user) => {
                out.user_id = Some(user.key.clone());
                // An intent without outcome whose login is listed: that ADD took effect.
                if ledger
                    .as_ref()
                    .is_some_and(|s| s.state == StepState::Intent)
                {
                    unsettled.push(Unsettled {
                        key: key.clone(),
                        step: STEP,
                        took_effect: Some(user.key.clone()),
                    });
                }
                let made_now = ctx.made_by_this_run(&key, STEP);
                if made_now && job.action != Action::Update {
                    // A resumed run: this run's own ADD, confirmed by the list.
                    out.status = Status::Created;
                    return Ok(Decision::Finish(out));
                }
                let by_mode = matches!(ctx.mode(), Mode::Upsert | Mode::Sync);
                let modify = by_mode || matches!(job.action, Action::Update | Action::Upsert);
                // Upsert/sync follow the audit: only what `GET /users` shows is compared.
                // A row that asks for an update itself also sends what cannot be compared.
                if !modify || unchanged(&job, user, by_mode) {
                    out.status = Status::Exists;
                    return Ok(Decision::Finish(out));
                }
                Method::Modify
            }
            None => {
                if ledger
                    .as_ref()
                    .is_some_and(|s| s.state == StepState::Intent)
                {
                    // Listed after the intent was written, and absent: it never happened.
                    unsettled.push(Unsettled {
                        key: key.clone(),
                        step: STEP,
                        took_effect: None,
                    });
                }
                if job.action == Action::Update {
                    return failed(
                        out,
                        format!("no user with login {login} on target {target} to modify"),
                    );
                }
                Method::Add
            }
        };

        let problems = crate::vendors::problems(
            VendorKind::Drtrack,
            &row,
            if method == Method::Add {
                Action::Create
            } else {
                Action::Update
            },
        );
        if !problems.is_empty() {
            let mut invalid = Outcome::invalid(job.action, &problems);
            invalid.user_id = out.user_id;
            return Ok(Decision::Finish(invalid));
        }

        let email = row.get(Field::Email).map(|e| e.trim().to_lowercase());
        if let Some(e) = &email {
            if let Some(owner) = dir.email_owner(e).filter(|o| *o != key) {
                let owner = dir.login(owner).map_or(owner, |u| u.login.as_str());
                return failed(
                    out,
                    format!(
                        "email {e} is already used by login {owner} on DRTrack, which allows one user per email; not sent"
                    ),
                );
            }
            match emails.get(e) {
                Some((other_key, other, at)) if *other_key != key => {
                    return failed(
                        out,
                        format!(
                            "email {e} is also given to login {other} at {at}; DRTrack allows one user per email, so only that row is sent"
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    emails.insert(e.clone(), (key.clone(), login.clone(), place));
                }
            }
        }

        let mut notes = Vec::new();
        let branches = row
            .get(Field::BranchIds)
            .and_then(|b| rules::branch_ids(b).ok());
        let group_id = row
            .get(Field::GroupId)
            .and_then(|g| g.trim().parse::<i64>().ok());
        let user_group = row.get(Field::UserGroup);
        let group = user_group
            .map(str::to_string)
            .or_else(|| group_id.map(|g| format!("#{g}")));
        let password = match method {
            Method::Add => match row.get(Field::Password) {
                Some(p) => Some(p.to_string()),
                None if !ctx.dry_run() => {
                    let pw = strong_password();
                    // Sent only when kept (`--secrets-out`): otherwise DRTrack's own random
                    // password serves as well.
                    ctx.keep_generated_password(&key, &pw)?
                        .then(|| pw.expose().to_string())
                }
                None => None,
            },
            _ => {
                if row.get(Field::Password).is_some() {
                    notes.push("password not changed: DRTrack ignores passwords on MODIFY".into());
                }
                None
            }
        };
        let sent_login = match (method, listed) {
            (Method::Modify, Some(u)) => u.login.clone(),
            _ => login.clone(),
        };
        let extra: Vec<(&str, &str)> = row.passthrough(VendorKind::Drtrack).collect();
        // A MODIFY carries only the listed fields that differ (and what cannot be compared).
        let compare = method == Method::Modify && listed.is_some();
        let body = wire::operation(
            method,
            &OpFields {
                branch_ids: branches.as_deref(),
                first_name: differing(
                    &row,
                    Field::FirstName,
                    listed.and_then(|u| u.first_name.as_deref()),
                    compare,
                ),
                last_name: differing(
                    &row,
                    Field::LastName,
                    listed.and_then(|u| u.last_name.as_deref()),
                    compare,
                ),
                email: differing(
                    &row,
                    Field::Email,
                    listed.and_then(|u| u.email.as_deref()),
                    compare,
                ),
                password: password.as_deref(),
                login: &sent_login,
                group_id,
                user_group,
            },
            &extra,
        );
        Ok(Decision::Send(Box::new(Pending {
            method,
            body,
            login: sent_login,
            email,
            group,
            branches: branches.filter(|b| b != "ALL"),
            notes,
            out,
            job,
        })))
    }
}

/// The row's `field` (trimmed) unless `compare` and the platform already `have`s the same
/// value (`audit::same`, the audit's own comparison).
fn differing<'a>(
    row: &'a crate::model::Row,
    field: Field,
    have: Option<&str>,
    compare: bool,
) -> Option<&'a str> {
    let have = have.unwrap_or("");
    row.get(field)
        .map(str::trim)
        .filter(|w| !compare || !crate::audit::same(field, w, have))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Credentials;
    use crate::model::Row;
    use crate::vendors::testing::{Planner, THIS_RUN};
    use std::sync::Arc;

    fn job(index: usize, action: Action, login: &str, email: &str) -> Job {
        let mut row = Row::of_pairs(&[
            ("username", login),
            ("email", email),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("user_group", "Driver"),
        ]);
        row.index = index;
        row.line = index as u32 + 2;
        let key = crate::model::identity_key(VendorKind::Drtrack, &row).unwrap_or_default();
        Job {
            index,
            row: Arc::new(row),
            action,
            key,
        }
    }

    /// DRTrack holding `ann` (ann@fleet.test) and `bob` (bob@fleet.test).
    fn dir() -> Directory {
        let users = serde_json::json!([
            {"key": 11, "userID": "ann", "firstName": "Ann", "lastName": "Lee", "email": "ann@fleet.test"},
            {"key": 12, "userID": "bob", "firstName": "Bob", "lastName": "Lee", "email": "bob@fleet.test"},
        ]);
        Directory::from_users(serde_json::from_value(users).unwrap())
    }

    /// What planning said of a row: the outcome it finished with, or the operation to send,
    /// and what it hands the engine to settle.
    /// Steps handed to the engine to settle: `key:step`, and the id when it took effect.
    type Settles = Vec<(String, Option<String>)>;

    fn plan(engine: &Planner, jobs: Vec<Job>) -> Vec<(String, Settles)> {
        let connector = Drtrack::new(Credentials::default());
        let (mut logins, mut emails) = (HashMap::new(), HashMap::new());
        jobs.into_iter()
            .map(|job| {
                let mut unsettled = Vec::new();
                let decision = connector
                    .decide(
                        engine,
                        &dir(),
                        job,
                        &mut logins,
                        &mut emails,
                        &mut unsettled,
                    )
                    .unwrap();
                let said = match decision {
                    Decision::Finish(out) => match out.error {
                        Some(e) => format!("{}: {e}", out.status),
                        None => out.status.to_string(),
                    },
                    Decision::Send(p) => format!("send {:?}", p.method),
                };
                let settle = unsettled
                    .into_iter()
                    .map(|u| (format!("{}:{}", u.key, u.step), u.took_effect))
                    .collect();
                (said, settle)
            })
            .collect()
    }

    #[test]
    fn rows_are_planned_from_the_list_and_the_ledger() {
        let create = Planner::new(VendorKind::Drtrack, Mode::Create);
        let upsert = Planner::new(VendorKind::Drtrack, Mode::Upsert);
        let resumed = Planner::new(VendorKind::Drtrack, Mode::Create)
            .with_step("ann", STEP, StepState::Intent, THIS_RUN)
            .with_step("cat", STEP, StepState::Intent, "earlier")
            .with_step("dan", STEP_DELETE, StepState::Intent, "earlier");
        let none: Vec<(String, Option<String>)> = Vec::new();
        type Case<'a> = (
            &'a str,
            &'a Planner,
            Job,
            &'a str,
            Vec<(String, Option<String>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "a new login",
                &create,
                job(0, Action::Create, "cat", "cat@fleet.test"),
                "send Add",
                none.clone(),
            ),
            (
                "a listed login",
                &create,
                job(0, Action::Create, "ann", "ann@fleet.test"),
                "exists",
                none.clone(),
            ),
            (
                "a listed login, upsert, same fields",
                &upsert,
                job(0, Action::Create, "ann", "ann@fleet.test"),
                "exists",
                none.clone(),
            ),
            (
                "a listed login, upsert, another email",
                &upsert,
                job(0, Action::Create, "ann", "ann2@fleet.test"),
                "send Modify",
                none.clone(),
            ),
            (
                "an update of nobody",
                &create,
                job(0, Action::Update, "cat", "cat@fleet.test"),
                "failed: no user with login cat on target t to modify",
                none.clone(),
            ),
            (
                "a delete",
                &create,
                job(0, Action::Delete, "bob", ""),
                "send Delete",
                none.clone(),
            ),
            (
                "a delete of nobody",
                &create,
                job(0, Action::Delete, "cat", ""),
                "failed: no user with login cat on target t",
                none.clone(),
            ),
            (
                "another login's email",
                &create,
                job(0, Action::Create, "cat", "bob@fleet.test"),
                "failed: email bob@fleet.test is already used by login bob on DRTrack, which allows one user per email; not sent",
                none.clone(),
            ),
            (
                "this run's own ADD, listed",
                &resumed,
                job(0, Action::Create, "ann", "ann@fleet.test"),
                "created",
                vec![("ann:user".into(), Some("11".into()))],
            ),
            (
                "an earlier ADD, not listed",
                &resumed,
                job(0, Action::Create, "cat", "cat@fleet.test"),
                "send Add",
                vec![("cat:user".into(), None)],
            ),
            (
                "an earlier DELETE, gone",
                &resumed,
                job(0, Action::Delete, "dan", ""),
                "deleted: deleted; login dan was already removed by an earlier run, nothing sent",
                vec![("dan:delete".into(), Some("dan".into()))],
            ),
        ];
        for (name, engine, job, said, settle) in cases {
            let got = plan(engine, vec![job]);
            assert_eq!(got, vec![(said.to_string(), settle)], "{name}");
        }
    }

    #[test]
    fn a_login_or_email_given_twice_is_sent_once() {
        let engine = Planner::new(VendorKind::Drtrack, Mode::Create);
        let got = plan(
            &engine,
            vec![
                job(0, Action::Create, "cat", "cat@fleet.test"),
                job(1, Action::Create, "cat", "cat@fleet.test"),
                job(2, Action::Create, "dan", "cat@fleet.test"),
            ],
        );
        let said: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            said,
            [
                "send Add",
                "failed: login cat also appears at roster.csv row 2; only that row is sent",
                "failed: email cat@fleet.test is also given to login cat at roster.csv row 2; DRTrack allows one user per email, so only that row is sent",
            ]
        );
    }
}
