//! The workbook path through calamine: bytes → zip caps → workbook → tables → rows, as
//! `muster validate` reads a file. The first byte picks the extension (xlsx, xlsb, ods, xls).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = ["f.xlsx", "f.xlsb", "f.ods", "f.xls"][usize::from(pick % 4)];
    muster::input::fuzz::workbook(name, bytes);
});
