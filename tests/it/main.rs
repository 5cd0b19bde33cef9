//! The integration tests: one binary, a module per area.

mod arobs;
mod contract;
mod crash;
mod import;
mod input;
mod report;
mod sandbox;
mod support;
mod validate;
