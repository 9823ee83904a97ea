//! `eddy run`: load a job, run it with a progress bar on a terminal, print a summary.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use eddy_host::job::Job;
use eddy_host::run::{RunSummary, run_replay};
use eddy_host::{Limits, Runtime};
use indicatif::{ProgressBar, ProgressStyle};

pub fn run(job_path: &Path, overrides: &[String], json: bool, quiet: bool) -> anyhow::Result<()> {
    let job = Job::load(job_path, overrides)?;
    let k = &job.sinks;
    let no_sinks = [&k.predictions, &k.models, &k.dead_letters, &k.embeddings, &k.drift].iter().all(|s| s.is_none());
    if job.source.kafka.is_none() && no_sinks {
        eprintln!(
            "note: the job has no [sinks]: nothing is written, the counts below are what would have been (set sinks.predictions = \"FILE\" to keep the predictions)"
        );
    }
    let rt = Runtime::new(Limits { ..job.limits }).context("starting the wasm runtime")?;
    let bar = (!quiet && job.source.kafka.is_none() && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(0);
        b.set_style(ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} records ({per_sec}, eta {eta})").expect("valid template"));
        b
    });
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let result =
        if job.source.kafka.is_some() { crate::kafka::run(&rt, &job) } else { run_replay(&rt, &job, &progress).map_err(Into::into) };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let summary = result.with_context(|| format!("job {} failed", job_path.display()))?;
    if json {
        println!("{}", summary_json(&summary));
    } else {
        print_summary(&summary);
    }
    Ok(())
}

fn summary_json(s: &RunSummary) -> serde_json::Value {
    serde_json::json!({
        "operator": s.operator,
        "records": s.records_in,
        "predictions": s.predictions,
        "models": s.models,
        "dead_letters": s.dead_letters,
        "embeddings": s.embeddings,
        "seconds": s.elapsed.as_secs_f64(),
        "records_per_second": s.throughput(),
        "rows": s.rows_in,
        "rows_per_second": s.rows_per_second(),
        "metrics": s.metrics,
        "drift": s.drift.as_ref().map(|d| d.to_json()),
    })
}

fn print_summary(s: &RunSummary) {
    println!("operator      {}", s.operator);
    if s.rows_in == s.records_in {
        println!("records       {} in {:.2} s ({:.0} records/s)", s.records_in, s.elapsed.as_secs_f64(), s.throughput());
    } else {
        println!(
            "records       {} ({} rows) in {:.2} s ({:.0} rows/s, {:.0} records/s)",
            s.records_in,
            s.rows_in,
            s.elapsed.as_secs_f64(),
            s.rows_per_second(),
            s.throughput()
        );
    }
    println!("predictions   {}", s.predictions);
    let m = &s.metrics;
    // An embedder's published rows are vectors (one per changed id) and tombstones; without
    // an embeddings sink they go where model versions go, and are counted there.
    let embedder = m.hit_rate_10.is_some();
    if embedder && s.embeddings == 0 && s.models > 0 {
        println!("model updates {} (vector rows: changed vectors and tombstones; no embeddings sink is set)", s.models);
    } else {
        println!("model updates {}", s.models);
    }
    println!("dead letters  {}", s.dead_letters);
    if s.embeddings > 0 {
        println!("embeddings    {} (changed vectors and tombstones)", s.embeddings);
    }
    let pct = |v: Option<f64>| v.map(|v| format!("{:.2}%", v * 100.0));
    let num = |v: Option<f64>| v.map(|v| format!("{v:.4}"));
    for (name, v) in [
        ("accuracy", pct(m.accuracy)),
        ("log loss", num(m.log_loss)),
        ("ROC AUC", pct(m.roc_auc)),
        ("macro F1", pct(m.macro_f1)),
        ("MAE", num(m.mae)),
        ("RMSE", num(m.rmse)),
        ("hit rate@10", pct(m.hit_rate_10)),
        ("MRR", num(m.mrr)),
    ] {
        if let Some(v) = v {
            if embedder {
                // Every event counts: one whose user or item has no vector yet is a miss.
                println!(
                    "{name:<13} {v}  (prequential over {} events; an event whose user or item had no vector yet counts as a miss)",
                    m.labelled
                );
            } else {
                println!("{name:<13} {v}  (prequential, {} labelled rows)", m.labelled);
            }
        }
    }
    print_drift(s);
}

/// The drift line and one line per kept detection (nothing when drift detection is off or
/// the operator feeds it no error).
fn print_drift(s: &RunSummary) {
    let Some(d) = s.drift.as_ref().filter(|d| d.rows > 0) else { return };
    match d.detections {
        0 => println!("drift         none detected (ADWIN on the prequential error of {} rows)", d.rows),
        n => println!("drift         {n} detected (ADWIN on the prequential error of {} rows):", d.rows),
    }
    for x in &d.kept {
        println!(
            "  {}[{}] offset {}{}: error {:.4} -> {:.4} ({}; window {} rows){}",
            x.topic,
            x.partition,
            x.offset,
            if x.row > 0 { format!(" row {}", x.row) } else { String::new() },
            x.error_before,
            x.error_after,
            if x.error_after > x.error_before { "rose" } else { "fell" },
            x.width,
            x.model_version.map_or(String::new(), |v| format!(", model version {v}")),
        );
    }
    if d.detections > d.kept.len() as u64 {
        println!("  ... and {} more (the drift sink has every one)", d.detections - d.kept.len() as u64);
    }
}
