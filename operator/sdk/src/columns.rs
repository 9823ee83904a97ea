//! Typed access to the input columns the host delivers, and builders for common output
//! columns. The host is trusted to deliver the declared types, but an operator checks anyway:
//! a wrong type is an error, never a panic.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder};
use arrow_array::{Array, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StructArray, UInt64Array};
use arrow_schema::{DataType, Field, Fields};

use crate::OperatorError;

/// The column the host adds to every input batch: a per-instance increasing row number that
/// output rows echo to say which input row they answer.
pub const SEQ_COLUMN: &str = "__seq";

/// The column name that the host fills with the record timestamp (ms since the epoch) when the
/// record has no field of that name.
pub const TIMESTAMP_COLUMN: &str = "__timestamp";

/// The suffix of a learned form: next to an output column `c`, a transformer told to (the WIT
/// `set-learned-outputs`) adds `c@learned`, the row as transformed after it learned from it;
/// an operator that finds `c@learned` next to a column `c` it reads learns from it.
pub const LEARNED_SUFFIX: &str = "@learned";

/// The name of column `c`'s learned form: `c@learned`.
pub fn learned_name(column: &str) -> String {
    format!("{column}{LEARNED_SUFFIX}")
}

/// The Arrow type of a `vector` column: `{size: Int64, indices: List<Int32>, values:
/// List<Float64>}`; `indices` is null for a dense vector.
pub fn vector_data_type() -> DataType {
    DataType::Struct(vector_fields())
}

fn vector_fields() -> Fields {
    Fields::from(vec![
        Field::new("size", DataType::Int64, false),
        Field::new("indices", DataType::List(Arc::new(Field::new_list_field(DataType::Int32, false))), true),
        Field::new("values", DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false))), false),
    ])
}

/// A field of the vector type.
pub fn vector_field(name: &str, nullable: bool) -> Field {
    Field::new(name, vector_data_type(), nullable)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Arc<dyn Array>, OperatorError> {
    batch.column_by_name(name).ok_or_else(|| OperatorError::input(0, Some(name), "column missing from the batch the host delivered"))
}

/// The `__seq` column of an input batch.
pub fn seq_column(batch: &RecordBatch) -> Result<&UInt64Array, OperatorError> {
    column(batch, SEQ_COLUMN)?
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| OperatorError::internal("the `__seq` column is not UInt64"))
}

/// A required Float64 column.
pub fn f64_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float64Array, OperatorError> {
    column(batch, name)?
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| OperatorError::input(0, Some(name), "expected a Float64 column"))
}

/// An optional Float64 column: `None` when `name` is `None`.
pub fn optional_f64_column<'a>(batch: &'a RecordBatch, name: Option<&str>) -> Result<Option<&'a Float64Array>, OperatorError> {
    name.map(|n| f64_column(batch, n)).transpose()
}

/// One vector as stored in a vector column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorRef<'a> {
    /// The vector's dimension.
    pub size: usize,
    /// Positions of the stored values for a sparse vector; `None` for a dense one.
    pub indices: Option<&'a [i32]>,
    /// The stored values (all `size` of them when dense).
    pub values: &'a [f64],
}

