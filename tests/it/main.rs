//! The integration tests: one binary, a module per area.

mod arobs;
mod contract;
mod crash;
mod drtrack;
mod engine;
mod hostile;
mod import;
mod input;
mod motive;
mod pegasus;
mod report;
mod sandbox;
mod support;
mod validate;
