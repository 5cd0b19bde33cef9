//! Cell text conversion: calamine `Data` values → muster's cell text and problem.
//! The first byte picks the variant, the next eight its number, the rest its text.
#![no_main]

use calamine::{Data, ExcelDateTime, ExcelDateTimeType, CellErrorType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut raw = [0u8; 8];
    let n = rest.len().min(8);
    raw[..n].copy_from_slice(&rest[..n]);
    let float = f64::from_le_bytes(raw);
    let int = i64::from_le_bytes(raw);
    let text = String::from_utf8_lossy(&rest[n..]).into_owned();
    let errors = [
        CellErrorType::Div0,
        CellErrorType::NA,
        CellErrorType::Name,
        CellErrorType::Null,
        CellErrorType::Num,
        CellErrorType::Ref,
        CellErrorType::Value,
        CellErrorType::GettingData,
    ];
    let value = match pick % 10 {
        0 => Data::Empty,
        1 => Data::String(text),
        2 => Data::Int(int),
        3 => Data::Float(float),
        4 => Data::Bool(int & 1 == 1),
        5 => Data::DateTime(ExcelDateTime::new(float, ExcelDateTimeType::DateTime, false)),
        6 => Data::DateTime(ExcelDateTime::new(float, ExcelDateTimeType::TimeDelta, pick & 16 != 0)),
        7 => Data::DateTimeIso(text),
        8 => Data::DurationIso(text),
        _ => Data::Error(errors[usize::from(pick / 10) % errors.len()].clone()),
    };
    let (text, _problem) = muster::input::fuzz::cell_text(&value);
    assert!(text.chars().count() <= 32_767, "cell text over the cap");
});
