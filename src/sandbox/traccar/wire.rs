//! Traccar's JSON as the server reads and writes it (`org.traccar.model.User`, `Device`),
//! with Jackson's strictness: an unknown property is refused, `"email": null` fails in the
//! setter, a value of the wrong type is refused. Our own types; nothing shared with
//! `vendors/`.

// A refusal is the ready 400 itself; its size does not matter at one per request.
#![allow(clippy::result_large_err)]

use axum::response::Response;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::errors;

/// The properties `org.traccar.model.User` accepts (traccar.md "POST /users").
const USER_PROPERTIES: &[&str] = &[
    "id",
    "attributes",
    "name",
    "login",
    "email",
    "phone",
    "readonly",
    "administrator",
    "map",
    "latitude",
    "longitude",
    "zoom",
    "password",
    "coordinateFormat",
    "disabled",
    "expirationTime",
    "deviceLimit",
    "userLimit",
    "deviceReadonly",
    "limitCommands",
    "disableReports",
    "fixedEmail",
    "poiLayer",
    "totpKey",
    "temporary",
];

/// A user as the simulator stores it and answers it (`password` always `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: i64,
    pub attributes: Map<String, Value>,
    /// NOT NULL in the database: `None` only in a body not yet stored.
    pub name: Option<String>,
    pub login: Option<String>,
    /// NOT NULL and UNIQUE (trimmed; compared case-insensitively, as MySQL does).
    pub email: Option<String>,
    pub phone: Option<String>,
    pub readonly: bool,
    pub administrator: bool,
    pub map: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub zoom: i32,
    /// Whether a password was set; the password itself is not kept. Answered as
    /// `"password": null` where Traccar puts it (the spec says string; the server sends null).
    #[serde(rename = "password", serialize_with = "always_null")]
    pub has_password: bool,
    pub coordinate_format: Option<String>,
    pub disabled: bool,
    pub expiration_time: Option<String>,
    pub device_limit: i32,
    pub user_limit: i32,
    pub device_readonly: bool,
    pub limit_commands: bool,
    pub disable_reports: bool,
    pub fixed_email: bool,
    pub poi_layer: Option<String>,
    pub totp_key: Option<String>,
    pub temporary: bool,
}

fn always_null<S: Serializer>(_: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_none()
}

impl User {
    /// A user with Traccar's defaults (`new User()`).
    pub fn new(name: &str, email: &str) -> User {
        User {
            name: Some(name.to_string()),
            email: Some(email.trim().to_string()),
            ..User::blank()
        }
    }

    fn blank() -> User {
        User {
            id: 0,
            attributes: Map::new(),
            name: None,
            login: None,
            email: None,
            phone: None,
            readonly: false,
            administrator: false,
            map: None,
            latitude: 0.0,
            longitude: 0.0,
            zoom: 0,
            coordinate_format: None,
            disabled: false,
            expiration_time: None,
            device_limit: 0,
            user_limit: 0,
            device_readonly: false,
            limit_commands: false,
            disable_reports: false,
            fixed_email: false,
            poi_layer: None,
            totp_key: None,
            temporary: false,
            has_password: false,
        }
    }

    /// The email as the unique index compares it.
    pub(crate) fn email_key(&self) -> Option<String> {
        self.email.as_deref().map(email_key)
    }
}

/// Trimmed and lower-cased: MySQL's default collation ignores case.
pub(crate) fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The body as Jackson binds it; absent and `null` both leave the default.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIn {
    id: Option<i64>,
    attributes: Option<Map<String, Value>>,
    name: Option<String>,
    login: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    readonly: Option<bool>,
    administrator: Option<bool>,
    map: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    zoom: Option<i32>,
    password: Option<String>,
    coordinate_format: Option<String>,
    disabled: Option<bool>,
    expiration_time: Option<String>,
    device_limit: Option<i32>,
    user_limit: Option<i32>,
    device_readonly: Option<bool>,
    limit_commands: Option<bool>,
    disable_reports: Option<bool>,
    fixed_email: Option<bool>,
    poi_layer: Option<String>,
    totp_key: Option<String>,
    temporary: Option<bool>,
}

