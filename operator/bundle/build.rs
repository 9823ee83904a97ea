//! Builds every operator crate under `operator/` (all but `sdk` and `bundle`) for
//! `wasm32-wasip2` with the `guest` profile, in its own target directory (a nested cargo on
//! the outer target directory would wait on its lock forever), and generates the table of
//! embedded components.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let operator_dir = manifest.parent().unwrap().to_path_buf();
    let root = operator_dir.parent().unwrap().to_path_buf();
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-changed={}", root.join("Cargo.lock").display());
    println!("cargo:rerun-if-env-changed=EDDY_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=EDDY_BUNDLE_ONLY");
    // A comma-separated list of short names restricts the bundle (for quick local builds).
    let only: Option<Vec<String>> = env::var("EDDY_BUNDLE_ONLY").ok().map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());

    let mut packages = Vec::new();
    let mut dirs: Vec<_> = fs::read_dir(&operator_dir).unwrap().filter_map(Result::ok).map(|e| e.path()).collect();
    dirs.sort();
    for dir in dirs {
        let toml = dir.join("Cargo.toml");
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name == "bundle" || !toml.exists() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", dir.join("src").display());
        println!("cargo:rerun-if-changed={}", toml.display());
        if name == "sdk" || only.as_ref().is_some_and(|o| !o.contains(&name)) {
            continue;
        }
        let text = fs::read_to_string(&toml).unwrap();
        if !text.contains("cdylib") {
            continue;
        }
        let package = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("name").map(|r| r.trim().trim_start_matches('=').trim().trim_matches('"').to_owned()))
            .expect("package name");
        packages.push((name, package));
    }

    let target_dir = env::var("EDDY_GUEST_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target").join("guests"));
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root).args(["build", "--profile", "guest", "--target", "wasm32-wasip2", "--target-dir"]).arg(&target_dir);
    for (_, p) in &packages {
        cmd.args(["-p", p]);
    }
    for (k, _) in env::vars() {
        if k.starts_with("CARGO_") && k != "CARGO_HOME" || k == "RUSTFLAGS" || k == "RUSTC_WRAPPER" {
            cmd.env_remove(k);
        }
    }
    let status = cmd.status().expect("cannot run cargo to build the operators");
    if !status.success() {
        let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().ok();
        let has_target = sysroot
            .map(|o| Path::new(String::from_utf8_lossy(&o.stdout).trim()).join("lib/rustlib/wasm32-wasip2").exists())
            .unwrap_or(true);
        if !has_target {
            panic!("building the operators needs the wasm32-wasip2 target: run `rustup target add wasm32-wasip2`");
        }
        panic!("building the operators for wasm32-wasip2 failed (see the cargo output above)");
    }

    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let mut src = String::from(
        "/// Every operator eddy ships: (short name, crate name, path of the built component, component bytes).\npub static OPERATORS: &[Operator] = &[\n",
    );
    for (name, package) in &packages {
        let wasm = target_dir.join("wasm32-wasip2/guest").join(format!("{}.wasm", package.replace('-', "_")));
        src.push_str(&format!(
            "    Operator {{ name: {name:?}, package: {package:?}, path: {path:?}, bytes: include_bytes!({path:?}) }},\n",
            path = wasm.display().to_string()
        ));
    }
    src.push_str("];\n");
    fs::write(out.join("operators.rs"), src).unwrap();
}
