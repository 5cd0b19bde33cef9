//! The engine driving connectors end to end, against the sandbox and scripted servers.

mod drtrack;
mod pegasus;
