//! `cargo run --release -p embeddings-example`: generates the stream, runs
//! `examples/embeddings/job.toml`, prints hit rate at 10 per window for the model and the
//! popularity baseline, and writes `examples/embeddings/out/hit-rate.svg`.

use std::path::Path;

use eddy_embeddings_gen::GenConfig;
use eddy_host::{Limits, Runtime};

fn main() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.join("out");
    let rt = Runtime::new(Limits::default())?;
    let cfg = GenConfig::default();
    let c = embeddings_example::run(&rt, &dir.join("job.toml"), &out, &cfg, 10_000, &[])?;
    println!("window  model  popularity   ({} events, drift at event {:?})", cfg.events, cfg.drift_at);
    for (i, (m, b)) in c.model.iter().zip(&c.baseline).enumerate() {
        println!("{:>6}  {m:.3}  {b:.3}", i * c.window);
    }
    let s = &c.summary.metrics;
    println!(
        "overall: hit rate@10 {:.3}, MRR {:.3}; {} embedding records; {:.0} events/s",
        s.hit_rate_10.unwrap_or(0.0),
        s.mrr.unwrap_or(0.0),
        c.summary.embeddings,
        c.summary.throughput()
    );
    let plot = out.join("hit-rate.svg");
    std::fs::write(&plot, embeddings_example::svg(&c))?;
    println!("plot: {}", plot.display());
    Ok(())
}
