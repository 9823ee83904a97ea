//! Transcendental functions that give the same bits on every target.
//!
//! `f64::exp` and `f64::ln` call the platform's libm, and glibc (native builds) and wasi-libc
//! (components) round some results differently in the last bit. Operators use these pure-Rust
//! versions (from the `libm` crate) instead, so a native unit test and the compiled component
//! agree bit for bit. `sqrt` and basic arithmetic are exact in IEEE 754 everywhere.

/// e^x, identical on every target.
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// Natural logarithm, identical on every target.
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// The logistic function 1 / (1 + e^-x).
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}
