//! CSV decoding and sniffing (`muster::input::fuzz::csv` says what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| muster::input::fuzz::csv(data));
