//! Operational metrics of a Kafka run, in Prometheus text format, served over plain HTTP by a
//! small responder thread (`GET /metrics`; any path answers the same). The runner updates a
//! [`Metrics`] value; a scrape renders it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use eddy_host::metrics::Summary;

/// Per input partition.
#[derive(Debug, Clone, Default)]
pub struct PartitionMetrics {
    /// Whether this process owns the partition now.
    pub assigned: bool,
    /// Records read.
    pub records_in: u64,
    /// Prediction records written.
    pub predictions: u64,
    /// Model records written.
    pub models: u64,
    /// Dead letters written.
    pub dead_letters: u64,
    /// Drift detections on the partition's prequential error (by this process).
    pub drift_detections: u64,
    /// Next offset to process.
    pub next_offset: i64,
    /// The partition's end as the consumer last saw it (last stable offset).
    pub end_offset: Option<i64>,
    /// Latest model version published, if the model records carry `modelVersion`.
    pub model_version: Option<i64>,
    /// Prequential metrics of the partition's whole stream (they are restored with its
    /// checkpoint).
    pub summary: Option<Summary>,
}

/// Everything a scrape shows.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Per input partition.
    pub partitions: BTreeMap<(String, i32), PartitionMetrics>,
    /// Checkpoints committed.
    pub checkpoints: u64,
    /// Total seconds spent committing checkpoints.
    pub checkpoint_seconds_sum: f64,
    /// Duration of the last checkpoint.
    pub last_checkpoint_seconds: f64,
    /// Snapshot bytes written by the last checkpoint.
    pub last_checkpoint_bytes: u64,
    /// Snapshot bytes written in all.
    pub checkpoint_bytes_sum: u64,
    /// Restores from the checkpoint topic (partition assignments).
    pub restores: u64,
    /// Times the runner started over after a Kafka failure.
    pub restarts: u64,
    /// Transactions aborted.
    pub aborts: u64,
    /// Whether the broker answered lately.
    pub broker_up: bool,
}

/// Shared, updatable metrics.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<State>>);

impl Metrics {
    /// Locks the state for an update.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The partition's entry, created on first use.
    pub fn partition<R>(&self, topic: &str, partition: i32, f: impl FnOnce(&mut PartitionMetrics) -> R) -> R {
        let mut s = self.lock();
        f(s.partitions.entry((topic.to_owned(), partition)).or_default())
    }

