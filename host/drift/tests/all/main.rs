//! eddy-drift's integration tests, in one binary: the comparison with river, the detection bar,
//! snapshots, the window's invariants, and no allocation per update.

mod alloc;
mod bar;
mod river;
mod snapshot;
mod streams;
mod window;
