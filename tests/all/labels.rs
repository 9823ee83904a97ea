//! Class labels as numbers, strings or booleans (the WIT `label` column type): the phishing
//! stream run by each classifier with its 0/1 label given as numbers, as strings and as
//! booleans (in JSON and in Arrow) learns and predicts the same classes, answered in the label's
//! own type; declared string classes fix the `rawPrediction` order; a label of another type is a
//! dead letter naming the column.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use eddy_host::job::Job;
use eddy_host::run::{RunSummary, run_replay};
use eddy_host::{Record, headers};
use eddy_tests::{json_records, replay_values, repo_root, runtime, write_replay};
use serde_json::{Value, json};

use eddy_tests::PHISHING_FEATURES as FEATURES;

/// The phishing rows with `is_phishing` as `label(is_phishing == 1)`.
fn phishing(label: impl Fn(bool) -> Value) -> Vec<Value> {
    let recs = eddy_host::replay::read(&repo_root().join("examples/phishing/phishing.replay")).unwrap();
    recs.iter()
        .map(|r| {
            let mut v: Value = serde_json::from_slice(&r.value).unwrap();
            let y = v["is_phishing"].as_f64().unwrap() == 1.0;
            v["is_phishing"] = label(y);
            v
        })
        .collect()
}

fn run(dir: &Path, name: &str, component: &str, extra: &str, records: Vec<Record>, format: &str) -> (RunSummary, Vec<Value>) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    write_replay(&d.join("in.replay"), records);
    let text = format!(
        r#"
[source]
replay = "in.replay"
format = "{format}"
[operator]
component = "{component}"
[operator.config]
featuresCol = {features:?}
labelCol = "is_phishing"
{extra}
[sinks]
predictions = "p.replay"
dead_letters = "d.replay"
"#,
        features = FEATURES
    );
    let job = Job::parse(&text, &d, &["drift.enabled=false".into()]).unwrap();
    let s = run_replay(runtime(), &job, &|_, _| {}).unwrap();
    let preds = if format == "json" { replay_values(&d.join("p.replay")) } else { Vec::new() };
    (s, preds)
}

#[test]
fn every_classifier_takes_numbers_strings_and_booleans_alike() {
    let dir = tempfile::tempdir().unwrap();
    // The stream's first row is a phishing site, so the string "phishing" is numbered 0 (first
    // seen): the numbers and booleans give phishing class 0 (false) to match.
    assert_eq!(phishing(|y| json!(y))[0]["is_phishing"], json!(true));
    let numbers = phishing(|y| json!(if y { 0.0 } else { 1.0 }));
    let strings = phishing(|y| json!(if y { "phishing" } else { "legit" }));
    let booleans = phishing(|y| json!(!y));
    for (component, extra) in [("naive-bayes", ""), ("hoeffding-tree", "gracePeriod = 50"), ("softmax-regression", "learningRate = 0.1")] {
        let (n, np) = run(dir.path(), &format!("{component}-n"), component, extra, json_records("in", &numbers), "json");
        let (s, sp) = run(dir.path(), &format!("{component}-s"), component, extra, json_records("in", &strings), "json");
        let (b, bp) = run(dir.path(), &format!("{component}-b"), component, extra, json_records("in", &booleans), "json");
        assert_eq!((n.predictions, n.dead_letters, n.metrics.labelled), (1250, 0, 1250), "{component}");
        assert!(n.metrics.accuracy.unwrap() > 0.8, "{component} learns: {:?}", n.metrics.accuracy);
        for (kind, other, preds) in [("strings", &s, &sp), ("booleans", &b, &bp)] {
            assert_eq!((other.dead_letters, other.metrics.labelled), (0, 1250), "{component} {kind}");
            assert_eq!(other.metrics.accuracy, n.metrics.accuracy, "{component} {kind}: the same classes learned");
            for (i, (p, q)) in np.iter().zip(preds).enumerate() {
                let want = match (kind, p["prediction"].as_f64()) {
                    (_, None) => Value::Null,
                    ("strings", Some(c)) => json!(if c == 0.0 { "phishing" } else { "legit" }),
                    (_, Some(c)) => json!(c == 1.0),
                };
                assert_eq!(q["prediction"], want, "{component} {kind} row {i}: answered in the label's type");
                assert_eq!(q["rawPrediction"], p["rawPrediction"], "{component} {kind} row {i}");
            }
        }
        // Booleans are 0 and 1: the binary metrics apply; strings have no positive class.
        assert_eq!(b.metrics.roc_auc, n.metrics.roc_auc, "{component}");
        assert_eq!(s.metrics.roc_auc, None, "{component}");
    }
}

