//! The integration tests: one binary, a module per area.

// Test output goes to the harness, never to a closed pipe.
#![allow(clippy::disallowed_macros)]

mod arobs;
mod audit;
mod bounded;
mod contract;
mod crash;
mod disk;
mod drtrack;
mod echo;
mod engine;
mod faults;
mod hostile;
mod identity;
mod import;
mod input;
mod lagging;
mod lease;
mod links;
mod mapping;
mod motive;
mod operator;
mod outage;
mod pegasus;
mod plan;
mod postgres;
mod progress;
mod protect;
mod redirect;
mod report;
mod revoked;
mod sandbox;
mod secrets;
mod stopping;
mod support;
mod validate;
mod wait;
