//! Motive's wire shapes as `shared/vendors/motive.md` spells them: single users wrapped in
//! `user`, lists of `{"user": {...}}` items with a `pagination` block, errors as
//! `{"error_message": "..."}`. Users are kept as JSON objects (plus the few fields muster
//! matches on) so an update can compare every field the roster sets.

use serde::Deserialize;
use serde_json::{Map, Value};

/// A user as Motive returns it, with what muster matches on pulled out.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The platform's id, as text (`"4812"`).
    pub id: String,
    /// Trimmed, lower-case.
    pub email: Option<String>,
    /// Trimmed, lower-case.
    pub username: Option<String>,
    /// `(external_id, integration_name)` pairs, as sent.
    pub external_ids: Vec<(String, String)>,
    /// Every field of the user object, for comparing on update.
    pub fields: Map<String, Value>,
}

impl User {
    /// Reads a user object, wrapped in `user` or not; `None` without a usable id.
    pub fn from_value(value: &Value) -> Option<User> {
        let obj = match value.get("user") {
            Some(inner @ Value::Object(_)) => inner.as_object()?,
            _ => value.as_object()?,
        };
        let id = match obj.get("id")? {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => return None,
        };
        let text = |k: &str| {
            obj.get(k)
                .and_then(Value::as_str)
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
        };
        let external_ids = obj
            .get("external_ids")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|e| {
                        let id = e.get("external_id").and_then(Value::as_str)?;
                        let name = e
                            .get("integration_name")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        Some((id.to_string(), name.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(User {
            id,
            email: text("email"),
            username: text("username"),
            external_ids,
            fields: obj.clone(),
        })
    }

    /// Whether the user carries `external_id` under `integration_name`.
    pub fn has_external_id(&self, external_id: &str, integration_name: &str) -> bool {
        self.external_ids
            .iter()
            .any(|(id, name)| id == external_id && name == integration_name)
    }
}

/// The `pagination` block of a list (`per_page` and `page_no` echo the request; only the
/// total matters to muster).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub total: Option<u64>,
}

/// One page of `GET /users` or `GET /groups`: `{"<items>": [...], "pagination": {...}}`.
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<Value>,
    pub pagination: Pagination,
}

impl Page {
    /// Reads a page whose list is under `key` (`users`, `groups`).
    pub fn parse(body: &str, key: &str) -> Result<Page, String> {
        let value: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
        let Value::Object(mut value) = value else {
            return Err(format!("no \"{key}\" list in the reply"));
        };
        // Taken out of the page, not copied.
        let items = match value.remove(key) {
            Some(Value::Array(items)) => items,
            Some(_) => return Err(format!("\"{key}\" is not a list")),
            None => return Err(format!("no \"{key}\" list in the reply")),
        };
        let pagination = value
            .remove("pagination")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| format!("pagination: {e}"))?
            .unwrap_or_default();
        Ok(Page { items, pagination })
    }

    /// Whether a later page may hold more, given that `seen` items were read so far.
    pub fn has_more(&self, per_page: u64, seen: u64) -> bool {
        match self.pagination.total {
            Some(total) => seen < total && !self.items.is_empty(),
            None => self.items.len() as u64 >= per_page,
        }
    }
}

/// A group as `GET /groups` lists it (item wrapped in `group`, or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: i64,
    pub name: String,
}

impl Group {
    pub fn from_value(value: &Value) -> Option<Group> {
        let obj = value.get("group").unwrap_or(value);
        let id = match obj.get("id")? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Some(Group { id, name })
    }
}

/// Motive's error body as a short readable reason: `HTTP 400: Email has already been taken`.
///
/// Reads `error_message` (documented), then `errors` (list or field map) and `error`, else
/// the body's first line. `secret` (the row's password) is blanked if the platform echoes it.
pub fn readable(status: u16, body: &str, secret: Option<&str>) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| error_text(&v))
        .unwrap_or_else(|| crate::http::excerpt(body));
    let mut message = message.trim().to_string();
    if let Some(s) = secret.filter(|s| s.len() >= 3) {
        message = message.replace(s, "***");
    }
    if message.chars().count() > 300 {
        message = message.chars().take(300).collect::<String>() + "…";
    }
    if message.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {message}")
    }
}

