package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.CloseableIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.InputRow;
import dev.eddy.core.Replays;

/**
 * Arrow-format values ({@code format = "arrow"}): the phishing rows as Arrow IPC streams of 50 rows
 * per record over 2 partitions ({@code eddy topic import --format arrow}); the FTRL job at
 * parallelism 2 with {@code .format("arrow")} gives predictions (Arrow IPC streams, one per record)
 * and model versions byte for byte those of {@code eddy run} with {@code format = "arrow"} on the
 * same replay file.
 */
class ArrowFormatTest {

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(2)
                            .build());

    static volatile List<Replays.Rec> rows;

    @TempDir Path tmp;

    @Test
    void arrowValuesEqualEddyRun() throws Exception {
        EddyTestEnv.nativeBackend();
        List<Replays.Rec> phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        StringBuilder lines = new StringBuilder();
        phishing.forEach(r -> lines.append(r.valueText()).append('\n'));
        Path jsonl = Files.writeString(tmp.resolve("phishing.jsonl"), lines);
        Path replay = tmp.resolve("phishing-arrow.replay");
        EddyCli.exec(tmp, "topic", "import", "--jsonl", jsonl.toString(), "--topic", "phishing", "--partitions", "2",
                "--format", "arrow", "--rows-per-record", "50", "--out", replay.toString());
        rows = Replays.read(replay);
        assertThat(rows).hasSizeLessThan(phishing.size() / 10); // many rows per record

        Path component = EddyTestEnv.ftrlComponent();
        StringBuilder job = new StringBuilder();
        job.append("[source]\nreplay = \"").append(replay).append("\"\nformat = \"arrow\"\n\n");
        job.append("[operator]\ncomponent = \"").append(component).append("\"\n[operator.config]\n");
        FtrlEquivalenceTest.CONFIG.forEach((k, v) -> job.append(k).append(" = ").append(v).append('\n'));
        EddyCli.RunOutputs expected = EddyCli.runJob(job.toString(), tmp.resolve("eddy-run"));
        assertThat(expected.predictions()).hasSize(rows.size());

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        DataStream<Long> index = env.fromSequence(0, rows.size() - 1).setParallelism(1);
        RecordExtractor<Long> extract =
                i -> {
                    Replays.Rec r = rows.get(Math.toIntExact(i));
                    return new InputRow(r.value(), r.timestamp(), r.partition(), r.offset());
                };
        SingleOutputStreamOperator<EddyOutput> predictions =
                EddyOperators.builder(component.toString())
                        .config(EddyCli.configJson(FtrlEquivalenceTest.CONFIG))
                        .format("arrow")
                        .batchSize(4)
                        .uid("ftrl-arrow")
                        .apply(index, extract);
        CloseableIterator<EddyOutput> p = predictions.collectAsync();
        CloseableIterator<String> m = predictions.getSideOutput(EddyOperator.MODELS).collectAsync();
        var client = env.executeAsync("arrow values");
        CompletableFuture<List<EddyOutput>> pf = FtrlEquivalenceTest.drain(p, Function.identity());
        CompletableFuture<List<EddyOutput>> mf = FtrlEquivalenceTest.drain(m, EddyOutput::fromJson);
        client.getJobExecutionResult().get(3, TimeUnit.MINUTES);
        List<EddyOutput> got = pf.get(1, TimeUnit.MINUTES);
        assertThat(got).allSatisfy(o -> assertThat(o.bytes).as("an Arrow prediction is bytes").isNotNull());

        Map<Integer, List<FtrlEquivalenceTest.Keyed>> want = FtrlEquivalenceTest.byPartition(expected.predictions(), Replays.Rec::originOffset);
        FtrlEquivalenceTest.assertSame("arrow predictions", FtrlEquivalenceTest.keyed(got), want);
        FtrlEquivalenceTest.assertSame(
                "models", FtrlEquivalenceTest.keyed(mf.get(1, TimeUnit.MINUTES)), FtrlEquivalenceTest.byPartition(expected.models(), Replays.Rec::offset));
    }
}