impl VectorRef<'_> {
    /// Checks shape and values: indices in range and increasing, values finite, dense length
    /// equal to size. Returns a message on failure.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_shape()?;
        if let Some(bad) = self.values.iter().find(|v| !v.is_finite()) {
            return Err(format!("vector holds a non-finite value ({bad})"));
        }
        Ok(())
    }

    /// [`VectorRef::validate`] without the check that values are finite, for rows of a column
    /// whose values [`VectorColumn::all_values_finite`] already checked.
    pub fn validate_shape(&self) -> Result<(), String> {
        match self.indices {
            None if self.values.len() != self.size => {
                return Err(format!("dense vector has {} values but size {}", self.values.len(), self.size));
            }
            Some(ix) => {
                if ix.len() != self.values.len() {
                    return Err(format!("sparse vector has {} indices but {} values", ix.len(), self.values.len()));
                }
                let mut prev = -1i64;
                for &i in ix {
                    if i64::from(i) <= prev || i < 0 || i as usize >= self.size {
                        return Err(format!("sparse index {i} is out of order or outside 0..{}", self.size));
                    }
                    prev = i64::from(i);
                }
            }
            None => {}
        }
        Ok(())
    }

    /// Dot product with a dense vector `w` (length `size`), summed in index order.
    pub fn dot(&self, w: &[f64]) -> f64 {
        let mut s = 0.0;
        match self.indices {
            None => s = crate::math::dot(self.values, w),
            Some(ix) => {
                for (&i, x) in ix.iter().zip(self.values) {
                    s += x * w[i as usize];
                }
            }
        }
        s
    }

    /// The vector as dense values.
    pub fn to_dense(&self) -> Vec<f64> {
        match self.indices {
            None => self.values.to_vec(),
            Some(ix) => {
                let mut d = vec![0.0; self.size];
                for (&i, &x) in ix.iter().zip(self.values) {
                    d[i as usize] = x;
                }
                d
            }
        }
    }
}

/// A typed view of a vector column.
#[derive(Debug)]
pub struct VectorColumn<'a> {
    name: String,
    array: &'a StructArray,
    size: &'a Int64Array,
    indices: &'a ListArray,
    index_values: Option<&'a Int32Array>,
    values: &'a ListArray,
    value_values: &'a Float64Array,
}

impl<'a> VectorColumn<'a> {
    /// Views column `name` of `batch` as vectors.
    pub fn new(batch: &'a RecordBatch, name: &str) -> Result<Self, OperatorError> {
        let bad = || OperatorError::input(0, Some(name), "expected a vector column (struct of size, indices, values)");
        let array = column(batch, name)?.as_any().downcast_ref::<StructArray>().ok_or_else(bad)?;
        let size = array.column_by_name("size").and_then(|c| c.as_any().downcast_ref::<Int64Array>()).ok_or_else(bad)?;
        let indices = array.column_by_name("indices").and_then(|c| c.as_any().downcast_ref::<ListArray>()).ok_or_else(bad)?;
        let values = array.column_by_name("values").and_then(|c| c.as_any().downcast_ref::<ListArray>()).ok_or_else(bad)?;
        let index_values = indices.values().as_any().downcast_ref::<Int32Array>();
        let value_values = values.values().as_any().downcast_ref::<Float64Array>().ok_or_else(bad)?;
        Ok(Self { name: name.to_owned(), array, size, indices, index_values, values, value_values })
    }

    /// Whether every value the column's rows hold is finite (one pass over the values, eight at
    /// a time). When it is, [`VectorRef::validate_shape`] checks a row as well as
    /// [`VectorRef::validate`] does.
    pub fn all_values_finite(&self) -> bool {
        let offsets = self.values.value_offsets();
        let (start, end) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
        crate::math::all_finite(&self.value_values.values()[start..end])
    }

    /// The column as one row-major matrix, when every row holds a dense vector of one
    /// dimension (no nulls, no sparse rows): the rows' values end to end, and the dimension.
    /// Rows are then `values.chunks_exact(dimension)` (an empty column gives `None`); what
    /// [`VectorRef::validate_shape`] checks per row holds for all of them.
    pub fn dense_rows(&self) -> Option<(&'a [f64], usize)> {
        let n = self.array.len();
        if n == 0 || self.array.null_count() != 0 || self.indices.null_count() != n || self.size.null_count() != 0 {
            return None;
        }
        let sizes = &self.size.values()[..n];
        let dim = usize::try_from(sizes[0]).ok().filter(|&d| d > 0)?;
        if sizes.iter().fold(false, |bad, &s| bad | (s != sizes[0])) {
            return None;
        }
        let offsets = &self.values.value_offsets()[..=n];
        let start = offsets[0];
        let step = i32::try_from(dim).ok()?;
        let mut expected = start;
        let mut bad = false;
        for &o in offsets {
            bad |= o != expected;
            expected = expected.wrapping_add(step);
        }
        if bad || i64::from(offsets[n]) != i64::from(start) + (n * dim) as i64 {
            return None;
        }
        let start = start as usize;
        Some((&self.value_values.values()[start..start + n * dim], dim))
    }

