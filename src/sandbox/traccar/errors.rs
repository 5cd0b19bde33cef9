//! How Traccar (≥ 6.7) answers a failure (`shared/vendors/traccar.md` "Errors"): 401 with
//! an empty body, and every other exception as 400 with a plain-text Java stack trace whose
//! Content-Type still says `application/json`. Jackson's mapping errors come back as short
//! plain text.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

/// Frames under every trace: the resource call as Jersey makes it.
const JERSEY_FRAMES: &[&str] = &[
    "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
    "java.base/java.lang.reflect.Method.invoke(Method.java:580)",
    "org.glassfish.jersey.server.model.internal.ResourceMethodInvocationHandlerFactory.lambda$static$0(ResourceMethodInvocationHandlerFactory.java:52)",
    "org.glassfish.jersey.server.model.internal.AbstractJavaResourceMethodDispatcher$1.run(AbstractJavaResourceMethodDispatcher.java:146)",
    "org.glassfish.jersey.server.model.internal.AbstractJavaResourceMethodDispatcher.invoke(AbstractJavaResourceMethodDispatcher.java:189)",
    "org.glassfish.jersey.server.ServerRuntime$1.run(ServerRuntime.java:266)",
    "org.eclipse.jetty.server.handler.ContextHandler.handle(ContextHandler.java:1381)",
    "java.base/java.lang.Thread.run(Thread.java:1583)",
];

/// Where in Traccar an exception was thrown: its own frames, innermost first.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// `UserResource.add` storing the row.
    AddUser,
    /// `UserResource.add` refusing an anonymous registration.
    Register,
    /// `UserResource.update` storing the row.
    UpdateUser,
    /// `PermissionsService.checkAdmin` (a manager touching admin-only fields).
    Admin,
    /// `PermissionsService.checkPermission` (an object the caller may not see).
    Access,
    /// `PermissionsResource.add` storing the link.
    AddPermission,
}

impl Origin {
    fn frames(self) -> &'static [&'static str] {
        match self {
            Origin::AddUser => &[
                "org.traccar.storage.DatabaseStorage.addObject(DatabaseStorage.java:109)",
                "org.traccar.api.resource.UserResource.add(UserResource.java:131)",
            ],
            Origin::Register => {
                &["org.traccar.api.resource.UserResource.add(UserResource.java:112)"]
            }
            Origin::UpdateUser => &[
                "org.traccar.storage.DatabaseStorage.updateObject(DatabaseStorage.java:126)",
                "org.traccar.api.resource.UserResource.update(UserResource.java:150)",
            ],
            Origin::Admin => &[
                "org.traccar.api.security.PermissionsService.checkAdmin(PermissionsService.java:109)",
                "org.traccar.api.security.PermissionsService.checkUserUpdate(PermissionsService.java:181)",
                "org.traccar.api.resource.UserResource.add(UserResource.java:98)",
            ],
            Origin::Access => &[
                "org.traccar.api.security.PermissionsService.checkPermission(PermissionsService.java:239)",
                "org.traccar.api.BaseResource.checkPermission(BaseResource.java:61)",
            ],
            Origin::AddPermission => &[
                "org.traccar.storage.DatabaseStorage.addPermission(DatabaseStorage.java:150)",
                "org.traccar.api.resource.PermissionsResource.add(PermissionsResource.java:83)",
            ],
        }
    }
}

fn trace(first_line: &str, origin: Origin) -> String {
    let mut text = first_line.to_string();
    for frame in origin.frames().iter().chain(JERSEY_FRAMES) {
        text.push_str("\n\tat ");
        text.push_str(frame);
    }
    text
}

fn bad_request(text: String, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// 400 `java.lang.SecurityException: {message}` with its trace.
pub(crate) fn security(message: &str, origin: Origin) -> Response {
    let text = trace(&format!("java.lang.SecurityException: {message}"), origin);
    bad_request(text, "application/json")
}

/// 400 for an exception of class `class` (e.g. `java.lang.IllegalArgumentException`).
pub(crate) fn exception(class: &str, message: &str, origin: Origin) -> Response {
    let text = trace(&format!("{class}: {message}"), origin);
    bad_request(text, "application/json")
}

/// 400 for a database error: `StorageException` wrapping the SQL exception, as MySQL says it.
pub(crate) fn storage(sql_class: &str, message: &str, origin: Origin) -> Response {
    let cause = format!("{sql_class}: {message}");
    let mut text = trace(
        &format!("org.traccar.storage.StorageException: {cause}"),
        origin,
    );
    text.push_str("\nCaused by: ");
    text.push_str(&cause);
    text.push_str(
        "\n\tat com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:118)",
    );
    text.push_str("\n\tat com.mysql.cj.jdbc.ClientPreparedStatement.executeInternal(ClientPreparedStatement.java:916)");
    text.push_str("\n\t... 42 more");
    bad_request(text, "application/json")
}

/// 400 with the message of a Jackson mapping error (bad JSON, unknown field, wrong type).
pub(crate) fn mapping(message: String) -> Response {
    bad_request(message, "text/plain")
}

/// 401 with an empty body; `WWW-Authenticate` only for a browser (`Accept: text/html`).
pub(crate) fn unauthorized(headers: &HeaderMap) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let browser = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if browser {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"api\""),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn storage_errors_read_like_a_traccar_trace() {
        let r = storage(
            "java.sql.SQLIntegrityConstraintViolationException",
            "Duplicate entry 'a@b.c' for key 'email'",
            Origin::AddUser,
        );
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let body = text(r).await;
        let mut lines = body.lines();
        assert_eq!(
            lines.next(),
            Some(
                "org.traccar.storage.StorageException: java.sql.SQLIntegrityConstraintViolationException: Duplicate entry 'a@b.c' for key 'email'"
            )
        );
        assert!(lines.next().unwrap().starts_with("\tat org.traccar."));
        assert!(body.contains("\nCaused by: java.sql."));
    }

    #[tokio::test]
    async fn unauthorized_is_empty_and_challenges_only_browsers() {
        let r = unauthorized(&HeaderMap::new());
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(text(r).await, "");
        let mut browser = HeaderMap::new();
        browser.insert(header::ACCEPT, HeaderValue::from_static("text/html,*/*"));
        assert!(
            unauthorized(&browser)
                .headers()
                .contains_key(header::WWW_AUTHENTICATE)
        );
    }
}