#[test]
fn arrow_labels_of_any_type_and_declared_string_classes() {
    let dir = tempfile::tempdir().unwrap();
    let rows = phishing(|y| json!(y));
    let arrow_records = |label: ArrayRef| -> Vec<Record> {
        let mut fields: Vec<Field> = FEATURES.iter().map(|f| Field::new(*f, arrow::datatypes::DataType::Float64, false)).collect();
        let mut cols: Vec<ArrayRef> = FEATURES
            .iter()
            .map(|f| Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r[*f].as_f64().unwrap()))) as ArrayRef)
            .collect();
        fields.push(Field::new("is_phishing", label.data_type().clone(), true));
        cols.push(label);
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
        let mut value = Vec::new();
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut value, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        vec![Record { topic: "in".into(), partition: 0, offset: 0, timestamp: 0, key: None, value, headers: vec![] }]
    };
    let ys: Vec<bool> = rows.iter().map(|r| r["is_phishing"].as_bool().unwrap()).collect();
    let bools = Arc::new(BooleanArray::from(ys.clone()));
    let texts = Arc::new(StringArray::from_iter_values(ys.iter().map(|&y| if y { "phishing" } else { "legit" })));
    let numbers = Arc::new(Float64Array::from_iter_values(ys.iter().map(|&y| f64::from(u8::from(y)))));
    let (n, _) = run(dir.path(), "arrow-n", "naive-bayes", "", arrow_records(numbers), "arrow");
    let (b, _) = run(dir.path(), "arrow-b", "naive-bayes", "", arrow_records(bools), "arrow");
    let (s, _) = run(dir.path(), "arrow-s", "naive-bayes", "", arrow_records(texts), "arrow");
    assert_eq!(n.metrics.labelled, 1250);
    assert_eq!((b.metrics.accuracy, s.metrics.accuracy), (n.metrics.accuracy, n.metrics.accuracy));

    // Declared classes in either order: rawPrediction follows the declaration.
    let strings = phishing(|y| json!(if y { "phishing" } else { "legit" }));
    let (_, plain) =
        run(dir.path(), "decl-fwd", "softmax-regression", r#"classes = ["legit", "phishing"]"#, json_records("in", &strings), "json");
    let (_, declared) =
        run(dir.path(), "decl", "softmax-regression", r#"classes = ["phishing", "legit"]"#, json_records("in", &strings), "json");
    let mut compared = 0;
    for (i, (p, q)) in plain.iter().zip(&declared).enumerate() {
        let (p, q) = (p["rawPrediction"].as_array().unwrap(), q["rawPrediction"].as_array().unwrap());
        compared += 1;
        assert_eq!((p[0].clone(), p[1].clone()), (q[1].clone(), q[0].clone()), "row {i}: declared order");
    }
    assert_eq!(compared, 1250);
    // The same predictions, but for ties (equal probabilities), which go to the first class.
    let untied = |p: &Value| p["rawPrediction"][0] != p["rawPrediction"][1];
    assert!(plain.iter().zip(&declared).all(|(p, q)| !untied(p) || p["prediction"] == q["prediction"]), "the same predictions");
}

#[test]
fn a_label_of_another_type_is_a_dead_letter_naming_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut values = phishing(|y| json!(if y { "phishing" } else { "legit" }));
    values[10]["is_phishing"] = json!(1);
    values[20]["is_phishing"] = json!([1]);
    let (s, _) = run(dir.path(), "mixed", "hoeffding-tree", "", json_records("in", &values), "json");
    assert_eq!((s.dead_letters, s.metrics.labelled), (2, 1248));
    let dead = eddy_host::replay::read(&dir.path().join("mixed/d.replay")).unwrap();
    let reasons: Vec<(String, String, String)> = dead
        .iter()
        .map(|r| {
            (r.header(headers::ORIGIN_OFFSET).unwrap(), r.header(headers::ERROR_COLUMN).unwrap(), r.header(headers::ERROR_REASON).unwrap())
        })
        .collect();
    assert_eq!((reasons[0].0.as_str(), reasons[0].1.as_str()), ("10", "is_phishing"));
    assert!(reasons[0].2.contains("a number but this classifier's labels are a string"), "{:?}", reasons[0]);
    assert_eq!((reasons[1].0.as_str(), reasons[1].1.as_str()), ("20", "is_phishing"));
    assert!(reasons[1].2.contains("expected a label"), "{:?}", reasons[1]);
}