    /// The vector at `row`, or `None` when null.
    pub fn get(&self, row: usize) -> Result<Option<VectorRef<'a>>, OperatorError> {
        if self.array.is_null(row) {
            return Ok(None);
        }
        let size =
            usize::try_from(self.size.value(row)).map_err(|_| OperatorError::input(row, Some(&self.name), "negative vector size"))?;
        let vo = self.values.value_offsets();
        let values = &self.value_values.values()[vo[row] as usize..vo[row + 1] as usize];
        let indices = if self.indices.is_null(row) {
            None
        } else {
            let io = self.indices.value_offsets();
            let iv = self.index_values.ok_or_else(|| OperatorError::input(row, Some(&self.name), "indices are not Int32"))?;
            Some(&iv.values()[io[row] as usize..io[row + 1] as usize])
        };
        Ok(Some(VectorRef { size, indices, values }))
    }
}

/// Builds a `List<Float64>` array from rows of values (for `rawPrediction`, `coefficient`).
pub fn list_f64_array<'a>(rows: impl IntoIterator<Item = &'a [f64]>) -> ListArray {
    let mut b = ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Float64, false)));
    for r in rows {
        b.values().append_slice(r);
        b.append(true);
    }
    b.finish()
}

/// Builds a `List<Float64>` array whose rows all hold `width` values, from the values laid end
/// to end (row 0's, then row 1's, ...), without copying them: the same array as
/// [`list_f64_array`] over `values.chunks(width)`, built without a call per row.
///
/// # Panics
///
/// If `width` is 0 or does not divide `values.len()`.
pub fn fixed_width_list_f64_array(values: Vec<f64>, width: usize) -> ListArray {
    assert!(width > 0 && values.len().is_multiple_of(width), "{} values do not make rows of {width}", values.len());
    let rows = values.len() / width;
    let offsets = arrow_buffer::OffsetBuffer::new(arrow_buffer::ScalarBuffer::from_iter((0..=rows).map(|r| (r * width) as i32)));
    ListArray::new(Arc::new(Field::new_list_field(DataType::Float64, false)), offsets, Arc::new(Float64Array::from(values)), None)
}

/// Builds a vector column (see [`vector_data_type`]) row by row.
#[derive(Debug)]
pub struct VectorBuilder {
    size: arrow_array::builder::Int64Builder,
    indices: ListBuilder<arrow_array::builder::Int32Builder>,
    values: ListBuilder<Float64Builder>,
    validity: arrow_buffer::NullBufferBuilder,
}

impl Default for VectorBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl VectorBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self {
            size: arrow_array::builder::Int64Builder::new(),
            indices: ListBuilder::new(arrow_array::builder::Int32Builder::new())
                .with_field(Arc::new(Field::new_list_field(DataType::Int32, false))),
            values: ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Float64, false))),
            validity: arrow_buffer::NullBufferBuilder::new(0),
        }
    }

    /// Appends a dense vector.
    pub fn append_dense(&mut self, values: &[f64]) {
        self.size.append_value(values.len() as i64);
        self.indices.append_null();
        self.values.values().append_slice(values);
        self.values.append(true);
        self.validity.append_non_null();
    }

    /// Appends a sparse vector of dimension `size`.
    pub fn append_sparse(&mut self, size: i64, indices: &[i32], values: &[f64]) {
        self.size.append_value(size);
        self.indices.values().append_slice(indices);
        self.indices.append(true);
        self.values.values().append_slice(values);
        self.values.append(true);
        self.validity.append_non_null();
    }

    /// Appends a null (missing vector).
    pub fn append_null(&mut self) {
        self.size.append_value(0);
        self.indices.append_null();
        self.values.append(true);
        self.validity.append_null();
    }

    /// Finishes the column.
    pub fn finish(&mut self) -> StructArray {
        let cols: Vec<Arc<dyn Array>> = vec![Arc::new(self.size.finish()), Arc::new(self.indices.finish()), Arc::new(self.values.finish())];
        StructArray::new(vector_fields(), cols, self.validity.finish())
    }
}

