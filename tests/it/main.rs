//! The integration tests: one binary, a module per area.

mod drtrack;
mod input;
mod report;
mod sandbox;
mod validate;
