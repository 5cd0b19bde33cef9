//! The workbook path through calamine (`muster::input::fuzz::xlsx` says what it checks).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| muster::input::fuzz::xlsx(data));
