//! The operators eddy ships, embedded as compiled `wasm32-wasip2` components.
//!
//! The build script compiles every operator crate under `operator/` (crates with a `cdylib`
//! target), so `eddy run` can load an operator by its short name (`ftrl`) and tests can run
//! the exact components users get. Test-only operators ([`TEST_ONLY`]: `hostile`) are
//! included too, so tests can load them by name, but [`shipped`] and the messages that list
//! operators leave them out.

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

/// Operators built for eddy's own tests (an operator that misbehaves on purpose), not for jobs.
pub const TEST_ONLY: &[&str] = &["hostile"];

/// The operators eddy ships for jobs, in name order: every embedded one but [`TEST_ONLY`].
pub fn shipped() -> impl Iterator<Item = &'static Operator> {
    OPERATORS.iter().filter(|o| !TEST_ONLY.contains(&o.name))
}

/// Looks up an embedded operator by short name (test-only ones included).
pub fn find(name: &str) -> Option<&'static Operator> {
    OPERATORS.iter().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_only_operators_are_embedded_but_not_listed() {
        assert!(find("hostile").is_some(), "tests load it by name");
        let names: Vec<&str> = shipped().map(|o| o.name).collect();
        assert!(!names.contains(&"hostile"), "{names:?}");
        assert!(names.contains(&"ftrl") && names.len() + TEST_ONLY.len() == OPERATORS.len(), "{names:?}");
    }
}
