//! `eddy inspect`: what an operator says of itself.

use std::io::Write;
use std::path::Path;

use eddy_host::{Limits, Runtime};

pub fn inspect(component: &str) -> anyhow::Result<()> {
    let rt = Runtime::new(Limits::default())?;
    let c = match eddy_bundle::find(component) {
        Some(op) if !Path::new(component).exists() => rt.load(op.bytes, Path::new(op.name))?,
        _ => rt.load_file(Path::new(component))?,
    };
    let i = c.info();
    let mut out = std::io::stdout().lock();
    let written = (|| -> std::io::Result<()> {
        writeln!(out, "{} {} ({:?})", i.name, i.version, i.kind)?;
        writeln!(out, "{}\n\nparameters:", i.description)?;
        for p in &i.params {
            let d = p.default_value.as_deref().unwrap_or("(none)");
            writeln!(out, "  {:<18} {:<24} default {:<14} {}", p.name, p.type_name, d, p.doc)?;
        }
        out.flush()
    })();
    match written {
        // `eddy inspect x | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
