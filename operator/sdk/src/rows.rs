//! Reading one input batch into feature rows and labels, checking every row before anything
//! learns: a missing or non-finite feature, a vector of the wrong dimension or a bad label is an
//! input error naming the row and the column, raised before the state is touched.
//! Shared by the operators that learn from labelled feature rows (linear and softmax regression,
//! naive Bayes): they all read `featuresCol` (one vector column or a list of numeric columns)
//! and a numeric label the same way.

use crate::{ColumnSpec, ColumnType, FeaturesCol, OperatorError, VectorColumn, f64_column};
use arrow_array::{Array, Float64Array, RecordBatch};
use serde::{Deserialize, Serialize};

/// One row's features: dense, or sparse (increasing `indices` below `size`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Positions of `values` for a sparse row; `None` for a dense one.
    pub indices: Option<Vec<i32>>,
    /// The values (all `size` of them when dense).
    pub values: Vec<f64>,
    /// The dimension.
    pub size: usize,
}

impl Row {
    /// `w . x`, summed in index order (`w` has the row's dimension).
    pub fn dot(&self, w: &[f64]) -> f64 {
        let mut s = 0.0;
        match &self.indices {
            None => s = crate::math::dot(&self.values, w),
            Some(ix) => {
                for (&i, x) in ix.iter().zip(&self.values) {
                    s += x * w[i as usize];
                }
            }
        }
        s
    }

    /// The row as a dense vector.
    pub fn to_dense(&self) -> Vec<f64> {
        match &self.indices {
            None => self.values.clone(),
            Some(ix) => {
                let mut d = vec![0.0; self.size];
                for (&i, &x) in ix.iter().zip(&self.values) {
                    d[i as usize] = x;
                }
                d
            }
        }
    }

    /// `acc += a * x`.
    pub fn add_scaled_to(&self, a: f64, acc: &mut [f64]) {
        match &self.indices {
            None => {
                for (g, x) in acc.iter_mut().zip(&self.values) {
                    *g += x * a;
                }
            }
            Some(ix) => {
                for (&i, x) in ix.iter().zip(&self.values) {
                    acc[i as usize] += x * a;
                }
            }
        }
    }
}

/// The name used in errors about the features: the vector column, or `featuresCol` for a list of
/// columns whose individual names are used where one column is at fault.
pub fn features_name(features: &FeaturesCol) -> &str {
    match features {
        FeaturesCol::Vector(c) => c,
        FeaturesCol::Columns(_) => "featuresCol",
    }
}

/// Reads every row's features. `dim` is the dimension the model already has (or that the config
/// fixes); when `None`, the first row fixes it for the rest of the batch. Returns the rows and
/// the dimension they share (`None` only for an empty batch without a known dimension).
pub fn read_features(batch: &RecordBatch, features: &FeaturesCol, dim: Option<usize>) -> Result<(Vec<Row>, Option<usize>), OperatorError> {
    let n = batch.num_rows();
    let mut rows = Vec::with_capacity(n);
    let mut dim = dim;
    match features {
        FeaturesCol::Columns(cols) => {
            let arrays = cols.iter().map(|c| f64_column(batch, c)).collect::<Result<Vec<_>, _>>()?;
            for r in 0..n {
                let mut values = Vec::with_capacity(arrays.len());
                for (a, name) in arrays.iter().zip(cols) {
                    if a.is_null(r) {
                        return Err(OperatorError::input(r, Some(name), "missing feature value"));
                    }
                    let v = a.value(r);
                    if !v.is_finite() {
                        return Err(OperatorError::input(r, Some(name), format!("feature is not finite ({v})")));
                    }
                    values.push(v);
                }
                rows.push(Row { indices: None, size: values.len(), values });
            }
            dim.get_or_insert(cols.len());
        }
        FeaturesCol::Vector(col) => {
            let vc = VectorColumn::new(batch, col)?;
            let finite = vc.all_values_finite();
            for r in 0..n {
                let v = vc.get(r)?.ok_or_else(|| OperatorError::input(r, Some(col), "missing feature vector"))?;
                if finite { v.validate_shape() } else { v.validate() }.map_err(|m| OperatorError::input(r, Some(col), m))?;
                if v.size == 0 {
                    return Err(OperatorError::input(r, Some(col), "feature vector has dimension 0"));
                }
                let d = *dim.get_or_insert(v.size);
                if v.size != d {
                    return Err(OperatorError::input(r, Some(col), format!("vector has dimension {} but the model has {d}", v.size)));
                }
                rows.push(Row { indices: v.indices.map(<[i32]>::to_vec), values: v.values.to_vec(), size: v.size });
            }
        }
    }
    Ok((rows, dim))
}