/// A non-null `List<Float64>` field (a model's coefficients, a row's class probabilities).
pub fn list_f64_field(name: &str) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false))), false)
}

/// A non-null `List<List<Float64>>` field (a matrix per row).
pub fn nested_list_f64_field(name: &str) -> Field {
    let inner = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false)));
    Field::new(name, DataType::List(Arc::new(Field::new_list_field(inner, false))), false)
}

/// A `List<List<Float64>>` column: one matrix (a list of rows) per row.
pub fn nested_list_f64_array<'a>(matrices: impl IntoIterator<Item = &'a [Vec<f64>]>) -> ListArray {
    let inner = ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Float64, false)));
    let inner_type = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false)));
    let mut b = ListBuilder::new(inner).with_field(Arc::new(Field::new_list_field(inner_type, false)));
    for m in matrices {
        for row in m {
            b.values().values().append_slice(row);
            b.values().append(true);
        }
        b.append(true);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(build: impl FnOnce(&mut VectorBuilder)) -> RecordBatch {
        let mut b = VectorBuilder::new();
        build(&mut b);
        let array = b.finish();
        let nullable = array.null_count() > 0;
        RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(vec![vector_field("v", nullable)])), vec![Arc::new(array)]).unwrap()
    }

    #[test]
    fn dense_rows_views_a_dense_column_as_one_matrix() {
        let batch = column(|b| {
            for r in 0..5 {
                b.append_dense(&[r as f64, 0.5, -1.0]);
            }
        });
        let vc = VectorColumn::new(&batch, "v").unwrap();
        let (values, d) = vc.dense_rows().unwrap();
        assert_eq!(d, 3);
        for (r, row) in values.chunks_exact(d).enumerate() {
            assert_eq!(row, vc.get(r).unwrap().unwrap().values);
        }
        let sliced = batch.slice(2, 3);
        let vc = VectorColumn::new(&sliced, "v").unwrap();
        let (values, _) = vc.dense_rows().unwrap();
        assert_eq!(values, [2.0, 0.5, -1.0, 3.0, 0.5, -1.0, 4.0, 0.5, -1.0]);
    }

    #[test]
    fn dense_rows_refuses_anything_else() {
        type Build = Box<dyn Fn(&mut VectorBuilder)>;
        let cases: Vec<Build> = vec![
            Box::new(|b| {
                b.append_dense(&[1.0, 2.0]);
                b.append_dense(&[1.0]);
            }),
            Box::new(|b| {
                b.append_dense(&[1.0, 2.0]);
                b.append_null();
            }),
            Box::new(|b| {
                b.append_dense(&[1.0, 2.0]);
                b.append_sparse(2, &[1], &[3.0]);
            }),
            Box::new(|b| b.append_dense(&[])),
            Box::new(|_| {}),
        ];
        for (i, build) in cases.iter().enumerate() {
            let batch = column(|b| build(b));
            assert!(VectorColumn::new(&batch, "v").unwrap().dense_rows().is_none(), "case {i}");
        }
    }

    #[test]
    fn fixed_width_lists_equal_lists_built_row_by_row() {
        let values: Vec<f64> = (0..12).map(f64::from).collect();
        let expected = list_f64_array(values.chunks(3));
        assert_eq!(fixed_width_list_f64_array(values, 3), expected);
        assert_eq!(fixed_width_list_f64_array(Vec::new(), 2), list_f64_array(std::iter::empty::<&[f64]>()));
    }
}
