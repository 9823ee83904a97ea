//! The embedding-updater example as a library (the binary and the integration test share it):
//! generate a seeded interaction stream with planted groups, a popularity skew and a drift,
//! record it as a topic, run the embeddings job over it, and compare the prequential hit rate
//! at 10, window by window, with a popularity baseline on the same stream.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use eddy_embeddings_gen::{GenConfig, Generator, PopularityBaseline};
use eddy_host::job::Job;
use eddy_host::replay::ReplayWriter;
use eddy_host::run::{RunSummary, run_replay};
use eddy_host::{Record, Runtime};
use serde_json::Value;

/// What the example measured.
#[derive(Debug, Clone)]
pub struct Curves {
    /// Events per window.
    pub window: usize,
    /// The model's hit rate at 10 per window.
    pub model: Vec<f64>,
    /// The popularity baseline's hit rate at 10 per window.
    pub baseline: Vec<f64>,
    /// Index of the first event after the drift.
    pub drift_at: Option<u64>,
    /// The run's summary.
    pub summary: RunSummary,
}

/// Writes the generated stream as a replay of topic `interactions` (values are JSON objects
/// `{"user": "u17", "item": 42, "ts": ...}`, timestamps are the event times).
pub fn record_stream(cfg: &GenConfig, path: &Path) -> anyhow::Result<Vec<String>> {
    let mut w = ReplayWriter::create(path, "interactions")?;
    let mut items = Vec::new();
    for (i, e) in Generator::new(cfg.clone()).enumerate() {
        items.push(e.item_json());
        w.append([Record {
            topic: "interactions".into(),
            partition: 0,
            offset: i as i64,
            timestamp: e.ts,
            key: Some(e.user_json().into_bytes()),
            value: e.json_line().into_bytes(),
            headers: vec![],
        }])?;
    }
    w.finish()?;
    Ok(items)
}

/// Runs the example: `job` (with its sinks under `out`), over `cfg`'s stream.
pub fn run(rt: &Runtime, job_path: &Path, out: &Path, cfg: &GenConfig, window: usize, overrides: &[String]) -> anyhow::Result<Curves> {
    std::fs::create_dir_all(out)?;
    let input = out.join("interactions.replay");
    let items = record_stream(cfg, &input)?;
    let s = |k: &str, p: PathBuf| format!("{k}={:?}", p.display().to_string());
    let mut o = vec![
        s("source.replay", input),
        s("sinks.predictions", out.join("predictions.replay")),
        s("sinks.embeddings", out.join("embeddings.replay")),
        s("sinks.dead_letters", out.join("dead-letters.replay")),
    ];
    o.extend_from_slice(overrides);
    let job = Job::load(job_path, &o)?;
    let summary = run_replay(rt, &job, &|_, _| {}).context("running the embeddings job")?;

    let preds = eddy_host::replay::read(&out.join("predictions.replay"))?;
    anyhow::ensure!(preds.len() == items.len(), "{} predictions for {} events", preds.len(), items.len());
    let hits: Vec<bool> = preds
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.value).expect("JSON prediction");
            v["rank"].as_i64().is_some_and(|k| (1..=10).contains(&k))
        })
        .collect();
    let mut pop = PopularityBaseline::new();
    let base: Vec<bool> = items.iter().map(|i| pop.hit10_then_count(i)).collect();
    let rate = |v: &[bool]| v.chunks(window).map(|c| c.iter().filter(|h| **h).count() as f64 / c.len() as f64).collect();
    Ok(Curves { window, model: rate(&hits), baseline: rate(&base), drift_at: cfg.drift_at, summary })
}

/// The two curves as an SVG line chart (written by hand: two polylines and a few labels).
pub fn svg(c: &Curves) -> String {
    let (w, h, m) = (720.0, 360.0, 50.0);
    let n = c.model.len().max(1) as f64;
    let x = |i: f64| m + (w - 2.0 * m) * (i + 0.5) / n;
    let y = |v: f64| h - m - (h - 2.0 * m) * v;
    let line = |v: &[f64]| v.iter().enumerate().map(|(i, r)| format!("{:.1},{:.1}", x(i as f64), y(*r))).collect::<Vec<_>>().join(" ");
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{m}" y="24" font-size="14">Prequential hit rate at 10, per window of {win} events</text>
<line x1="{m}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><line x1="{m}" y1="{t}" x2="{m}" y2="{b}" stroke="black"/>
"##,
        win = c.window,
        b = h - m,
        r = w - m,
        t = m
    );
    for k in 0..=5 {
        let v = k as f64 / 5.0;
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" text-anchor="end">{v:.1}</text><line x1="{m}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#ddd"/>"##,
            m - 6.0,
            y(v) + 4.0,
            y(v),
            w - m,
            y(v)
        );
    }
    if let Some(d) = c.drift_at {
        let xd = m + (w - 2.0 * m) * d as f64 / (n * c.window as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{xd:.1}" y1="{m}" x2="{xd:.1}" y2="{}" stroke="#999" stroke-dasharray="4"/><text x="{:.1}" y="{}">drift</text>"##,
            h - m,
            xd + 4.0,
            m + 12.0
        );
    }
    let _ = writeln!(s, r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{}"/>"##, line(&c.model));
    let _ = writeln!(s, r##"<polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="{}"/>"##, line(&c.baseline));
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" fill="#1f77b4">eddy embeddings (BPR, dim 32)</text><text x="{}" y="{}" fill="#ff7f0e">popularity baseline</text>
<text x="{}" y="{}" text-anchor="middle">events</text></svg>"##,
        w - 260.0,
        m + 30.0,
        w - 260.0,
        m + 48.0,
        w / 2.0,
        h - 12.0
    );
    s
}
