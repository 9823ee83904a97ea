package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.InputRow;
import dev.eddy.core.Replays;

/**
 * Rescaling: the FTRL job over 8 partitions runs at parallelism 2 until about a third of the
 * predictions are out, stops with a savepoint, and is restored from it at parallelism 3, and
 * (another run) at parallelism 1. Each partition's snapshot is keyed state under the partition's
 * key, so every subtask of the new job restores the partitions it now reads. Both runs together
 * give each partition's predictions and model versions byte for byte as {@code eddy run} writes
 * them for the same replay file, none twice.
 */
class RescaleTest {

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(3)
                            .build());

    static volatile List<Replays.Rec> rows;
    static final Queue<EddyOutput> PREDICTIONS = new ConcurrentLinkedQueue<>();
    static final Queue<String> MODELS = new ConcurrentLinkedQueue<>();

    @TempDir static Path tmp;
    static EddyCli.RunOutputs expected;

    @BeforeAll
    static void prepare() throws Exception {
        EddyTestEnv.nativeBackend();
        List<Replays.Rec> phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        StringBuilder lines = new StringBuilder();
        for (int pass = 0; pass < 2; pass++) {
            phishing.forEach(r -> lines.append(r.valueText()).append('\n'));
        }
        Path replay = tmp.resolve("phishing8.replay");
        EddyCli.importJsonl(Files.writeString(tmp.resolve("phishing.jsonl"), lines), "phishing8", 8, replay);
        rows = Replays.read(replay);
        expected = EddyCli.run(EddyTestEnv.ftrlComponent(), FtrlEquivalenceTest.CONFIG, replay, tmp.resolve("eddy-run"));
    }

    @Test
    void restoresACheckpointOfParallelismTwoAtThreeAndAtOne() throws Exception {
        for (int to : new int[] {3, 1}) {
            PREDICTIONS.clear();
            MODELS.clear();
            Path savepoints = Files.createDirectories(tmp.resolve("savepoints-" + to));

            JobClient first = build(2, null).executeAsync("eddy at parallelism 2");
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
            while (PREDICTIONS.size() < rows.size() / 3 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            String savepoint = first.stopWithSavepoint(false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                    .get(2, TimeUnit.MINUTES);
            first.getJobExecutionResult().get(2, TimeUnit.MINUTES);
            int before = PREDICTIONS.size();
            assertThat(before).as("stopped mid-stream").isBetween(rows.size() / 3, rows.size() - 1);

            build(to, savepoint).execute("eddy at parallelism " + to + " from a savepoint taken at 2");

            List<EddyOutput> models = new ArrayList<>();
            MODELS.forEach(m -> models.add(EddyOutput.fromJson(m)));
            Map<Integer, List<FtrlEquivalenceTest.Keyed>> wantPredictions =
                    FtrlEquivalenceTest.byPartition(expected.predictions(), Replays.Rec::originOffset);
            Map<Integer, List<FtrlEquivalenceTest.Keyed>> wantModels =
                    FtrlEquivalenceTest.byPartition(expected.models(), Replays.Rec::offset);
            FtrlEquivalenceTest.assertSame("predictions (2 -> " + to + ")", FtrlEquivalenceTest.keyed(new ArrayList<>(PREDICTIONS)), wantPredictions);
            FtrlEquivalenceTest.assertSame("models (2 -> " + to + ")", FtrlEquivalenceTest.keyed(models), wantModels);
        }
    }

    static StreamExecutionEnvironment build(int parallelism, String savepoint) {
        Configuration conf = new Configuration();
        if (savepoint != null) {
            conf.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        DataStream<Long> index =
                env.fromSequence(0, rows.size() - 1)
                        .setParallelism(1)
                        .uid("rows")
                        .map((MapFunction<Long, Long>) i -> {
                            Thread.sleep(1); // slow enough to be stopped mid-stream
                            return i;
                        })
                        .setParallelism(1)
                        .uid("throttle");
        RecordExtractor<Long> extract =
                i -> {
                    Replays.Rec r = rows.get(Math.toIntExact(i));
                    return new InputRow(r.value(), r.timestamp(), r.partition(), r.offset());
                };
        SingleOutputStreamOperator<EddyOutput> predictions =
                EddyOperators.builder(EddyTestEnv.ftrlComponent().toString())
                        .config(EddyCli.configJson(FtrlEquivalenceTest.CONFIG))
                        .batchSize(64)
                        .uid("ftrl")
                        .apply(index, extract);
        predictions.sinkTo(new QueueSink<>(true)).uid("predictions");
        predictions.getSideOutput(EddyOperator.MODELS).sinkTo(new QueueSink<>(false)).uid("models");
        return env;
    }

    /** Appends to the static queues (the MiniCluster runs in this JVM). */
    static final class QueueSink<T> implements Sink<T> {
        private final boolean predictions;

        QueueSink(boolean predictions) {
            this.predictions = predictions;
        }

        @Override
        public SinkWriter<T> createWriter(WriterInitContext context) {
            return new SinkWriter<>() {
                @Override
                public void write(T element, Context ctx) {
                    if (predictions) {
                        PREDICTIONS.add((EddyOutput) element);
                    } else {
                        MODELS.add((String) element);
                    }
                }

                @Override
                public void flush(boolean endOfInput) {}

                @Override
                public void close() {}
            };
        }
    }
}
