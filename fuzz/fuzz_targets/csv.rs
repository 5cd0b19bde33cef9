//! CSV decoding and sniffing: bytes → encoding, delimiter, header, every record.
//! The first byte picks the file's extension (`.csv`, `.tsv`, `.txt`, `.xlsx` = strict),
//! and the size of the blocks the text is also read in, which must give the same rows;
//! the text with its quotes replaced must parse the same by the quote-free fast way and by
//! csv_core.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let name = ["f.csv", "f.tsv", "f.txt", "f.xlsx"][usize::from(pick % 4)];
    muster::input::fuzz::csv_file(name, bytes);
    let delimiter = [b',', b';', b'\t', b'|'][usize::from(pick >> 6)];
    muster::input::fuzz::csv_blocks_agree(bytes, usize::from(pick >> 2 & 15) + 1, delimiter);
    muster::input::fuzz::csv_plain_agrees(bytes, delimiter, pick);
    if let Ok(text) = std::str::from_utf8(bytes) {
        muster::input::fuzz::sniff_delimiter(text, pick & 4 != 0);
    }
});