/// Binds a request body to a [`User`] the way Jackson would, or the 400 it answers.
pub(crate) fn parse_user(body: &[u8]) -> Result<User, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(errors::mapping(
            "No content to map due to end-of-input".into(),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| errors::mapping(format!("Unexpected character: {e}")))?;
    let Value::Object(map) = &value else {
        return Err(errors::mapping(format!(
            "Cannot deserialize value of type `org.traccar.model.User` from {} value",
            kind(&value)
        )));
    };
    if let Some(unknown) = map.keys().find(|k| !USER_PROPERTIES.contains(&k.as_str())) {
        return Err(errors::mapping(format!(
            "Unrecognized field \"{unknown}\" (class org.traccar.model.User), not marked as ignorable \
             ({} known properties) (through reference chain: org.traccar.model.User[\"{unknown}\"])",
            USER_PROPERTIES.len()
        )));
    }
    if map.get("email") == Some(&Value::Null) {
        // `User.setEmail` trims its argument.
        return Err(errors::mapping(
            "Cannot invoke \"String.trim()\" because \"email\" is null \
             (through reference chain: org.traccar.model.User[\"email\"])"
                .into(),
        ));
    }
    let input: UserIn = serde_json::from_value(value.clone()).map_err(|e| {
        errors::mapping(format!(
            "Cannot deserialize value of type `org.traccar.model.User`: {e}"
        ))
    })?;
    let expiration_time = match input.expiration_time {
        None => None,
        Some(text) => Some(iso_date(&text).ok_or_else(|| {
            errors::mapping(format!(
                "Cannot deserialize value of type `java.util.Date` from String \"{text}\": \
                 not a valid representation (through reference chain: org.traccar.model.User[\"expirationTime\"])"
            ))
        })?),
    };
    let d = User::blank();
    Ok(User {
        id: input.id.unwrap_or(d.id),
        attributes: input.attributes.unwrap_or_default(),
        name: input.name,
        login: input.login,
        email: input.email.map(|e| e.trim().to_string()),
        phone: input.phone.map(|p| p.trim().to_string()),
        readonly: input.readonly.unwrap_or(d.readonly),
        administrator: input.administrator.unwrap_or(d.administrator),
        map: input.map,
        latitude: input.latitude.unwrap_or(d.latitude),
        longitude: input.longitude.unwrap_or(d.longitude),
        zoom: input.zoom.unwrap_or(d.zoom),
        coordinate_format: input.coordinate_format,
        disabled: input.disabled.unwrap_or(d.disabled),
        expiration_time,
        device_limit: input.device_limit.unwrap_or(d.device_limit),
        user_limit: input.user_limit.unwrap_or(d.user_limit),
        device_readonly: input.device_readonly.unwrap_or(d.device_readonly),
        limit_commands: input.limit_commands.unwrap_or(d.limit_commands),
        disable_reports: input.disable_reports.unwrap_or(d.disable_reports),
        fixed_email: input.fixed_email.unwrap_or(d.fixed_email),
        poi_layer: input.poi_layer,
        totp_key: input.totp_key,
        temporary: input.temporary.unwrap_or(d.temporary),
        has_password: input.password.is_some(),
    })
}

/// ISO 8601 date-time → Traccar's output form (`2026-01-31T00:00:00.000+00:00`).
fn iso_date(text: &str) -> Option<String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    Some(
        parsed
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
            .to_string(),
    )
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Integer",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// A device as `GET /devices` answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: i64,
    pub attributes: Map<String, Value>,
    pub group_id: i64,
    pub calendar_id: i64,
    pub name: String,
    pub unique_id: String,
    pub status: String,
    pub last_update: Option<String>,
    pub position_id: i64,
    pub phone: Option<String>,
    pub model: Option<String>,
    pub contact: Option<String>,
    pub category: Option<String>,
    pub disabled: bool,
    pub expiration_time: Option<String>,
}

impl Device {
    /// A seeded, never-seen device.
    pub fn new(id: i64, name: &str, unique_id: &str) -> Device {
        Device {
            id,
            attributes: Map::new(),
            group_id: 0,
            calendar_id: 0,
            name: name.to_string(),
            unique_id: unique_id.to_string(),
            status: "offline".into(),
            last_update: None,
            position_id: 0,
            phone: None,
            model: None,
            contact: None,
            category: None,
            disabled: false,
            expiration_time: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn refusal(body: &str) -> String {
        let response = parse_user(body.as_bytes()).expect_err(body);
        assert_eq!(response.status(), 400, "{body}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn bodies_jackson_refuses() {
        let cases = [
            ("", "No content to map"),
            ("{", "Unexpected character"),
            ("[]", "from Array value"),
            (
                r#"{"name":"A","email":"a@b.c","x":1}"#,
                "Unrecognized field \"x\"",
            ),
            (r#"{"name":"A","email":null}"#, "because \"email\" is null"),
            (
                r#"{"name":"A","email":"a@b.c","readonly":"yes"}"#,
                "Cannot deserialize",
            ),
            (
                r#"{"name":"A","email":"a@b.c","expirationTime":"soon"}"#,
                "java.util.Date",
            ),
        ];
        for (body, want) in cases {
            let text = refusal(body).await;
            assert!(text.contains(want), "{body}: {text}");
        }
    }

    #[test]
    fn bodies_jackson_binds() {
        let u = parse_user(
            br#"{"id":9,"name":"Ann","email":"  Ann@X.io ","phone":" 1 ","deviceLimit":null,
                 "readonly":true,"password":"pw","expirationTime":"2026-01-31T10:00:00+02:00",
                 "attributes":{"k":"v"}}"#,
        )
        .unwrap();
        assert_eq!(u.id, 9);
        assert_eq!(u.email.as_deref(), Some("Ann@X.io"));
        assert_eq!(u.email_key().as_deref(), Some("ann@x.io"));
        assert_eq!(u.phone.as_deref(), Some("1"));
        assert_eq!(u.device_limit, 0);
        assert!(u.readonly && u.has_password);
        assert_eq!(
            u.expiration_time.as_deref(),
            Some("2026-01-31T08:00:00.000+00:00")
        );
        let missing = parse_user(br#"{"name":"Ann"}"#).unwrap();
        assert_eq!(missing.email, None);
    }

    #[test]
    fn answers_carry_a_null_password_and_camel_case() {
        let mut u = User::new("Ann", "ann@x.io");
        u.has_password = true;
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(json["password"], Value::Null);
        assert_eq!(json["deviceLimit"], 0);
        assert!(json.get("hasPassword").is_none());
    }
}
