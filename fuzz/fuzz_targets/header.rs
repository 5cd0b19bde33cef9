//! Header detection and mapping (`muster::input::fuzz::header` says what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| muster::input::fuzz::header(data));
