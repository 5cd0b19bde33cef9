//! The conversation with DRTrack: logging in with headers, the `Authtoken` on every call,
//! one new login when a token is refused, and reading the user list.

use std::sync::atomic::Ordering;

use reqwest::header::HeaderName;

use super::Drtrack;
use super::wire::{AuthReply, Directory, User};
use crate::http::{Reply, Request, SendError};
use crate::secret::Secret;
use crate::vendors::VendorError;
use crate::vendors::listing::Streamed;
use crate::vendors::protocol::Engine;

impl Drtrack {
    /// `GET /auth`; on success every later request carries `Authtoken`.
    pub(super) async fn authenticate(&self, ctx: &impl Engine) -> Result<(), VendorError> {
        let (Some(user), Some(pass)) = (&self.credentials.username, &self.credentials.password)
        else {
            return Err(VendorError::Auth(
                "no DRTrack username/password configured".into(),
            ));
        };
        let app = ctx
            .target()
            .app_name
            .clone()
            .unwrap_or_else(|| ctx.target().name.clone());
        let req = Request::get("/auth")
            .anonymous()
            .header(HeaderName::from_static("username"), user.clone())
            .header(HeaderName::from_static("password"), pass.clone())
            .header(HeaderName::from_static("appname"), Secret::new(app));
        let reply = ctx
            .http()
            .send(req)
            .await
            .map_err(|e| VendorError::from_send("GET /auth", e))?;
        let parsed: AuthReply = serde_json::from_str(&reply.body).unwrap_or_default();
        let status = parsed.status_text();
        let token = parsed.token.filter(|t| !t.trim().is_empty());
        let said = status
            .as_deref()
            .map(|s| format!(", Status \"{s}\""))
            .unwrap_or_default();
        let refused =
            matches!(reply.status, 401 | 403) || matches!(status.as_deref(), Some("401" | "403"));
        match (reply.ok(), status.as_deref(), token) {
            (true, Some(s), Some(token)) if s.starts_with('2') => {
                ctx.http().set_auth(vec![(
                    HeaderName::from_static("authtoken"),
                    Secret::new(token),
                )]);
                self.token_generation.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            _ if refused => Err(VendorError::Auth(format!(
                "DRTrack refused the login on GET /auth (HTTP {}{said})",
                reply.status
            ))),
            (true, _, _) => Err(VendorError::Auth(format!(
                "GET /auth gave no token (HTTP {}{said})",
                reply.status
            ))),
            _ => Err(VendorError::Unavailable(format!(
                "GET /auth answered HTTP {}: {}",
                reply.status,
                reply.excerpt()
            ))),
        }
    }

    /// Sends `req`; a 401/403 logs in again (once for all requests in flight) and repeats it.
    /// A login refused then halts the target.
    pub(super) async fn send(&self, ctx: &impl Engine, req: Request) -> Result<Reply, SendError> {
        let generation = self.token_generation.load(Ordering::SeqCst);
        let first = ctx.http().send(req.clone()).await?;
        if !matches!(first.status, 401 | 403) {
            return Ok(first);
        }
        ctx.log(
            tracing::Level::INFO,
            &format!(
                "DRTrack rejected the token (HTTP {} on {}); logging in again",
                first.status, req.path
            ),
        );
        let relogin = {
            let _one_at_a_time = self.login_lock.lock().await;
            if self.token_generation.load(Ordering::SeqCst) == generation {
                self.authenticate(ctx).await
            } else {
                Ok(()) // another request logged in meanwhile
            }
        };
        if let Err(e) = relogin {
            let reason = e.halt_reason();
            ctx.http().halt.halt(reason.clone());
            return Err(SendError::Halted(reason));
        }
        let mut again = ctx.http().send(req).await?;
        again.attempts += first.attempts;
        Ok(again)
    }

    /// `GET /users`: every user of the target, read item by item as the list arrives,
    /// within the target's `max_listing` (`listing::Streamed`).
    pub(super) async fn directory(&self, ctx: &impl Engine) -> Result<Directory, VendorError> {
        let list = Streamed::new(
            ctx.target(),
            Box::new(|text| {
                serde_json::from_slice::<User>(text)
                    .map(Some)
                    .map_err(|e| e.to_string())
            }),
        );
        let reply = self
            .send(ctx, list.request(Request::get("/users")))
            .await
            .map_err(|e| VendorError::from_send("GET /users", e))?;
        match reply.status {
            200..=299 => list.items("GET /users").map(Directory::from_users),
            401 | 403 => Err(VendorError::Auth(format!(
                "HTTP {} on GET /users after logging in again",
                reply.status
            ))),
            s => Err(VendorError::Unavailable(format!(
                "GET /users answered HTTP {s}: {}",
                reply.excerpt()
            ))),
        }
    }
}
