//! The eddy host library.
