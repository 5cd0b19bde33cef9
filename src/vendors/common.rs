//! Small helpers every HTTP connector uses the same way: sending a row's request while
//! counting its attempts, and the row-level stop (`RowError`) when the target halts or the
//! journal fails. Moved here from `traccar.rs` so connectors share them instead of copying.

use crate::model::{Outcome, Status};
use crate::submit::Ctx;
use crate::submit::http::{Reply, Request, SendError};

use super::VendorError;

/// A row-level stop: the target halted (the engine marks the row `not_attempted`), or the
/// journal failed (continuing would risk creating twice).
#[derive(Debug)]
pub enum RowError {
    Halted,
    Journal(VendorError),
}

impl From<VendorError> for RowError {
    fn from(e: VendorError) -> RowError {
        RowError::Journal(e)
    }
}

/// Sends a row's request, counting its attempts in `out`; a halted target stops the row.
pub async fn send(
    ctx: &Ctx,
    req: Request,
    out: &mut Outcome,
) -> Result<Result<Reply, SendError>, RowError> {
    counted(ctx.http.send(req).await, out)
}

/// Counts a call's attempts in `out`; a halted target stops the row.
pub fn counted(
    result: Result<Reply, SendError>,
    out: &mut Outcome,
) -> Result<Result<Reply, SendError>, RowError> {
    match result {
        Ok(r) => {
            out.attempts += r.attempts;
            Ok(Ok(r))
        }
        Err(SendError::Halted(_)) => Err(RowError::Halted),
        Err(e) => {
            out.attempts += e.attempts();
            Ok(Err(e))
        }
    }
}

/// Ends a row's work: its outcome is recorded; a halted row is left to the engine
/// (`not_attempted`); a journal failure halts the target, since going on could create twice.
pub fn settle(ctx: &Ctx, index: usize, result: Result<Option<Outcome>, RowError>) {
    match result {
        Ok(Some(outcome)) => ctx.finish(index, outcome),
        Ok(None) | Err(RowError::Halted) => {}
        Err(RowError::Journal(e)) => ctx.http.halt.halt(format!("journal failed: {e}")),
    }
}

/// Marks `out` failed by a call that ended without a readable reply.
pub fn fail_send(mut out: Outcome, e: SendError) -> Outcome {
    out.status = Status::Failed;
    out.http_status = e.status();
    out.error = Some(e.to_string());
    out
}
