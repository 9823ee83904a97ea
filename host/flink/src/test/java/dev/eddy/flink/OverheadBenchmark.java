package dev.eddy.flink;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.InputRow;
import dev.eddy.core.Json;
import dev.eddy.core.OperatorBackend;
import dev.eddy.core.Replays;

/**
 * Not a test: the per-row cost of running an operator inside Flink against {@code eddy run} on the
 * same records. Run it with {@code host/flink/bench.sh} (release builds). One partition, one
 * thread each side, the phishing example's job (FTRL, a model version per row), its records
 * repeated to {@code rows}:
 *
 * <ol>
 *   <li>{@code eddy run}: the processing time it reports (decode, operator, encode; no file I/O);
 *   <li>the native backend called directly from Java, batches of 1024 (JNI and the wire form on
 *       top of the same pipeline);
 *   <li>a Flink job on a local MiniCluster: source, key by partition, {@link EddyOperator} (batches
 *       of 1024), a discarding sink; timed from the first row into the job to the last output out;
 *   <li>the same Flink job with a pass-through operator instead of eddy's (Flink's own cost).
 * </ol>
 *
 * Each is run {@code repeats} times (default 3), interleaved, and the best time is reported.
 */
public final class OverheadBenchmark {

    static volatile List<Replays.Rec> rows;
    static final AtomicLong FIRST_IN = new AtomicLong();
    static final AtomicLong LAST_OUT = new AtomicLong();

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int repeats = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = Files.createTempDirectory("eddy-bench");
        Map<String, String> config = FtrlEquivalenceTest.CONFIG;
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
        String configJson = EddyCli.configJson(config);
        double eddyRun = Double.MAX_VALUE;
        double direct = Double.MAX_VALUE;
        double flink = Double.MAX_VALUE;
        double passThrough = Double.MAX_VALUE;
        // interleaved, so that a busy machine weighs on every contender alike
        for (int r = 0; r < repeats; r++) {
            String json = EddyCli.runJson(component, config, replay, dir.resolve("eddy-run"));
            eddyRun = Math.min(eddyRun, ((Number) Json.parseObject(json).get("seconds")).doubleValue());
            direct = Math.min(direct, direct(backend, component.toString(), configJson));
            flink = Math.min(flink, flink(component.toString(), configJson, false));
            passThrough = Math.min(passThrough, flink(component.toString(), configJson, true));
        }
        report("eddy run", eddyRun, eddyRun);
        report("native backend from Java (JNI)", direct, eddyRun);
        report("Flink job with the eddy operator", flink, eddyRun);
        report("Flink job, pass-through operator", passThrough, eddyRun);
        System.out.printf(
                "snapshot per checkpoint and partition (native, before the state backend): %.2f ms, %d bytes%n",
                snapshotSeconds * 1e3, snapshotBytes);
        System.out.printf(
                "ratio Flink operator / eddy run: %.2f (per row: %.2f us in Flink, %.2f us in eddy run, overhead %.2f us)%n",
                flink / eddyRun, flink / rows.size() * 1e6, eddyRun / rows.size() * 1e6, (flink - eddyRun) / rows.size() * 1e6);
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    static double snapshotSeconds = Double.MAX_VALUE;
    static long snapshotBytes;

    static void report(String what, double seconds, double eddyRun) {
        System.out.printf(
                "%-36s %8.3f s  %7.2f us/row  %9.0f rows/s  x%.2f%n",
                what, seconds, seconds / rows.size() * 1e6, rows.size() / seconds, seconds / eddyRun);
    }

    static double direct(OperatorBackend b, String component, String config) {
        long h = b.open(component, config);
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
            // What a checkpoint costs per partition before Flink's state backend writes it: the
            // operator's snapshot at the end of the stream, best of 5.
            for (int i = 0; i < 5; i++) {
                long t1 = System.nanoTime();
                byte[] snap = b.snapshot(h);
                snapshotSeconds = Math.min(snapshotSeconds, (System.nanoTime() - t1) / 1e9);
                snapshotBytes = snap.length;
            }
            return s;
        } finally {
            b.close(h);
        }
    }

    static double flink(String component, String config, boolean passThrough) throws Exception {
        FIRST_IN.set(0);
        LAST_OUT.set(0);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        DataStream<Long> index = env.fromSequence(0, rows.size() - 1).map(new Stamp());
        RecordExtractor<Long> extract =
                i -> {
                    Replays.Rec r = rows.get(Math.toIntExact(i));
                    return new InputRow(r.value(), r.timestamp(), r.partition(), r.offset());
                };
        DataStream<EddyOutput> out;
        if (passThrough) {
            out =
                    index.keyBy(extract::partition)
                            .map((MapFunction<Long, EddyOutput>) i -> {
                                InputRow r = extract.extract(i);
                                return new EddyOutput(EddyOutput.PREDICTIONS, r.partition(), r.offset(), "{}");
                            })
                            .returns(EddyOutput.class);
        } else {
            out = EddyOperators.builder(component).config(config).uid("bench").apply(index, extract);
        }
        out.map(
                        (MapFunction<EddyOutput, EddyOutput>) o -> {
                            LAST_OUT.set(System.nanoTime());
                            return o;
                        })
                .returns(EddyOutput.class)
                .sinkTo(new DiscardingSink<>());
        env.execute("bench");
        return (LAST_OUT.get() - FIRST_IN.get()) / 1e9;
    }

    static final class Stamp extends RichMapFunction<Long, Long> {
        @Override
        public void open(OpenContext ctx) {}

        @Override
        public Long map(Long i) {
            if (i == 0) {
                FIRST_IN.set(System.nanoTime());
            }
            return i;
        }
    }
}
