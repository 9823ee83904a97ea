package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.InputRow;
import dev.eddy.core.NativeOperator;
import dev.eddy.core.OperatorBackend;
import dev.eddy.core.Replays;

/**
 * The FTRL component inside Flink equals {@code eddy run}, bit for bit, across a failure: on a
 * MiniCluster with checkpoints every 100 ms and a failure injected once mid-stream (after a
 * checkpoint that covered a third of the rows completed), the operator's predictions and model
 * versions have exactly the value bytes {@code eddy run} writes for the same records in the same
 * order, per partition, down to the final model. The input is the records of a replay file read
 * with Arrow Java; {@code eddy run} runs the same component file over the same file.
 */
class FtrlEquivalenceTest {

    /** The phishing example's config (examples/phishing/job.toml), as JSON values. */
    static final Map<String, String> CONFIG = new LinkedHashMap<>();

    static {
        CONFIG.put(
                "featuresCol",
                "[\"empty_server_form_handler\", \"popup_window\", \"https\", \"request_from_other_domain\","
                        + " \"anchor_from_other_domain\", \"is_popular\", \"long_url\", \"age_of_domain\", \"ip_in_url\"]");
        CONFIG.put("labelCol", "\"is_phishing\"");
        CONFIG.put("globalBatchSize", "1");
        CONFIG.put("alpha", "1.0");
    }

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(2)
                            .build());

    /** The records the job reads, by index (the MiniCluster runs in this JVM). */
    static volatile List<Replays.Rec> rows;

    static final AtomicBoolean FAILED = new AtomicBoolean();
    static final AtomicInteger RESTORES = new AtomicInteger();

    @TempDir Path tmp;

    @BeforeEach
    void reset() {
        EddyTestEnv.nativeBackend();
        FAILED.set(false);
        RESTORES.set(0);
    }

    @Test
    void parallelismOneEqualsEddyRun() throws Exception {
        check(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"), 1);
    }

    /**
     * The phishing rows twice over, round-robin into 8 partitions, spread over both subtasks by the
     * builder (the even ones on subtask 0, see {@link PartitionKeys}).
     */
    @Test
    void parallelismTwoKeyedByPartitionEqualsEddyRunPerPartition() throws Exception {
        List<Replays.Rec> phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        StringBuilder lines = new StringBuilder();
        for (int pass = 0; pass < 2; pass++) {
            phishing.forEach(r -> lines.append(r.valueText()).append('\n'));
        }
        Path jsonl = Files.writeString(tmp.resolve("phishing.jsonl"), lines);
        Path replay = tmp.resolve("phishing8.replay");
        EddyCli.importJsonl(jsonl, "phishing8", 8, replay);
        Set<Integer> subtasks = new HashSet<>();
        for (int p = 0; p < 8; p++) {
            subtasks.add(KeyGroupRangeAssignment.assignKeyToParallelOperator(PartitionKeys.key(p, 128), 128, 2));
        }
        assertThat(subtasks).as("both subtasks serve partitions").containsExactlyInAnyOrder(0, 1);
        check(replay, 2);
    }

    void check(Path replay, int parallelism) throws Exception {
        Path component = EddyTestEnv.ftrlComponent();
        EddyCli.RunOutputs expected = EddyCli.run(component, CONFIG, replay, tmp.resolve("eddy-run"));
        rows = Replays.read(replay);

        Outputs got = runFlink(component, parallelism);

        assertThat(FAILED).as("the failure was injected mid-stream").isTrue();
        long partitions = rows.stream().map(Replays.Rec::partition).distinct().count();
        assertThat(RESTORES.get()).as("every partition's operator restored from a checkpoint").isEqualTo((int) partitions);
        assertThat(expected.deadLetters()).isEmpty();
        assertThat(got.deadLetters()).isEmpty();
        assertThat(expected.predictions()).hasSize(rows.size());

        Map<Integer, List<Keyed>> wantPredictions = byPartition(expected.predictions(), Replays.Rec::originOffset);
        Map<Integer, List<Keyed>> wantModels = byPartition(expected.models(), Replays.Rec::offset);
        assertSame("predictions", keyed(got.predictions()), wantPredictions);
        assertSame("models", keyed(got.models()), wantModels);
        // the final model of each partition, spelled out
        wantModels.forEach(
                (p, models) -> {
                    List<Keyed> flink = keyed(got.models()).get(p);
                    assertThat(flink.get(flink.size() - 1).value())
                            .as("final model of partition %d", p)
                            .isEqualTo(models.get(models.size() - 1).value());
                });
    }

    // ------------------------------------------------------------------ the Flink job

    record Outputs(List<EddyOutput> predictions, List<EddyOutput> models, List<EddyOutput> deadLetters) {}

    static Outputs runFlink(Path component, int parallelism) throws Exception {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(100));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        env.enableCheckpointing(100);

        // one reader, so that every partition's records arrive in file order
        DataStream<Long> index =
                env.fromSequence(0, rows.size() - 1)
                        .setParallelism(1)
                        .map(new ThrottleAndFailOnce(rows.size() / 3))
                        .setParallelism(1)
                        .uid("throttle");
        RecordExtractor<Long> extract =
                i -> {
                    Replays.Rec r = rows.get(Math.toIntExact(i));
                    return new InputRow(r.value(), r.timestamp(), r.partition(), r.offset());
                };
        SingleOutputStreamOperator<EddyOutput> predictions =
                EddyOperators.builder(component.toString())
                        .config(EddyCli.configJson(CONFIG))
                        .backend(() -> new CountingBackend(NativeOperator.backend()))
                        .batchSize(64)
                        .uid("ftrl")
                        .name("eddy ftrl")
                        .apply(index, extract);

        CloseableIterator<EddyOutput> p = predictions.collectAsync();
        CloseableIterator<String> m = predictions.getSideOutput(EddyOperator.MODELS).collectAsync();
        CloseableIterator<String> d = predictions.getSideOutput(EddyOperator.DEAD_LETTERS).collectAsync();
        JobClient job = env.executeAsync("ftrl equivalence, parallelism " + parallelism);
        CompletableFuture<List<EddyOutput>> pf = drain(p, Function.identity());
        CompletableFuture<List<EddyOutput>> mf = drain(m, EddyOutput::fromJson);
        CompletableFuture<List<EddyOutput>> df = drain(d, EddyOutput::fromJson);
        job.getJobExecutionResult().get(3, TimeUnit.MINUTES);
        return new Outputs(pf.get(1, TimeUnit.MINUTES), mf.get(1, TimeUnit.MINUTES), df.get(1, TimeUnit.MINUTES));
    }

    static <T> CompletableFuture<List<EddyOutput>> drain(CloseableIterator<T> it, Function<T, EddyOutput> f) {
        return CompletableFuture.supplyAsync(
                () -> {
                    List<EddyOutput> out = new ArrayList<>();
                    try (it) {
                        it.forEachRemaining(x -> out.add(f.apply(x)));
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                    return out;
                });
    }

    /** The native backend, counting restores (to show the failure was recovered from state). */
    static final class CountingBackend implements OperatorBackend {
        private final OperatorBackend inner;

        CountingBackend(OperatorBackend inner) {
            this.inner = inner;
        }

        @Override
        public long open(String componentPath, String configJson) {
            return inner.open(componentPath, configJson);
        }

        @Override
        public byte[][] process(long handle, byte[][] values, long[] timestamps, int partition, long[] offsets) {
            return inner.process(handle, values, timestamps, partition, offsets);
        }

        @Override
        public byte[][] finish(long handle) {
            return inner.finish(handle);
        }

        @Override
        public byte[] snapshot(long handle) {
            return inner.snapshot(handle);
        }

        @Override
        public void restore(long handle, byte[] state) {
            RESTORES.incrementAndGet();
            inner.restore(handle, state);
        }

        @Override
        public void close(long handle) {
            inner.close(handle);
        }

        @Override
        public String describe(String componentPath) {
            return inner.describe(componentPath);
        }
    }

    /**
     * Slows the stream so it spans many checkpoints and throws once, on the first record after a
     * checkpoint that covered at least {@code threshold} records has completed.
     */
    static final class ThrottleAndFailOnce extends RichMapFunction<Long, Long>
            implements CheckpointedFunction, CheckpointListener {
        private final long threshold;
        private transient long seen;
        private transient Map<Long, Long> seenAtCheckpoint;
        private transient boolean armed;

        ThrottleAndFailOnce(long threshold) {
            this.threshold = threshold;
        }

        @Override
        public void initializeState(FunctionInitializationContext context) {
            seenAtCheckpoint = new HashMap<>();
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) {
            seenAtCheckpoint.put(context.getCheckpointId(), seen);
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            Long n = seenAtCheckpoint.remove(checkpointId);
            if (n != null && n >= threshold) {
                armed = true;
            }
        }

        @Override
        public Long map(Long value) throws Exception {
            seen++;
            if (!FAILED.get() && seen >= threshold) {
                Thread.sleep(3); // wait here for a checkpoint to complete
            } else if (seen % 4 == 0) {
                Thread.sleep(1);
            }
            if (armed && FAILED.compareAndSet(false, true)) {
                throw new RuntimeException("injected failure (expected by the test)");
            }
            return value;
        }
    }

    // ------------------------------------------------------------------ comparing

    /** An output's position in its partition (input offset, or model number) and value bytes. */
    record Keyed(long offset, byte[] value) {
        String text() {
            return new String(value, StandardCharsets.UTF_8);
        }
    }

    static Map<Integer, List<Keyed>> byPartition(List<Replays.Rec> recs, Function<Replays.Rec, Long> offset) {
        Map<Integer, List<Keyed>> m = new TreeMap<>();
        for (Replays.Rec r : recs) {
            m.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(new Keyed(offset.apply(r), r.value()));
        }
        return m;
    }

    static Map<Integer, List<Keyed>> keyed(List<EddyOutput> outs) {
        Set<String> seen = new HashSet<>();
        List<String> dups =
                outs.stream().map(o -> o.partition + "/" + o.offset).filter(k -> !seen.add(k)).collect(Collectors.toList());
        assertThat(dups).as("outputs seen twice (partition/offset)").isEmpty();
        Map<Integer, List<Keyed>> m = new TreeMap<>();
        for (EddyOutput o : outs) {
            m.computeIfAbsent(o.partition, k -> new ArrayList<>()).add(new Keyed(o.offset, o.valueBytes()));
        }
        m.values().forEach(l -> l.sort(Comparator.comparingLong(Keyed::offset)));
        return m;
    }

    static void assertSame(String what, Map<Integer, List<Keyed>> flink, Map<Integer, List<Keyed>> eddy) {
        assertThat(flink.keySet()).as("%s: partitions", what).isEqualTo(eddy.keySet());
        for (Map.Entry<Integer, List<Keyed>> e : eddy.entrySet()) {
            List<Keyed> want = e.getValue();
            List<Keyed> got = flink.get(e.getKey());
            assertThat(got).as("%s of partition %d", what, e.getKey()).hasSameSizeAs(want);
            for (int i = 0; i < want.size(); i++) {
                Keyed w = want.get(i);
                Keyed g = got.get(i);
                if (w.offset() != g.offset() || !Arrays.equals(w.value(), g.value())) {
                    fail("%s of partition %d differ at #%d:%n  eddy run: %d %s%n  flink:    %d %s",
                            what, e.getKey(), i, w.offset(), w.text(), g.offset(), g.text());
                }
            }
        }
    }
}
