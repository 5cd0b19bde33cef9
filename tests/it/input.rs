//! Integration tests: input.