/// String labels that read like numbers or booleans ("0", "true") are strings: the metrics
/// match the prediction "0" with the label "0", not with the number 0.
#[test]
fn string_labels_that_look_like_numbers_are_scored_as_strings() {
    let dir = tempfile::tempdir().unwrap();
    let numbers = phishing(|y| json!(if y { 0.0 } else { 1.0 }));
    let (n, _) = run(dir.path(), "n", "naive-bayes", "", json_records("in", &numbers), "json");
    for (a, b) in [("0", "1"), ("true", "false")] {
        let strings = phishing(|y| json!(if y { a } else { b }));
        let (s, sp) = run(dir.path(), a, "naive-bayes", "", json_records("in", &strings), "json");
        assert!(sp[5]["prediction"].is_string(), "answered as a string");
        assert_eq!(s.metrics.accuracy, n.metrics.accuracy, "labels {a}/{b}");
    }
}

#[test]
fn ftrl_takes_strings_and_booleans_through_declared_classes() {
    let dir = tempfile::tempdir().unwrap();
    let numbers = phishing(|y| json!(if y { 1.0 } else { 0.0 }));
    let strings = phishing(|y| json!(if y { "phishing" } else { "legit" }));
    let booleans = phishing(|y| json!(y));
    let base = "globalBatchSize = 1";
    let (n, np) = run(dir.path(), "ftrl-n", "ftrl", base, json_records("in", &numbers), "json");
    let (s, sp) =
        run(dir.path(), "ftrl-s", "ftrl", &format!("{base}\nclasses = [\"legit\", \"phishing\"]"), json_records("in", &strings), "json");
    let (b, bp) = run(dir.path(), "ftrl-b", "ftrl", &format!("{base}\nclasses = [false, true]"), json_records("in", &booleans), "json");
    assert_eq!((n.predictions, n.dead_letters, n.metrics.labelled), (1250, 0, 1250));
    assert!(n.metrics.accuracy.unwrap() > 0.7, "ftrl learns (unscaled features): {:?}", n.metrics.accuracy);
    for (kind, other, preds, names) in
        [("strings", &s, &sp, [json!("legit"), json!("phishing")]), ("booleans", &b, &bp, [json!(false), json!(true)])]
    {
        assert_eq!((other.dead_letters, other.metrics.labelled), (0, 1250), "{kind}");
        assert_eq!(other.metrics.accuracy, n.metrics.accuracy, "{kind}: the same classes learned");
        for (i, (p, q)) in np.iter().zip(preds).enumerate() {
            let class = usize::from(p["prediction"].as_f64() == Some(1.0));
            assert_eq!(q["prediction"], names[class], "{kind} row {i}: the prediction in the label's own type");
            assert_eq!(q["rawPrediction"], p["rawPrediction"], "{kind} row {i}: [P(first class), P(second)]");
        }
    }
    // A label that is not one of the classes is a dead letter naming it; the rest run on.
    let mut odd = strings.clone();
    odd[7]["is_phishing"] = json!("spam");
    let (o, _) =
        run(dir.path(), "ftrl-o", "ftrl", &format!("{base}\nclasses = [\"legit\", \"phishing\"]"), json_records("in", &odd), "json");
    assert_eq!((o.predictions, o.dead_letters), (1249, 1));
    let dead = eddy_host::replay::read(&dir.path().join("ftrl-o/d.replay")).unwrap();
    let r = &dead[0];
    assert_eq!(
        (r.header(headers::ORIGIN_OFFSET).unwrap().as_str(), r.header(headers::ERROR_COLUMN).unwrap().as_str()),
        ("7", "is_phishing")
    );
    let why = r.header(headers::ERROR_REASON).unwrap();
    assert!(why.contains(r#"label "spam" is not one of classes ["legit", "phishing"]"#), "{why}");
}

#[test]
fn ftrl_learns_rivers_way_through_the_component() {
    // river 0.26.1's LogisticRegression(optimizer=FTRLProximal(), intercept_lr=0) on the same
    // rows, recorded by operator/ftrl/tests/reference/river_reference.py: its prequential
    // accuracy, which Flink ML's update (the default) does not reach on these rows.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_root().join("operator/ftrl/tests/reference/summary.json")).unwrap()).unwrap();
    let river = summary["cases"]["phishing"]["accuracy"].as_f64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let booleans = phishing(|y| json!(y));
    let base = "classes = [false, true]";
    let (r, rp) = run(dir.path(), "ftrl-river", "ftrl", &format!("{base}\nupdate = \"river\""), json_records("in", &booleans), "json");
    let (f, _) = run(dir.path(), "ftrl-flink", "ftrl", &format!("{base}\nglobalBatchSize = 1"), json_records("in", &booleans), "json");
    assert_eq!((r.predictions, r.dead_letters, r.metrics.labelled), (1250, 0, 1250));
    assert_eq!(rp[1249]["modelVersion"], json!(1249), "a model version per labelled row");
    assert_eq!(r.metrics.accuracy, Some(river), "river's accuracy");
    assert_ne!(f.metrics.accuracy, Some(river), "Flink ML's update is not river's");
}
