//! The eddy operator SDK: write an online learner as an ordinary Rust type, test it natively
//! with `cargo test`, and export it as a `wasm32-wasip2` component with one macro.
//!
//! An operator implements [`Operator`]: it describes itself, opens from a JSON config
//! ([`Config`]), names the input columns it reads, and processes Arrow record batches (score
//! every row with the model in force at its position, then learn). Snapshots default to the
//! operator's own serde representation, wrapped in an envelope that carries the operator's name
//! and major version ([`snapshot`]). The SDK hides wit-bindgen and Arrow IPC: on the wasm
//! target [`export_operator!`] wires the type to eddy's WIT contract (`wit/operator.wit`); on
//! any other target the macro expands to nothing, so the same crate builds and tests natively.

mod columns;
mod config;
mod error;
mod info;
pub mod ipc;
pub mod java_random;
pub mod labels;
mod log;
pub mod math;
mod operator;
pub mod rows;
pub mod snapshot;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

pub use columns::{
    LEARNED_SUFFIX, SEQ_COLUMN, TIMESTAMP_COLUMN, VectorBuilder, VectorColumn, VectorRef, f64_column, fixed_width_list_f64_array,
    learned_name, list_f64_array, list_f64_field, nested_list_f64_array, nested_list_f64_field, optional_f64_column, seq_column,
    vector_data_type, vector_field,
};
pub use config::{Config, FeaturesCol, check_range};
pub use error::{ConfigError, InputError, OperatorError};
pub use info::{ColumnSpec, ColumnType, OperatorInfo, OperatorKind, ParamInfo};
pub use log::{Level, log};
pub use operator::{Operator, Output, PublishModels};
pub use snapshot::SnapshotKind;

/// Re-exported Arrow crates, so operators use the exact versions the SDK was built with.
pub mod arrow {
    pub use arrow_array as array;
    pub use arrow_buffer as buffer;
    pub use arrow_schema as schema;
}

/// Exports an [`Operator`] type as eddy's WIT `operator` interface.
///
/// Put `eddy_sdk::export_operator!(MyOperator);` at the root of a `cdylib` crate and build it
/// with `cargo build --target wasm32-wasip2 --release`. On other targets it expands to nothing.
#[macro_export]
macro_rules! export_operator {
    ($ty:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __EddyExport;
            impl $crate::wasm::bindings::exports::eddy::operator::operator::Guest for __EddyExport {
                type Instance = $crate::wasm::Adapter<$ty>;
                fn describe() -> $crate::wasm::bindings::exports::eddy::operator::operator::OperatorInfo {
                    $crate::wasm::describe::<$ty>()
                }
            }
    $crate::wasm::bindings::export!(__EddyExport with_types_in $crate::wasm::bindings);
        };
    };
}
