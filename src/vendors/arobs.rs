//! AROBS TrackGPS (`shared/vendors/arobs-trackgps.md`): no API creates users, so import
//! sends nothing: every valid row becomes `manual`, listed with the steps to take in the
//! platform's web app (the report's `Manual` sheet).

use crate::model::{Outcome, Status};
use crate::submit::Ctx;

use super::{Job, Vendor, VendorError};

/// The AROBS connector for `import`.
#[derive(Debug, Default)]
pub struct Arobs;

impl Vendor for Arobs {
    async fn probe(&self, _ctx: &Ctx) -> Result<(), VendorError> {
        // Nothing is sent on import: there is nothing to probe.
        Ok(())
    }

    async fn run(&self, ctx: &Ctx, jobs: Vec<Job>) -> Result<(), VendorError> {
        for job in jobs {
            ctx.finish(job.index, Outcome::new(Status::Manual, job.action));
        }
        Ok(())
    }
}
