//! Header detection and mapping: rows of strings → header row + field mapping.
//! The input is text: lines are rows, `\t` separates cells; the first byte is `min_cells`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&min, bytes)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(bytes);
    let rows: Vec<Vec<String>> = text
        .split('\n')
        .take(40)
        .map(|line| line.split('\t').map(str::to_string).collect())
        .collect();
    let min_cells = usize::from(min % 4);
    if let Some((at, layout, mapped)) = muster::input::fuzz::header_and_mapping(&rows, min_cells) {
        assert!(at < rows.len(), "header index out of the rows");
        if mapped {
            assert_eq!(layout.fields.len(), layout.headers.len(), "a field per column");
            for (col, _, _) in &layout.passthrough {
                assert!(*col < layout.headers.len(), "pass-through column out of the table");
            }
        }
    }
});
