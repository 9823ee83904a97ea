//! `eddy-interactions`: writes a seeded synthetic interaction stream as JSON lines
//! (`{"user":"u17","item":42,"ts":1700000000000}`), or scores a stream with the prequential
//! popularity baseline (hit rate at 10 per window, CSV).

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use eddy_embeddings_gen::{GenConfig, Generator, PopularityBaseline};

#[derive(Parser)]
#[command(version, about = "Synthetic interaction streams for eddy's embedding updater")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the stream as JSON lines.
    Generate {
        /// Seed of the stream.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Number of events.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Number of users.
        #[arg(long, default_value_t = 2_000)]
        users: u64,
        /// Number of items.
        #[arg(long, default_value_t = 1_000)]
        items: u64,
        /// Number of latent groups.
        #[arg(long, default_value_t = 10)]
        groups: u64,
        /// Probability that an item comes from the user's group.
        #[arg(long, default_value_t = 0.8)]
        in_group: f64,
        /// Zipf exponent of item popularity.
        #[arg(long, default_value_t = 1.0)]
        zipf: f64,
        /// Index of the first event after the drift (every user changes group); negative for none.
        #[arg(long, default_value_t = 100_000, allow_negative_numbers = true)]
        drift_at: i64,
        /// Share of the users that change group at the drift (0 to 1).
        #[arg(long, default_value_t = 1.0)]
        drift_share: f64,
        /// Event time of the first event (ms since the epoch).
        #[arg(long, default_value_t = 1_700_000_000_000)]
        start_ms: i64,
        /// Event-time step between events (ms).
        #[arg(long, default_value_t = 1_000)]
        step_ms: i64,
        /// Output file (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Reads JSON lines (standard input) and writes the popularity baseline's hit rate at 10
    /// per window as CSV: `events,hit10`.
    Baseline {
        /// Events per window.
        #[arg(long, default_value_t = 5_000)]
        window: u64,
        /// Field holding the item id.
        #[arg(long, default_value = "item")]
        item_col: String,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Generate { seed, events, users, items, groups, in_group, zipf, drift_at, drift_share, start_ms, step_ms, out } => {
            if users == 0 || items == 0 || groups == 0 || groups > items {
                return Err("users, items and groups must be > 0, and groups <= items".into());
            }
            if !(0.0..=1.0).contains(&in_group) {
                return Err("--in-group must be in [0, 1]".into());
            }
            if !(0.0..=1.0).contains(&drift_share) {
                return Err("--drift-share must be in [0, 1]".into());
            }
            let cfg = GenConfig {
                seed,
                events,
                users,
                items,
                groups,
                in_group,
                zipf,
                drift_at: u64::try_from(drift_at).ok(),
                drift_share,
                start_ms,
                step_ms,
            };
            let sink: Box<dyn Write> = match out {
                Some(p) => Box::new(File::create(&p).map_err(|e| format!("cannot create {}: {e}", p.display()))?),
                None => Box::new(io::stdout().lock()),
            };
            let mut w = BufWriter::new(sink);
            for e in Generator::new(cfg) {
                writeln!(w, "{}", e.json_line())?;
            }
            w.flush()?;
        }
        Command::Baseline { window, item_col } => {
            let window = window.max(1);
            let mut base = PopularityBaseline::new();
            let mut out = BufWriter::new(io::stdout().lock());
            writeln!(out, "events,hit10")?;
            let (mut n, mut hits) = (0u64, 0u64);
            for (lineno, line) in io::stdin().lock().lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", lineno + 1))?;
                let item = v.get(&item_col).ok_or_else(|| format!("line {}: no field {item_col:?}", lineno + 1))?;
                hits += u64::from(base.hit10_then_count(&item.to_string()));
                n += 1;
                if n % window == 0 {
                    writeln!(out, "{n},{}", hits as f64 / window as f64)?;
                    hits = 0;
                }
            }
            if n % window != 0 {
                writeln!(out, "{n},{}", hits as f64 / (n % window) as f64)?;
            }
            out.flush()?;
        }
    }
    Ok(())
}
