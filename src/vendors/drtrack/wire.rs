//! DRTrack's wire format, spelled as the API spells it (`shared/vendors/drtrack.md`).
//!
//! Only what muster reads is declared; everything else in a reply is ignored.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::model::Field;
use crate::model::PlatformUser;

/// `GET /auth`: `{"AuthenticationToken": "<jwt>", "Status": "200"}`.
#[derive(Debug, Deserialize, Default)]
pub(super) struct AuthReply {
    #[serde(rename = "AuthenticationToken", default)]
    pub token: Option<String>,
    /// The HTTP status again, as a string (a number is accepted too).
    #[serde(rename = "Status", default)]
    pub status: Option<Value>,
}

impl AuthReply {
    /// `Status` as text (`"200"`), whether it came as a string or a number.
    pub fn status_text(&self) -> Option<String> {
        match &self.status {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// One entry of `GET /users`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct User {
    /// DRTrack's internal id: the "created id" of a row.
    #[serde(default)]
    pub key: Option<Value>,
    #[serde(rename = "userID", default)]
    pub user_id: Option<String>,
    #[serde(rename = "firstName", default)]
    pub first_name: Option<String>,
    #[serde(rename = "lastName", default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A user as muster keeps it after reading the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listed {
    /// `key` as text.
    pub key: String,
    /// `userID` as DRTrack spells it.
    pub login: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
}

impl Listed {
    /// The user in roster terms, under its lower-cased login `key`.
    pub fn platform_user(self, key: String) -> PlatformUser {
        let mut fields = vec![(Field::Username, self.login)];
        let mut put = |f: Field, v: Option<String>| {
            if let Some(v) = v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                fields.push((f, v));
            }
        };
        put(Field::FirstName, self.first_name);
        put(Field::LastName, self.last_name);
        put(Field::Email, self.email);
        PlatformUser {
            key,
            id: self.key,
            fields,
            active: true,
            aliases: Vec::new(),
        }
    }
}

/// The users of a target, by lower-cased login and by lower-cased email.
#[derive(Debug, Clone, Default)]
pub(super) struct Directory {
    pub by_login: HashMap<String, Listed>,
    /// email → lower-cased login.
    pub by_email: HashMap<String, String>,
}

impl Directory {
    /// Builds the directory from `GET /users`; entries without a login are skipped.
    pub fn from_users(users: Vec<User>) -> Directory {
        let mut dir = Directory::default();
        for u in users {
            let Some(login) = u
                .user_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            else {
                continue;
            };
            let key = match &u.key {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            let email = u
                .email
                .as_deref()
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty());
            let lower = login.to_lowercase();
            if let Some(e) = &email {
                dir.by_email
                    .entry(e.clone())
                    .or_insert_with(|| lower.clone());
            }
            dir.by_login.insert(
                lower,
                Listed {
                    key,
                    login: login.to_string(),
                    first_name: u.first_name,
                    last_name: u.last_name,
                    email,
                },
            );
        }
        dir
    }

    /// The user with this login (case-insensitive).
    pub fn login(&self, login: &str) -> Option<&Listed> {
        self.by_login.get(&login.trim().to_lowercase())
    }

    /// The login (lower-cased) that holds this email, if any.
    pub fn email_owner(&self, email: &str) -> Option<&str> {
        self.by_email
            .get(&email.trim().to_lowercase())
            .map(String::as_str)
    }
}

/// The three operations of `PUT /users/sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Method {
    Add,
    Modify,
    Delete,
}

impl Method {
    pub fn wire(self) -> &'static str {
        match self {
            Method::Add => "ADD",
            Method::Modify => "MODIFY",
            Method::Delete => "DELETE",
        }
    }
}

/// What a sync operation carries; `None` fields are left out of the body.
#[derive(Default)]
pub(super) struct OpFields<'a> {
    pub branch_ids: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub password: Option<&'a str>,
    pub login: &'a str,
    pub group_id: Option<i64>,
    pub user_group: Option<&'a str>,
}

/// One operation of a `PUT /users/sync` body, fields in the contract's order.
pub(super) fn operation(method: Method, f: &OpFields, extra: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    m.insert("method".into(), json!(method.wire()));
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    };
    put("branchIds", f.branch_ids);
    put("firstName", f.first_name);
    put("lastName", f.last_name);
    put("email", f.email);
    put("userPassword", f.password);
    put("userLoginId", Some(f.login));
    if let Some(g) = f.group_id {
        m.insert("groupId".into(), json!(g));
    }
    if let Some(g) = f.user_group {
        m.insert("userGroup".into(), json!(g));
    }
    for (k, v) in extra {
        let v = serde_json::from_str::<Value>(v).unwrap_or_else(|_| json!(v));
        m.insert((*k).to_string(), v);
    }
    Value::Object(m)
}

/// The verdict of `PUT /users/sync`: the body is `true` or `false`, nothing else.
pub(super) fn parse_verdict(body: &str) -> Option<bool> {
    let t = body.trim().trim_matches('"').trim();
    if t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
