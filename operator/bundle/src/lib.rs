//! The operators eddy ships, embedded as compiled `wasm32-wasip2` components.
//!
//! The build script compiles every operator crate under `operator/` (crates with a `cdylib`
//! target), so `eddy run` can load an operator by its short name (`ftrl`) and tests can run
//! the exact components users get. Test-only operators (`hostile`) are included too; the
//! host's `inspect` lists everything.

/// One shipped operator.
#[derive(Debug, Clone, Copy)]
pub struct Operator {
    /// Short name used in job files (`component = "ftrl"`): the crate directory name.
    pub name: &'static str,
    /// The crate that builds it.
    pub package: &'static str,
    /// Where the build put the component file.
    pub path: &'static str,
    /// The component bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/operators.rs"));

/// Looks up a shipped operator by short name.
pub fn find(name: &str) -> Option<&'static Operator> {
    OPERATORS.iter().find(|o| o.name == name)
}
