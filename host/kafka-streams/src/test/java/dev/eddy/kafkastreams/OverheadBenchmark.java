package dev.eddy.kafkastreams;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.Json;
import dev.eddy.core.OperatorBackend;
import dev.eddy.core.OperatorSpec;
import dev.eddy.core.Replays;

/**
 * Not a test: the per-row cost of the Kafka Streams processor against {@code eddy run} on the same
 * records, and what a snapshot costs per commit. Run it with {@code host/kafka-streams/bench.sh}
 * (release builds). One partition, one thread, the phishing example's job (FTRL, a model version
 * per row), its records repeated to {@code rows}:
 *
 * <ol>
 *   <li>{@code eddy run}: the processing time it reports (decode, operator, encode; no file I/O);
 *   <li>the native backend called directly from Java, batches of 1024;
 *   <li>{@link EddyProcessor} with its {@link SnapshotStore} (no changelog: that is Kafka I/O),
 *       driven record by record through {@link MockProcessorContext} (forwarded records are
 *       dropped), batches of 1024, a commit ({@code flushCache}, what Kafka Streams calls before
 *       committing) every {@code commitEvery} rows: 10,000 (about 100 ms at these rates, Kafka
 *       Streams' exactly-once default interval), 1,000, and 1 (a commit per record, the worst case);
 * </ol>
 *
 * Each is run {@code repeats} times (default 3), interleaved, and the best time is reported, with
 * the snapshot cost per commit (taking the operator's snapshot plus the buffered rows, and putting
 * it into the store) and its size.
 */
public final class OverheadBenchmark {

    static List<Replays.Rec> rows;
    static long operatorSnapshotBytes;
    static double operatorSnapshotMicros;

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = Files.createTempDirectory("eddy-bench");
        Map<String, String> config = EddyProcessorDriverTest.ftrlConfig();
        Path component = EddyTestEnv.ftrlComponent();

        List<Replays.Rec> phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < n; i++) {
            lines.append(phishing.get(i % phishing.size()).valueText()).append('\n');
        }
        Path replay = dir.resolve("bench.replay");
        EddyCli.importJsonl(Files.writeString(dir.resolve("bench.jsonl"), lines), "bench", 1, replay);
        rows = Replays.read(replay);
        System.out.printf("%d rows (the phishing records repeated), 1 partition; best of %d%n", rows.size(), repeats);

        OperatorBackend backend = EddyTestEnv.nativeBackend();
        OperatorSpec spec = OperatorSpec.of(component.toString(), EddyCli.configJson(config));
        int[] commitEvery = {10_000, 1_000, 1};
        double eddyRun = Double.MAX_VALUE;
        double direct = Double.MAX_VALUE;
        Result[] streams = new Result[commitEvery.length];
        for (int r = 0; r < repeats; r++) {
            String json = EddyCli.runJson(component, config, replay, dir.resolve("eddy-run"));
            eddyRun = Math.min(eddyRun, ((Number) Json.parseObject(json).get("seconds")).doubleValue());
            direct = Math.min(direct, direct(backend, spec));
            for (int i = 0; i < commitEvery.length; i++) {
                // a commit per record is slow: fewer rows for it, scaled per row below
                int limit = commitEvery[i] == 1 ? Math.min(rows.size(), 20_000) : rows.size();
                Result res = processor(spec, commitEvery[i], limit);
                if (streams[i] == null || res.seconds < streams[i].seconds) {
                    streams[i] = res;
                }
            }
        }
        report("eddy run", eddyRun, rows.size(), eddyRun);
        report("native backend from Java (JNI)", direct, rows.size(), eddyRun);
        System.out.printf(
                "    the operator's own snapshot after %d rows: %d bytes, taken in %.0f us (the rest of a processor"
                        + " snapshot is the rows it holds, up to the batch size)%n",
                rows.size(), operatorSnapshotBytes, operatorSnapshotMicros);
        for (int i = 0; i < commitEvery.length; i++) {
            Result res = streams[i];
            report("processor, a commit every " + commitEvery[i] + " rows", res.seconds, res.rows, eddyRun);
            System.out.printf(
                    "    %d commits, %d snapshots: %.1f us per snapshot (%.0f bytes), %.3f us per row for snapshots%n",
                    res.commits, res.snapshots, res.snapshotNanos / 1e3 / Math.max(1, res.snapshots),
                    (double) res.snapshotBytes / Math.max(1, res.snapshots), res.snapshotNanos / 1e3 / res.rows);
        }
        double perRow = streams[0].seconds / streams[0].rows;
        double eddyPerRow = eddyRun / rows.size();
        System.out.printf(
                "ratio processor (commit every 10000 rows) / eddy run: %.2f (per row: %.2f us vs %.2f us, overhead %.2f us)%n",
                perRow / eddyPerRow, perRow * 1e6, eddyPerRow * 1e6, (perRow - eddyPerRow) * 1e6);
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    record Result(double seconds, int rows, long commits, long snapshots, long snapshotNanos, long snapshotBytes) {}

    static void report(String what, double seconds, int n, double eddyRun) {
        System.out.printf(
                "%-42s %8.3f s  %7.2f us/row  %9.0f rows/s  x%.2f%n",
                what, seconds, seconds / n * 1e6, n / seconds, (seconds / n) / (eddyRun / rows.size()));
    }

    static double direct(OperatorBackend b, OperatorSpec spec) {
        long h = b.open(spec);
        try {
            long t0 = System.nanoTime();
            long outputs = 0;
            for (int from = 0; from < rows.size(); from += 1024) {
                int to = Math.min(rows.size(), from + 1024);
                byte[][] values = new byte[to - from][];
                long[] ts = new long[to - from];
                long[] offsets = new long[to - from];
                for (int i = from; i < to; i++) {
                    Replays.Rec r = rows.get(i);
                    values[i - from] = r.value();
                    ts[i - from] = r.timestamp();
                    offsets[i - from] = r.offset();
                }
                for (byte[] out : b.process(h, values, ts, 0, offsets)) {
                    outputs += EddyOutput.parseWire(out).output().value.length();
                }
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (outputs == 0) {
                throw new IllegalStateException("no outputs");
            }
            long s0 = System.nanoTime();
            operatorSnapshotBytes = b.snapshot(h).length;
            operatorSnapshotMicros = (System.nanoTime() - s0) / 1e3;
            return s;
        } finally {
            b.close(h);
        }
    }

    static Result processor(OperatorSpec spec, int commitEvery, int n) {
        MockProcessorContext<byte[], byte[]> context = new MockProcessorContext<>();
        SnapshotStore store = SnapshotStore.builder("eddy-snapshot", false).withLoggingDisabled().build();
        store.init(context.getStateStoreContext(), store);
        context.addStateStore(store);
        EddyProcessor p =
                new EddyProcessor(spec, BackendFactory.NATIVE, 1024, 50, "eddy-snapshot", new EddyProcessor.Children("p", "m", "d"));
        p.init(context);
        long commits = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            Replays.Rec r = rows.get(i);
            context.setRecordMetadata("bench", 0, r.offset());
            p.process(new Record<>(r.key(), r.value(), r.timestamp(), new RecordHeaders()));
            if (i % commitEvery == commitEvery - 1) {
                store.flushCache();
                commits++;
                context.resetForwards();
            }
        }
        p.flushAll();
        double s = (System.nanoTime() - t0) / 1e9;
        if (context.forwarded("p").isEmpty() && commits == 0) {
            throw new IllegalStateException("no outputs");
        }
        p.close();
        return new Result(s, n, commits, store.snapshotsWritten(), store.snapshotNanos(), store.snapshotBytes());
    }
}
