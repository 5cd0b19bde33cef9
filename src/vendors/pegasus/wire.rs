//! Pegasus wire format as `shared/vendors/pegasus.md` spells it: the replies muster reads
//! (login, `/user`, paginated lists, created ids) and the three bodies it sends (group,
//! user, app access). Roster cells become JSON here, nowhere else.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::audit::same;
use crate::http::Reply;
use crate::model::{Field, Problem, Row};
use crate::model::{PlatformUser, list_items, parse_bool};
use crate::secret::Secret;
use crate::vendors::Job;
use crate::vendors::protocol::Verdict;

/// `POST /login` → `{"message", "app", "auth": "<token>"}`.
#[derive(Debug, Deserialize)]
pub(super) struct LoginReply {
    #[serde(default)]
    pub auth: Option<String>,
}

/// `GET /user`: who the token is and what it may do.
#[derive(Debug, Deserialize)]
pub(super) struct Me {
    /// Who the token is (any JSON: only a string is read).
    #[serde(default)]
    pub username: Option<Value>,
    #[serde(default)]
    pub scopes: BTreeMap<String, Value>,
    #[serde(default)]
    pub is_staff: Option<Value>,
}

impl Me {
    /// Whether the token may write `resource` (`is_staff: true` may do everything).
    pub fn can_write(&self, resource: &str) -> bool {
        if self.is_staff.as_ref().is_some_and(truthy) {
            return true;
        }
        self.scopes
            .get(resource)
            .and_then(Value::as_str)
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("w"))
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() == Some(1),
        Value::String(s) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1"),
        _ => false,
    }
}

/// One page of a list: `{"set", "total", "page", "pages", "data": [...]}`.
#[derive(Debug, Deserialize)]
pub(super) struct Page<T> {
    #[serde(default)]
    pub pages: Option<u64>,
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

/// A group as listed (only what muster reads).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Group {
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
}

/// The user fields muster reads from `GET /users` (`select=`): identity, what `muster
/// audit` compares, and whether the user is active.
pub(super) const USER_FIELDS: &str =
    "id,username,email,first_name,last_name,phone,groups,is_active";

/// A user as listed with `select=` [`USER_FIELDS`].
#[derive(Debug, Clone, Deserialize)]
pub(super) struct User {
    pub id: i64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// A string in the guide's sample, `null` when unset; a number is accepted too.
    #[serde(default)]
    pub phone: Option<Value>,
    /// Group ids (`[3705]`).
    #[serde(default)]
    pub groups: Option<Vec<Value>>,
    #[serde(default)]
    pub is_active: Option<Value>,
}

impl User {
    /// False only when the platform says `is_active: false` (missing counts as active).
    pub fn active(&self) -> bool {
        self.is_active.as_ref().is_none_or(truthy)
    }

