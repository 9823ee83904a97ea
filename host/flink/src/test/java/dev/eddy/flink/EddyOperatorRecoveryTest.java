package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
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

import dev.eddy.core.EddyOutput;
import dev.eddy.core.InputRow;
import dev.eddy.core.RunningSumBackend;

/**
 * End to end on a real MiniCluster: source -> (throttle, maybe fail once) -> keyBy(partition) ->
 * EddyOperator(parallelism 2, running-sum backend) -> collect sinks.
 *
 * <p>What Flink guarantees here: with exactly-once checkpointing, {@code collectAsync()} uses a
 * checkpointed result buffer, so results become visible only once a checkpoint covering them has
 * completed and are rolled back on failure; the collected output is exactly-once. The test also
 * checks it the hard way: no (sink, partition, offset) twice, outputs equal to a failure-free run
 * and to the sums computed directly, and the last prediction per partition equals the final state.
 */
class EddyOperatorRecoveryTest {

    static final int PARALLELISM = 2;
    /**
     * 8 partitions over both subtasks: the builder puts the even ones on subtask 0 and the odd ones
     * on subtask 1 ({@link PartitionKeys}).
     */
    static final int PARTITIONS = 8;
    static final int ROWS_PER_PARTITION = 500;
    static final long ROWS = (long) PARTITIONS * ROWS_PER_PARTITION;
    static final int MODEL_EVERY = 250;
    static final String CONFIG = "{\"model_every\":" + MODEL_EVERY + "}";

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(PARALLELISM)
                            .build());

    /** Set once the injected failure has been thrown (the mapper throws at most once per run). */
    static final AtomicBoolean FAILED = new AtomicBoolean();

    @BeforeEach
    void reset() {
        FAILED.set(false);
        RunningSumBackend.resetCounters();
    }

    /**
     * Row {@code seq} of the sequence 0..ROWS-1: partition {@code seq / 500}, offset {@code seq %
     * 500}, value {@code seq % 10} as text, except every 97th row, which is not a number. With 2
     * source subtasks the sequence splits into [0, 2000) and [2000, 4000), so each partition is
     * read by one subtask, in offset order, as from a Kafka partition.
     */
    static final RecordExtractor<Long> EXTRACT =
            seq -> {
                String value = seq % 97 == 13 ? "bad-" + seq : Long.toString(seq % 10);
                return new InputRow(
                        value.getBytes(StandardCharsets.UTF_8),
                        seq,
                        (int) (seq / ROWS_PER_PARTITION),
                        seq % ROWS_PER_PARTITION);
            };

    @Test
    void recoversFromAFailureWithExactlyTheOutputOfAFailureFreeRun() throws Exception {
        Outputs expected = expected();
        Outputs clean = run(false);
        assertThat(FAILED).isFalse();
        assertThat(RunningSumBackend.RESTORES.get()).isZero();

        Outputs recovered = run(true);
        assertThat(FAILED).as("the failure was injected").isTrue();

        for (Outputs o : List.of(clean, recovered)) {
            assertNoDuplicates(o.predictions);
            assertNoDuplicates(o.models);
            assertNoDuplicates(o.deadLetters);
        }
        assertThat(sorted(clean.predictions)).isEqualTo(sorted(expected.predictions));
        assertThat(sorted(clean.models)).isEqualTo(sorted(expected.models));
        assertThat(sorted(clean.deadLetters)).isEqualTo(sorted(expected.deadLetters));

        assertThat(sorted(recovered.predictions)).isEqualTo(sorted(clean.predictions));
        assertThat(sorted(recovered.models)).isEqualTo(sorted(clean.models));
        assertThat(sorted(recovered.deadLetters)).isEqualTo(sorted(clean.deadLetters));

        // the final state per partition, as the last prediction of each partition shows it
        assertThat(lastPerPartition(recovered.predictions)).isEqualTo(lastPerPartition(expected.predictions));
        assertThat(recovered.predictions).hasSize((int) (ROWS - expected.deadLetters.size()));
        assertThat(RunningSumBackend.RESTORES.get())
                .as("partitions restored with a non-empty state (at least one per subtask)")
                .isGreaterThanOrEqualTo(PARALLELISM);
        assertThat(RunningSumBackend.RESTORED_ROWS.get()).isPositive();
    }

    // ------------------------------------------------------------------ the job

    record Outputs(List<EddyOutput> predictions, List<EddyOutput> models, List<EddyOutput> deadLetters) {}

    static Outputs run(boolean injectFailure) throws Exception {
        Configuration conf = new Configuration();
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 3);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(100));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(PARALLELISM);
        env.enableCheckpointing(100);

        DataStream<Long> rows =
                env.fromSequence(0, ROWS - 1)
                        .name("rows")
                        .map(new ThrottleAndFailOnce(injectFailure))
                        .name("throttle")
                        .uid("throttle");

        SingleOutputStreamOperator<EddyOutput> predictions =
                EddyOperators.builder("running-sum.wasm")
                        .config(CONFIG)
                        .backend(RunningSumBackend::new)
                        .batchSize(64)
                        .uid("eddy-running-sum")
                        .apply(rows, EXTRACT);

        CloseableIterator<EddyOutput> p = predictions.collectAsync();
        CloseableIterator<String> m = predictions.getSideOutput(EddyOperator.MODELS).collectAsync();
        CloseableIterator<String> d =
                predictions.getSideOutput(EddyOperator.DEAD_LETTERS).collectAsync();

        JobClient job = env.executeAsync("eddy recovery " + (injectFailure ? "with" : "without") + " failure");
        CompletableFuture<List<EddyOutput>> pf = drain(p, Function.identity());
        CompletableFuture<List<EddyOutput>> mf = drain(m, EddyOutput::fromJson);
        CompletableFuture<List<EddyOutput>> df = drain(d, EddyOutput::fromJson);
        JobExecutionResult result = job.getJobExecutionResult().get(2, TimeUnit.MINUTES);
        assertThat(result).isNotNull();
        return new Outputs(
                pf.get(1, TimeUnit.MINUTES), mf.get(1, TimeUnit.MINUTES), df.get(1, TimeUnit.MINUTES));
    }

    static <T> CompletableFuture<List<EddyOutput>> drain(
            CloseableIterator<T> it, Function<T, EddyOutput> f) {
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

    /**
     * Slows the source down so the job spans many checkpoints and, if asked, throws once: on the
     * first record after a checkpoint has completed that covered at least 700 of this subtask's
     * records (so that both eddy subtasks have a non-empty state to restore: each source subtask
     * reads its first partition, an even one, for 500 records, then an odd one).
     */
    static final class ThrottleAndFailOnce extends RichMapFunction<Long, Long>
            implements CheckpointedFunction, CheckpointListener {
        private final boolean injectFailure;
        private transient long seen;
        private transient Map<Long, Long> seenAtCheckpoint;
        private transient boolean armed;

        ThrottleAndFailOnce(boolean injectFailure) {
            this.injectFailure = injectFailure;
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
            if (n != null && n >= 700) {
                armed = true;
            }
        }

        @Override
        public Long map(Long value) throws Exception {
            seen++;
            if (injectFailure && !armed && !FAILED.get() && seen > 1000) {
                Thread.sleep(10); // a slow machine: give checkpoints time to complete
            } else if (seen % 2 == 0) {
                Thread.sleep(1);
            }
            if (injectFailure && armed && FAILED.compareAndSet(false, true)) {
                throw new RuntimeException("injected failure (expected by the test)");
            }
            return value;
        }
    }

    // ------------------------------------------------------------------ expectations

    /** The outputs computed without Flink: the backend fed each partition's rows in order. */
    static Outputs expected() {
        RunningSumBackend backend = new RunningSumBackend();
        long handle = backend.open("running-sum.wasm", CONFIG);
        List<EddyOutput> p = new ArrayList<>();
        List<EddyOutput> m = new ArrayList<>();
        List<EddyOutput> d = new ArrayList<>();
        for (long seq = 0; seq < ROWS; seq++) {
            InputRow r = EXTRACT.extract(seq);
            byte[][] out =
                    backend.process(
                            handle,
                            new byte[][] {r.value()},
                            new long[] {r.timestamp()},
                            r.partition(),
                            new long[] {r.offset()});
            for (byte[] o : out) {
                EddyOutput e = EddyOutput.fromJson(o);
                switch (e.sink) {
                    case EddyOutput.PREDICTIONS -> p.add(e);
                    case EddyOutput.MODELS -> m.add(e);
                    default -> d.add(e);
                }
            }
        }
        backend.close(handle);
        RunningSumBackend.resetCounters();
        return new Outputs(p, m, d);
    }

    static List<EddyOutput> sorted(List<EddyOutput> l) {
        List<EddyOutput> s = new ArrayList<>(l);
        s.sort(Comparator.<EddyOutput>comparingInt(o -> o.partition).thenComparingLong(o -> o.offset));
        return s;
    }

    static void assertNoDuplicates(List<EddyOutput> l) {
        Set<String> keys = new HashSet<>();
        List<String> dups =
                l.stream()
                        .map(o -> o.sink + "/" + o.partition + "/" + o.offset)
                        .filter(k -> !keys.add(k))
                        .collect(Collectors.toList());
        assertThat(dups).as("duplicated (sink/partition/offset)").isEmpty();
    }

    static Map<Integer, String> lastPerPartition(List<EddyOutput> predictions) {
        Map<Integer, EddyOutput> last = new TreeMap<>();
        for (EddyOutput o : predictions) {
            last.merge(o.partition, o, (a, b) -> a.offset >= b.offset ? a : b);
        }
        Map<Integer, String> values = new TreeMap<>();
        last.forEach((k, v) -> values.put(k, v.value));
        return values;
    }
}
