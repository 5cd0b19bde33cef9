//! Cell text conversion (`muster::input::fuzz::cell` says what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| muster::input::fuzz::cell(data));
