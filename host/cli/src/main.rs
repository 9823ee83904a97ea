//! The `eddy` command line: `run` a job, `topic import|cat` replay files, `inspect` an
//! operator. A thin layer over `eddy-host`; errors are reported here with anyhow.

mod import;
mod inspect;
mod kafka;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: the replay runner's reader, decoder, operator
/// and sink threads hand batches of records to one another, so most blocks are freed on
/// another thread than the one that allocated them. glibc's malloc either spread them over
/// one arena per thread (the peak memory grew with the length of the input) or, capped at two
/// arenas, made the threads wait on each other's arena locks; mimalloc's per-thread heaps
/// take cross-thread frees without a lock and give the space back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// eddy runs online-learning operators, compiled to WebAssembly components, over Kafka
/// streams and recorded topics.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a job file: read records, score and learn, write predictions and model versions.
    Run {
        /// The job file (TOML).
        job: PathBuf,
        /// Override a job setting, e.g. `--set run.batch_size=7` or
        /// `--set operator.config.alpha=0.5`. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Print the summary as one JSON object on stdout (for scripts).
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// Kafka jobs: serve Prometheus metrics on this address (overrides `[run] metrics_addr`).
        #[arg(long, value_name = "HOST:PORT")]
        metrics_addr: Option<String>,
    },
    /// Work with recorded topics (replay files).
    Topic {
        #[command(subcommand)]
        command: TopicCommand,
    },
    /// Print what an operator says of itself: name, version, kind, parameters.
    Inspect {
        /// A shipped operator's name or a path to a .wasm component.
        component: String,
    },
}

#[derive(Debug, Subcommand)]
enum TopicCommand {
    /// Turn CSV, JSON lines or Parquet rows into a replay of records whose values are JSON
    /// objects (one row each) or Arrow IPC streams (`--format arrow`, several rows each).
    Import(import::ImportArgs),
    /// Record a live Kafka topic into a replay file.
    Record(kafka::RecordArgs),
    /// Produce a replay file into a Kafka topic (keys, partitions, timestamps, headers kept).
    Produce(kafka::ProduceArgs),
    /// Print a replay's records as JSON lines.
    Cat {
        /// The replay file.
        file: PathBuf,
        /// Print at most this many records.
        #[arg(long)]
        limit: Option<usize>,
    },
}

/// The log filter without `EDDY_LOG`: warnings, eddy's Kafka and drift lines. rust-rdkafka's
/// consumer logs an error when a consumer that its group fenced is dropped ("Failed to close
/// consumer queue on drop: FencedInstanceId"); eddy drops one after every lost session, says
/// so itself, and starts over, so that line is off.
const DEFAULT_LOG_FILTER: &str = "warn,eddy_kafka=info,eddy_drift=info,rdkafka::consumer::base_consumer=off";

/// Transparent huge pages off for this process (Linux): with them, each thread's first
/// allocations in a fresh mimalloc arena fault in and zero whole 2 MiB pages (and the kernel may
/// compact memory to find them): ten runs of the same 1,250-row chain gave 14,000 to 98,000
/// rows/s with them and 58,000 to 93,000 without (medians 61,700 and 65,900).
/// mimalloc is also built without its `madvise(MADV_HUGEPAGE)` (its `no_thp` feature), so that
/// the benchmarks that run with eddy's allocator but not this `main` (ftrl_component_vs_native)
/// get the same pages on a machine whose THP setting is `madvise`.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) only sets a flag of this process.
    #[expect(unsafe_code, reason = "one prctl call with constant arguments")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    no_huge_pages();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG").unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { job, mut overrides, json, quiet, metrics_addr } => {
            overrides.extend(metrics_addr.map(|a| format!("run.metrics_addr={a:?}")));
            run::run(&job, &overrides, json, quiet)
        }
        Command::Topic { command: TopicCommand::Import(args) } => import::import(&args),
        Command::Topic { command: TopicCommand::Record(args) } => kafka::record(&args),
        Command::Topic { command: TopicCommand::Produce(args) } => kafka::produce(&args),
        Command::Topic { command: TopicCommand::Cat { file, limit } } => import::cat(&file, limit),
        Command::Inspect { component } => inspect::inspect(&component),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
