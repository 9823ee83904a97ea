//! The tree as model data: one row per published version, the tree's nodes as parallel lists
//! (node `i` is entry `i` of every `node*` column; the root is node 0), beside a few summary
//! columns. Class weights are listed in the order of the row's `classes` column (ascending
//! class value).

use std::sync::Arc;

use eddy_sdk::arrow::array::builder::{Int64Builder, ListBuilder};
use eddy_sdk::arrow::array::{ArrayRef, Int64Array, ListArray, RecordBatch, UInt64Array};
use eddy_sdk::arrow::schema::{DataType, Field, Schema};
use eddy_sdk::{OperatorError, SEQ_COLUMN, list_f64_array, list_f64_field, nested_list_f64_array, nested_list_f64_field};

use crate::tree::{Node, Tree};

/// One published version of the tree, in its exported form.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    /// Known classes, ascending.
    pub classes: Vec<f64>,
    /// Per node: the feature a branch tests, -1 for a leaf.
    pub feature: Vec<i64>,
    /// Per node: a branch's threshold (`x[feature] <= threshold` goes left), 0 for a leaf.
    pub threshold: Vec<f64>,
    /// Per node: a branch's left child, -1 for a leaf.
    pub left: Vec<i64>,
    /// Per node: a branch's right child, -1 for a leaf.
    pub right: Vec<i64>,
    /// Per node: its depth (the root is 0).
    pub depth: Vec<i64>,
    /// Per node: 1 for an active leaf, 0 for an inactive leaf or a branch.
    pub active: Vec<i64>,
    /// Per node: class weights in `classes` order (a branch: those of the leaf it replaced).
    pub class_weights: Vec<Vec<f64>>,
    /// Active leaves.
    pub n_active_leaves: i64,
    /// The version (number of splits).
    pub version: i64,
}

impl ModelRow {
    /// The current tree's exported form (no nodes before the first labelled row).
    pub fn of(tree: &Tree) -> Self {
        let n = tree.nodes.len();
        let mut r = Self {
            classes: tree.classes(),
            feature: Vec::with_capacity(n),
            threshold: Vec::with_capacity(n),
            left: Vec::with_capacity(n),
            right: Vec::with_capacity(n),
            depth: Vec::with_capacity(n),
            active: Vec::with_capacity(n),
            class_weights: Vec::with_capacity(n),
            n_active_leaves: tree.n_active as i64,
            version: tree.version,
        };
        for node in &tree.nodes {
            let stats = match node {
                Node::Leaf(l) => {
                    r.feature.push(-1);
                    r.threshold.push(0.0);
                    r.left.push(-1);
                    r.right.push(-1);
                    r.depth.push(i64::from(l.depth));
                    r.active.push(i64::from(l.is_active()));
                    &l.stats
                }
                Node::Branch(b) => {
                    r.feature.push(i64::from(b.feature));
                    r.threshold.push(b.threshold);
                    r.left.push(i64::from(b.children[0]));
                    r.right.push(i64::from(b.children[1]));
                    r.depth.push(i64::from(b.depth));
                    r.active.push(0);
                    &b.stats
                }
            };
            r.class_weights.push(tree.sorted.iter().map(|&c| stats.get(c).unwrap_or(0.0)).collect());
        }
        r
    }
}

fn int_lists<'a>(rows: impl Iterator<Item = &'a [i64]>) -> ListArray {
    let mut b = ListBuilder::new(Int64Builder::new()).with_field(Arc::new(Field::new_list_field(DataType::Int64, false)));
    for r in rows {
        b.values().append_slice(r);
        b.append(true);
    }
    b.finish()
}

/// The model data columns for `rows`; with `seqs`, each row names the input row that published
/// it.
pub fn model_batch(rows: &[ModelRow], seqs: Option<&[u64]>) -> Result<RecordBatch, OperatorError> {
    let int_list = |name: &str| Field::new(name, DataType::List(Arc::new(Field::new_list_field(DataType::Int64, false))), false);
    let mut fields = vec![
        list_f64_field("classes"),
        int_list("nodeFeature"),
        list_f64_field("nodeThreshold"),
        int_list("nodeLeft"),
        int_list("nodeRight"),
        int_list("nodeDepth"),
        int_list("nodeActive"),
        nested_list_f64_field("nodeClassWeights"),
        Field::new("nActiveLeaves", DataType::Int64, false),
        Field::new("modelVersion", DataType::Int64, false),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(list_f64_array(rows.iter().map(|r| r.classes.as_slice()))),
        Arc::new(int_lists(rows.iter().map(|r| r.feature.as_slice()))),
        Arc::new(list_f64_array(rows.iter().map(|r| r.threshold.as_slice()))),
        Arc::new(int_lists(rows.iter().map(|r| r.left.as_slice()))),
        Arc::new(int_lists(rows.iter().map(|r| r.right.as_slice()))),
        Arc::new(int_lists(rows.iter().map(|r| r.depth.as_slice()))),
        Arc::new(int_lists(rows.iter().map(|r| r.active.as_slice()))),
        Arc::new(nested_list_f64_array(rows.iter().map(|r| r.class_weights.as_slice()))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.n_active_leaves))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.version))),
    ];
    if let Some(seqs) = seqs {
        fields.push(Field::new(SEQ_COLUMN, DataType::UInt64, false));
        columns.push(Arc::new(UInt64Array::from(seqs.to_vec())));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| OperatorError::internal(e.to_string()))
}
