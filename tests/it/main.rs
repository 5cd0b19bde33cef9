//! The integration tests: one binary, a module per area.

mod input;
mod report;
mod sandbox;
mod validate;