fn error_text(v: &Value) -> Option<String> {
    if let Some(s) = v.get("error_message").and_then(Value::as_str) {
        return Some(s.to_string());
    }
    match v.get("errors") {
        Some(Value::Array(items)) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            return (!parts.is_empty()).then(|| parts.join("; "));
        }
        Some(Value::Object(fields)) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(k, m)| match m {
                    Value::Array(ms) => format!(
                        "{k} {}",
                        ms.iter()
                            .map(|x| x
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| x.to_string()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Value::String(s) => format!("{k} {s}"),
                    other => format!("{k} {other}"),
                })
                .collect();
            return (!parts.is_empty()).then(|| parts.join("; "));
        }
        Some(Value::String(s)) => return Some(s.clone()),
        _ => {}
    }
    v.get("error").and_then(Value::as_str).map(str::to_string)
}

/// Whether a refusal says a unique value is taken (the contract's assumed wording,
/// matched loosely: the decision is confirmed by a lookup, never by the text alone).
pub fn says_taken(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    lower.contains("already been taken")
        || lower.contains("already taken")
        || lower.contains("already exists")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_become_one_readable_line() {
        let cases = [
            (
                400,
                r#"{"error_message": "Email has already been taken"}"#,
                "HTTP 400: Email has already been taken",
            ),
            (
                422,
                r#"{"errors": ["First name can't be blank", "Last name can't be blank"]}"#,
                "HTTP 422: First name can't be blank; Last name can't be blank",
            ),
            (
                422,
                r#"{"errors": {"email": ["is invalid"]}}"#,
                "HTTP 422: email is invalid",
            ),
            (403, r#"{"error": "Forbidden"}"#, "HTTP 403: Forbidden"),
            (502, "<html>\n<body>Bad gateway</body>", "HTTP 502: <html>"),
            (400, "", "HTTP 400"),
            (
                400,
                r#"{"error_message": "Password hunter2 is too weak"}"#,
                "HTTP 400: Password *** is too weak",
            ),
        ];
        for (status, body, want) in cases {
            assert_eq!(readable(status, body, Some("hunter2")), want, "{body}");
        }
    }

    #[test]
    fn long_messages_are_cut() {
        let body = json!({ "error_message": "x".repeat(1000) }).to_string();
        let text = readable(400, &body, None);
        assert!(text.chars().count() < 320, "{}", text.len());
        assert!(text.ends_with('…'));
    }

    #[test]
    fn users_read_wrapped_or_bare() {
        let wrapped = json!({"user": {"id": 12, "email": " A@X.test ", "username": "Al",
            "external_ids": [{"id": 1, "external_id": "muster-ab", "integration_name": "muster"}]}});
        let u = User::from_value(&wrapped).unwrap();
        assert_eq!(u.id, "12");
        assert_eq!(u.email.as_deref(), Some("a@x.test"));
        assert_eq!(u.username.as_deref(), Some("al"));
        assert!(u.has_external_id("muster-ab", "muster"));
        assert!(!u.has_external_id("muster-ab", "other"));
        let bare = json!({"id": "13", "email": null});
        assert_eq!(User::from_value(&bare).unwrap().id, "13");
        assert!(User::from_value(&json!({"user": {"email": "a@x"}})).is_none());
    }

    #[test]
    fn pages_know_when_to_stop() {
        let p = Page::parse(
            r#"{"users": [{"user": {"id": 1}}], "pagination": {"per_page": 1, "page_no": 1, "total": 2}}"#,
            "users",
        )
        .unwrap();
        assert!(p.has_more(1, 1));
        assert!(!p.has_more(1, 2));
        let no_total = Page::parse(
            r#"{"groups": [{"group": {"id": 1, "name": "N"}}]}"#,
            "groups",
        )
        .unwrap();
        assert!(!no_total.has_more(100, 1));
        assert!(no_total.has_more(1, 1));
        assert_eq!(
            Group::from_value(&no_total.items[0]),
            Some(Group {
                id: 1,
                name: "N".into()
            })
        );
        assert!(Page::parse(r#"{"users": {}}"#, "users").is_err());
        assert!(Page::parse("not json", "users").is_err());
    }

    #[test]
    fn taken_is_recognised() {
        assert!(says_taken(
            r#"{"error_message":"Email has already been taken"}"#
        ));
        assert!(says_taken("Username has already been taken"));
        assert!(!says_taken(
            r#"{"error_message":"First name can't be blank"}"#
        ));
    }
}