/// The rows' learned forms, for a chain that learns river's way (see
/// [`crate::Operator::set_learned_outputs`]): when the batch holds `c@learned` for every
/// feature column `c`, each row's features as an earlier stage transformed them after learning
/// from the row (`None` for a row whose learned form is null: it learns from the row as
/// scored). `None` when the batch holds no learned forms (Flink ML's way, or the first stage).
/// Checked like the scored rows: finite values, the dimension `dim` (the scored rows' one).
pub fn read_learned_features(
    batch: &RecordBatch,
    features: &FeaturesCol,
    dim: Option<usize>,
) -> Result<Option<Vec<Option<Row>>>, OperatorError> {
    let n = batch.num_rows();
    let check = |r: usize, col: &str, row: Row| -> Result<Option<Row>, OperatorError> {
        if let Some(d) = dim
            && row.size != d
        {
            return Err(OperatorError::input(r, Some(col), format!("learned form has dimension {} but the rows have {d}", row.size)));
        }
        Ok(Some(row))
    };
    match features {
        FeaturesCol::Columns(cols) => {
            let names: Vec<String> = cols.iter().map(|c| crate::learned_name(c)).collect();
            if names.iter().any(|c| batch.column_by_name(c).is_none()) {
                return Ok(None);
            }
            let arrays = names.iter().map(|c| f64_column(batch, c)).collect::<Result<Vec<_>, _>>()?;
            let mut rows = Vec::with_capacity(n);
            for r in 0..n {
                if arrays.iter().any(|a| a.is_null(r)) {
                    rows.push(None);
                    continue;
                }
                let mut values = Vec::with_capacity(arrays.len());
                for (a, name) in arrays.iter().zip(&names) {
                    let v = a.value(r);
                    if !v.is_finite() {
                        return Err(OperatorError::input(r, Some(name), format!("learned form is not finite ({v})")));
                    }
                    values.push(v);
                }
                rows.push(check(r, &names[0], Row { indices: None, size: values.len(), values })?);
            }
            Ok(Some(rows))
        }
        FeaturesCol::Vector(col) => {
            let name = crate::learned_name(col);
            if batch.column_by_name(&name).is_none() {
                return Ok(None);
            }
            let vc = VectorColumn::new(batch, &name)?;
            let mut rows = Vec::with_capacity(n);
            for r in 0..n {
                let Some(v) = vc.get(r)? else {
                    rows.push(None);
                    continue;
                };
                v.validate().map_err(|m| OperatorError::input(r, Some(&name), m))?;
                rows.push(check(r, &name, Row { indices: v.indices.map(<[i32]>::to_vec), values: v.values.to_vec(), size: v.size })?);
            }
            Ok(Some(rows))
        }
    }
}

/// Reads the optional label column: `None` where a row has no label (it is scored, not learned
/// from). A batch without the column at all is a batch of unlabelled rows. Labels must be
/// finite; `-0.0` is read as `0.0`, so that it names the same class.
pub fn read_labels(batch: &RecordBatch, label_col: &str) -> Result<Vec<Option<f64>>, OperatorError> {
    let n = batch.num_rows();
    let Some(col) = batch.column_by_name(label_col) else {
        return Ok(vec![None; n]);
    };
    let a = col
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| OperatorError::input(0, Some(label_col), "expected a Float64 label column"))?;
    (0..n)
        .map(|r| {
            if a.is_null(r) {
                return Ok(None);
            }
            let v = a.value(r);
            if !v.is_finite() {
                return Err(OperatorError::input(r, Some(label_col), format!("label is not finite ({v})")));
            }
            Ok(Some(if v == 0.0 { 0.0 } else { v }))
        })
        .collect()
}

/// The input columns of an operator that reads `features` and an optional numeric label.
pub fn feature_and_label_columns(features: &FeaturesCol, label_col: &str) -> Vec<ColumnSpec> {
    let mut cols = match features {
        FeaturesCol::Vector(c) => vec![ColumnSpec::required(c, ColumnType::Vector)],
        FeaturesCol::Columns(cs) => cs.iter().map(|c| ColumnSpec::required(c, ColumnType::Float64)).collect(),
    };
    cols.push(ColumnSpec::optional(label_col, ColumnType::Float64));
    cols
}

/// The input columns of a classifier that reads `features` and an optional class label of
/// any type (see [`crate::labels`]).
pub fn feature_and_class_label_columns(features: &FeaturesCol, label_col: &str) -> Vec<ColumnSpec> {
    let mut cols = feature_and_label_columns(features, label_col);
    if let Some(last) = cols.last_mut() {
        last.column_type = ColumnType::Label;
    }
    cols
}

/// Refuses a label outside `declared` (when a classifier's class set is fixed), naming the row.
pub fn check_declared_classes(labels: &[Option<f64>], declared: Option<&[f64]>, label_col: &str) -> Result<(), OperatorError> {
    let Some(declared) = declared else { return Ok(()) };
    for (r, l) in labels.iter().enumerate() {
        if let Some(l) = l
            && !declared.contains(l)
        {
            return Err(OperatorError::input(r, Some(label_col), format!("label {l} is not one of the declared classes {declared:?}")));
        }
    }
    Ok(())
}