    /// The Prometheus text exposition of the current state.
    pub fn render(&self) -> String {
        let s = self.lock().clone();
        let mut o = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, f64)>| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in rows {
                let _ = writeln!(o, "{name}{labels} {}", fmt_value(v));
            }
        };
        let per = |f: &dyn Fn(&PartitionMetrics) -> Option<f64>| -> Vec<(String, f64)> {
            s.partitions
                .iter()
                .filter_map(|((t, p), m)| f(m).map(|v| (format!("{{topic=\"{}\",partition=\"{p}\"}}", escape(t)), v)))
                .collect()
        };
        family("eddy_records_in_total", "counter", "Input records processed.", per(&|m| Some(m.records_in as f64)));
        family("eddy_predictions_out_total", "counter", "Prediction records written.", per(&|m| Some(m.predictions as f64)));
        family("eddy_models_out_total", "counter", "Model version records written.", per(&|m| Some(m.models as f64)));
        family("eddy_dead_letters_total", "counter", "Records sent to the dead-letter topic.", per(&|m| Some(m.dead_letters as f64)));
        family(
            "eddy_drift_detections_total",
            "counter",
            "Drifts ADWIN detected on the partition's prequential error.",
            per(&|m| Some(m.drift_detections as f64)),
        );
        family(
            "eddy_partition_assigned",
            "gauge",
            "1 while this process owns the input partition.",
            per(&|m| Some(f64::from(u8::from(m.assigned)))),
        );
        family(
            "eddy_consumer_lag",
            "gauge",
            "Records between the partition's end (last stable offset) and the next record to process.",
            per(&|m| m.end_offset.filter(|_| m.assigned).map(|e| (e - m.next_offset).max(0) as f64)),
        );
        family("eddy_next_offset", "gauge", "Next input offset to process.", per(&|m| Some(m.next_offset as f64)));
        family("eddy_model_version", "gauge", "Latest model version published.", per(&|m| m.model_version.map(|v| v as f64)));
        let sm = |f: fn(&Summary) -> Option<f64>| per(&move |m: &PartitionMetrics| m.summary.as_ref().and_then(f));
        family("eddy_prequential_rows", "gauge", "Rows scored (prequential, the partition's whole stream).", sm(|s| Some(s.rows as f64)));
        family("eddy_prequential_accuracy", "gauge", "Prequential accuracy (classifiers).", sm(|s| s.accuracy));
        family("eddy_prequential_log_loss", "gauge", "Prequential log loss (binary classifiers).", sm(|s| s.log_loss));
        family("eddy_prequential_roc_auc", "gauge", "Prequential ROC AUC (binary classifiers, anomaly detectors).", sm(|s| s.roc_auc));
        family("eddy_prequential_mae", "gauge", "Prequential mean absolute error (regressors).", sm(|s| s.mae));
        family("eddy_prequential_rmse", "gauge", "Prequential root mean squared error (regressors).", sm(|s| s.rmse));
        family("eddy_checkpoints_total", "counter", "Checkpoints committed.", vec![(String::new(), s.checkpoints as f64)]);
        family(
            "eddy_checkpoint_duration_seconds_sum",
            "counter",
            "Time spent taking and committing checkpoints.",
            vec![(String::new(), s.checkpoint_seconds_sum)],
        );
        family(
            "eddy_checkpoint_last_duration_seconds",
            "gauge",
            "Duration of the last checkpoint.",
            vec![(String::new(), s.last_checkpoint_seconds)],
        );
        family(
            "eddy_checkpoint_last_bytes",
            "gauge",
            "Snapshot bytes in the last checkpoint.",
            vec![(String::new(), s.last_checkpoint_bytes as f64)],
        );
        family(
            "eddy_checkpoint_bytes_total",
            "counter",
            "Snapshot bytes written to the checkpoint topic.",
            vec![(String::new(), s.checkpoint_bytes_sum as f64)],
        );
        family(
            "eddy_restores_total",
            "counter",
            "Partitions restored from the checkpoint topic.",
            vec![(String::new(), s.restores as f64)],
        );
        family(
            "eddy_restarts_total",
            "counter",
            "Times the runner started over from the last checkpoint after a Kafka failure.",
            vec![(String::new(), s.restarts as f64)],
        );
        family("eddy_transactions_aborted_total", "counter", "Transactions aborted.", vec![(String::new(), s.aborts as f64)]);
        family("eddy_broker_up", "gauge", "1 if the broker answered lately.", vec![(String::new(), f64::from(u8::from(s.broker_up)))]);
        o
    }

    /// Serves [`Metrics::render`] on `addr` from a background thread; returns the bound
    /// address (give port 0 for any free port). A bare port (`9100` or `:9100`) binds to
    /// 127.0.0.1: the endpoint is reachable from other machines only when an address says so
    /// (e.g. `0.0.0.0:9100`).
    pub fn serve(&self, addr: &str) -> std::io::Result<SocketAddr> {
        let port = addr.strip_prefix(':').unwrap_or(addr);
        let addr = if port.parse::<u16>().is_ok() { format!("127.0.0.1:{port}") } else { addr.to_owned() };
        let listener = TcpListener::bind(&addr)?;
        let bound = listener.local_addr()?;
        let me = self.clone();
        std::thread::Builder::new().name("eddy-metrics".into()).spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = me.answer(stream);
            }
        })?;
        Ok(bound)
    }

    fn answer(&self, mut s: TcpStream) -> std::io::Result<()> {
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let line = String::from_utf8_lossy(&buf);
        let (status, body) = if line.starts_with("GET ") || line.starts_with("HEAD ") {
            ("200 OK", self.render())
        } else {
            ("405 Method Not Allowed", "only GET\n".to_owned())
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes())?;
        if !line.starts_with("HEAD ") {
            s.write_all(body.as_bytes())?;
        }
        s.flush()
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_serves() {
        let m = Metrics::default();
        m.partition("in", 0, |p| {
            p.assigned = true;
            p.records_in = 5;
            p.next_offset = 5;
            p.end_offset = Some(8);
            p.model_version = Some(2);
            p.drift_detections = 1;
        });
        m.lock().checkpoints = 3;
        let text = m.render();
        assert!(text.contains("eddy_records_in_total{topic=\"in\",partition=\"0\"} 5"), "{text}");
        assert!(text.contains("eddy_consumer_lag{topic=\"in\",partition=\"0\"} 3"), "{text}");
        assert!(text.contains("eddy_model_version{topic=\"in\",partition=\"0\"} 2"), "{text}");
        assert!(text.contains("eddy_drift_detections_total{topic=\"in\",partition=\"0\"} 1"), "{text}");
        assert!(text.contains("eddy_checkpoints_total 3"), "{text}");
        let addr = m.serve("127.0.0.1:0").unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert!(got.starts_with("HTTP/1.1 200 OK"), "{got}");
        assert!(got.contains("eddy_checkpoints_total 3"), "{got}");
        // A bare port binds to the loopback address only.
        for bare in ["0", ":0"] {
            let addr = m.serve(bare).unwrap();
            assert!(addr.ip().is_loopback(), "{bare} bound {addr}");
        }
    }
}