    /// The phone as text, `None` when unset.
    pub fn phone_text(&self) -> Option<String> {
        match self.phone.as_ref()? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The ids of the user's groups, as text.
    pub fn group_ids(&self) -> Vec<String> {
        self.groups
            .iter()
            .flatten()
            .filter_map(|g| match g {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => None,
            })
            .collect()
    }

    /// The user's groups by name, `|`-joined in the platform's order (ids without a known
    /// name are left out): the roster's `company`.
    pub fn company(&self, names: &HashMap<String, String>) -> Option<String> {
        let list: Vec<&str> = self
            .group_ids()
            .iter()
            .filter_map(|id| names.get(id).map(String::as_str))
            .collect();
        (!list.is_empty()).then(|| list.join("|"))
    }
}

/// A listed user in roster terms (`PlatformUser`): key = lower-cased username (else
/// e-mail), the fields the list reports, `company` from the group names. `None` for a user
/// without username and e-mail.
pub(super) fn platform_user(
    u: &User,
    group_names: &HashMap<String, String>,
) -> Option<PlatformUser> {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let username = clean(&u.username);
    let email = clean(&u.email);
    let key = username.as_ref().or(email.as_ref())?.to_lowercase();
    let mut fields = Vec::new();
    let mut put = |f: Field, v: Option<String>| {
        if let Some(v) = v {
            fields.push((f, v));
        }
    };
    put(Field::Username, username);
    put(Field::Email, email);
    put(Field::FirstName, clean(&u.first_name));
    put(Field::LastName, clean(&u.last_name));
    put(Field::Phone, u.phone_text());
    put(Field::Company, u.company(group_names));
    Some(PlatformUser {
        key,
        id: u.id.to_string(),
        fields,
        active: u.active(),
        aliases: Vec::new(),
    })
}

/// The `PUT /users/{id}` body that makes `have` look like the row: only the fields the row
/// sets and the platform holds differently (names trimmed, e-mail case-insensitive, phone
/// as digits). `company` changes the groups to `[group_id]` when the user's groups are not
/// exactly that company's (`company_group` is then required). Username (the identity) and
/// password are never changed here.
pub(super) fn changes(
    row: &Row,
    have: &User,
    group_names: &HashMap<String, String>,
    company_group: Option<&str>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let want = |f: Field| row.get(f).map(str::trim).filter(|v| !v.is_empty());
    let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").to_string();
    for (field, key, have) in [
        (Field::FirstName, "first_name", text(&have.first_name)),
        (Field::LastName, "last_name", text(&have.last_name)),
    ] {
        if let Some(w) = want(field).filter(|w| !same(field, w, &have)) {
            out.insert(key.into(), json!(w));
        }
    }
    if let Some(w) = want(Field::Email).filter(|w| !same(Field::Email, w, &text(&have.email))) {
        out.insert("email".into(), json!(w));
    }
    if let Some(w) = want(Field::Phone)
        .filter(|w| !same(Field::Phone, w, &have.phone_text().unwrap_or_default()))
    {
        out.insert("phone".into(), json!(w));
    }
    // Listed on the roster: an inactive user is given its access back (see
    // `audit::differences`).
    if !have.active() && !crate::audit::roster_disabled(row) {
        out.insert("is_active".into(), json!(true));
    }
    if let Some(c) = company(row) {
        if have.company(group_names).as_deref() != Some(c) {
            if let Some(g) = company_group {
                let mut body = json!({"groups": []});
                set_group(&mut body, g);
                out.insert("groups".into(), body["groups"].take());
            }
        }
    }
    out
}

/// Whether the row's company differs from the user's groups (so the update needs the group).
pub(super) fn company_differs(
    row: &Row,
    have: &User,
    group_names: &HashMap<String, String>,
) -> bool {
    company(row).is_some_and(|c| have.company(group_names).as_deref() != Some(c))
}

/// The id in a create's (or `/apps`') reply.
pub(super) fn reply_id(reply: &Reply) -> Option<String> {
    let v = reply.json()?;
    match v.get("id")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// How a `POST /groups` reply reads: made (with the id it names, if any) or refused.
pub(super) fn classify_group(reply: &Reply) -> Verdict {
    if reply.ok() {
        Verdict::Made(reply_id(reply))
    } else {
        Verdict::Refused {
            reason: readable(reply),
        }
    }
}

/// How a `POST /users` reply reads: made, refused, or a 409 for a username or e-mail
/// another user holds, which may be muster's own from a create whose answer was lost.
pub(super) fn classify_user(reply: &Reply) -> Verdict {
    let reason = readable(reply);
    match reply.status {
        200..=299 => Verdict::Made(reply_id(reply)),
        409 => Verdict::Taken {
            if_absent: format!(
                "{reason}; no user has this username, so the e-mail is probably another user's"
            ),
            reason,
        },
        _ => Verdict::Refused { reason },
    }
}

/// A refusal as one readable line: the JSON `message` (and 429's `reason`/`limit`), else
/// the body's first line. Never echoes a request body, so never a password.
pub(super) fn readable(reply: &Reply) -> String {
    let status = reply.status;
    let parsed = reply.json();
    let message = parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let text = match (message, status) {
        (Some(m), 429) => {
            let v = parsed.as_ref();
            let reason = v.and_then(|v| v.get("reason")).and_then(Value::as_str);
            let limit = v.and_then(|v| v.get("limit")).map(Value::to_string);
            match (reason, limit) {
                (Some(r), Some(l)) => format!("{m} on {r} (limit {l})"),
                (Some(r), None) => format!("{m} on {r}"),
                _ => m.to_string(),
            }
        }
        (Some(m), _) => m.to_string(),
        (None, _) => reply.excerpt(),
    };
    let what = match status {
        409 => " (duplicate)",
        400 => " (refused as invalid)",
        401 => " (not authenticated, missing scope or no shared group)",
        429 => " (rate limited)",
        _ => "",
    };
    if text.is_empty() {
        format!("HTTP {status}{what}")
    } else {
        format!("HTTP {status}{what}: {text}")
    }
}

/// The nine web apps of the user-creation guide's example, granted when the roster names none.
pub(super) const DEFAULT_APPS: &[&str] = super::rules::APPS;

/// The scopes of the guide's sample, given when the roster names none.
const DEFAULT_SCOPES: [(&str, &str); 4] = [
    ("assets", "r"),
    ("vehicles", "w"),
    ("geofences", "w"),
    ("vehicles:device", "r"),
];

/// The company of a row (its group's exact name), trimmed.
pub(super) fn company(row: &Row) -> Option<&str> {
    row.get(Field::Company)
        .map(str::trim)
        .filter(|c| !c.is_empty())
}

/// `POST /groups`: the organisation, named after the company; the contact is the company's
/// first row in input order.
pub(super) fn group_body(company: &str, contact: &Row) -> Value {
    let contact_name = [contact.get(Field::FirstName), contact.get(Field::LastName)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    json!({
        "name": company,
        "company_name": company,
        "contact_name": contact_name,
        "contact_email": contact.get(Field::Email).unwrap_or(""),
        "address_1": "",
        "city": "",
        "country": "",
        "logo": null,
    })
}

/// What the user body needs besides the row.
pub(super) struct UserBody {
    pub body: Value,
    /// A password muster generated (the roster had none and no `send_email`).
    pub generated: Option<Secret>,
}

/// `POST /users`, shaped as the guide's sample, with `groups: []` until
/// [`set_group`] fills it; `Err` lists the cells muster cannot turn into the body.
pub(super) fn user_body(job: &Job) -> Result<UserBody, Vec<Problem>> {
    let row = &job.row;
    let scopes = scopes(row)?;
    let username = row
        .get(Field::Username)
        .or_else(|| row.get(Field::Email))
        .unwrap_or(&job.key)
        .trim()
        .to_string();
    let email = row
        .get(Field::Email)
        .unwrap_or(&username)
        .trim()
        .to_string();
    let send_email = row.get(Field::SendEmail).and_then(parse_bool) == Some(true);
    let (password, generated) = match row.get(Field::Password) {
        Some(p) => (Some(p.to_string()), None),
        None if send_email => (None, None),
        None => {
            let p = policy_password();
            (Some(p.expose().to_string()), Some(p))
        }
    };
    let mut body = Map::new();
    body.insert(
        "access".into(),
        json!(row.get(Field::Role).unwrap_or("basic")),
    );
    body.insert("email".into(), json!(email));
    body.insert("send_email".into(), json!(send_email));
    body.insert("username".into(), json!(username));
    if let Some(p) = password {
        body.insert("password".into(), json!(p));
    }
    body.insert(
        "first_name".into(),
        json!(row.get(Field::FirstName).unwrap_or("")),
    );
    body.insert(
        "last_name".into(),
        json!(row.get(Field::LastName).unwrap_or("")),
    );
    body.insert("groups".into(), json!([]));
    body.insert("id".into(), Value::Null);
    body.insert("id_user".into(), json!("new"));
    body.insert("is_active".into(), json!(true));
    body.insert("is_staff".into(), json!(false));
    body.insert("is_superuser".into(), json!(false));
    body.insert(
        "phone".into(),
        row.get(Field::Phone).map_or(Value::Null, |p| json!(p)),
    );
    body.insert(
        "prefs".into(),
        json!({
            "coords": "WGS84",
            "date_format": "YYYY-MM-DD",
            "distance": "km",
            "distanceunits": "km",
            "fuelunits": "liter",
            "hour_format": 12,
            "language": row.get(Field::Language).unwrap_or("en").to_ascii_lowercase(),
            "system_notifications": {},
            "temperature": "C",
            "volume": "liter",
        }),
    );
    body.insert("roles".into(), json!([]));
    body.insert("scopes".into(), Value::Object(scopes));
    Ok(UserBody {
        body: Value::Object(body),
        generated,
    })
}

/// Puts the company's group in the user body (`groups: [id]`, a number when it is one).
pub(super) fn set_group(body: &mut Value, group_id: &str) {
    let group: Value = group_id
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(group_id));
    if let Some(slot) = body.get_mut("groups") {
        *slot = json!([group]);
    }
}

/// The `scopes` object: `resource=r|w` items of the roster, else the guide's sample.
fn scopes(row: &Row) -> Result<Map<String, Value>, Vec<Problem>> {
    let mut out = Map::new();
    let Some(text) = row.get(Field::Scopes) else {
        for (k, v) in DEFAULT_SCOPES {
            out.insert(k.into(), json!(v));
        }
        return Ok(out);
    };
    let mut problems = Vec::new();
    for item in list_items(text) {
        match item.split_once('=') {
            Some((k, v))
                if !k.trim().is_empty()
                    && matches!(v.trim().to_ascii_lowercase().as_str(), "r" | "w") =>
            {
                out.insert(k.trim().into(), json!(v.trim().to_ascii_lowercase()));
            }
            _ => problems.push(Problem::field(
                row,
                Field::Scopes,
                format!("item \"{item}\" is not resource=r or resource=w"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// `PUT /apps/pegasus2.0?user=ID`: the apps the roster names (`|` list), else the nine.
pub(super) fn apps_body(row: &Row) -> Value {
    let named: Vec<&str> = row.get(Field::Apps).map(list_items).unwrap_or_default();
    let list: Vec<&str> = if named.is_empty() {
        DEFAULT_APPS.to_vec()
    } else {
        named
    };
    let apps: Map<String, Value> = list
        .into_iter()
        .map(|a| (a.to_ascii_lowercase(), Value::Bool(true)))
        .collect();
    json!({ "staff": { "apps": apps } })
}

/// The apps a `GET /apps/pegasus2.0?user=` answer grants, as the roster's `apps` cell
/// writes them (`|`-separated, lower-case, sorted): a 404 grants none, a `disabled` record
/// none; `Err` for any other answer (issue 28).
pub(super) fn granted_apps(reply: &Reply) -> Result<String, String> {
    if reply.status == 404 {
        return Ok(String::new());
    }
    if !reply.ok() {
        return Err(format!("HTTP {}: {}", reply.status, readable(reply)));
    }
    let record: Value = serde_json::from_str(&reply.body).map_err(|e| e.to_string())?;
    if record.get("disabled").and_then(Value::as_bool) == Some(true) {
        return Ok(String::new());
    }
    let mut apps: Vec<String> = record
        .pointer("/staff/apps")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, on)| on.as_bool() == Some(true))
                .map(|(k, _)| k.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    apps.sort();
    Ok(apps.join("|"))
}

/// A password the 6.11.1 policy accepts: upper, lower and digit guaranteed, 35 chars.
fn policy_password() -> Secret {
    let random = crate::vendors::generate_password();
    Secret::new(format!("Mu7{}", random.expose()))
}
