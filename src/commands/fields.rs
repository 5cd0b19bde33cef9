//! `muster fields`: every roster field with its aliases, and how headers are matched (the
//! same text as the README's "How columns are matched").

use std::io::Write;

use crate::Exit;

pub fn run() -> anyhow::Result<Exit> {
    let mut out = crate::report::stdout::Stdout::new();
    out.write_all(crate::mapping::fields_markdown().as_bytes())?;
    out.flush()?;
    Ok(Exit::Success)
}
