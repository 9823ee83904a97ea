//! `eddy inspect`: what an operator says of itself.

use std::path::Path;

use eddy_host::{Limits, Runtime};

pub fn inspect(component: &str) -> anyhow::Result<()> {
    let rt = Runtime::new(Limits::default())?;
    let c = match eddy_bundle::find(component) {
        Some(op) if !Path::new(component).exists() => rt.load(op.bytes, Path::new(op.name))?,
        _ => rt.load_file(Path::new(component))?,
    };
    let i = c.info();
    println!("{} {} ({:?})", i.name, i.version, i.kind);
    println!("{}", i.description);
    println!();
    println!("parameters:");
    for p in &i.params {
        let d = p.default_value.as_deref().unwrap_or("(none)");
        println!("  {:<18} {:<24} default {:<14} {}", p.name, p.type_name, d, p.doc);
    }
    Ok(())
}
