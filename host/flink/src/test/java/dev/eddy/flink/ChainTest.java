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
 * A chain, as a job file's {@code [[operators]]}: the builder's {@code .then(..)}, a standard scaler
 * then FTRL on its output column, over the phishing rows in 2 partitions at parallelism 2, gives
 * predictions and the model versions of both operators byte for byte those of {@code eddy run}
 * with the same two {@code [[operators]]} on the same replay file.
 */
class ChainTest {

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
    void scalerThenFtrlEqualsEddyRun() throws Exception {
        EddyTestEnv.nativeBackend();
        List<Replays.Rec> phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        StringBuilder lines = new StringBuilder();
        phishing.forEach(r -> lines.append(r.valueText()).append('\n'));
        Path jsonl = Files.writeString(tmp.resolve("phishing.jsonl"), lines);
        Path replay = tmp.resolve("phishing2.replay");
        EddyCli.importJsonl(jsonl, "phishing", 2, replay);
        rows = Replays.read(replay);
        String features = FtrlEquivalenceTest.CONFIG.get("featuresCol");
        String scaler = "{\"inputCol\":" + features + ",\"outputCol\":\"scaled\",\"withMean\":true,\"withStd\":true}";
        String ftrl = "{\"featuresCol\":\"scaled\",\"labelCol\":\"is_phishing\",\"globalBatchSize\":1}";

        Path component = EddyTestEnv.ftrlComponent();
        String job =
                "[source]\nreplay = \"" + replay + "\"\nformat = \"json\"\n\n"
                        + "[[operators]]\ncomponent = \"scaler\"\n[operators.config]\ninputCol = " + features
                        + "\noutputCol = \"scaled\"\nwithMean = true\nwithStd = true\n\n"
                        + "[[operators]]\ncomponent = \"" + component + "\"\n[operators.config]\nfeaturesCol = \"scaled\"\n"
                        + "labelCol = \"is_phishing\"\nglobalBatchSize = 1\n";
        EddyCli.RunOutputs expected = EddyCli.runJob(job, tmp.resolve("eddy-run"));
        assertThat(expected.predictions()).hasSize(rows.size());
        assertThat(expected.models()).hasSizeGreaterThan(rows.size()); // FTRL's, and the scaler's

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        DataStream<Long> index = env.fromSequence(0, rows.size() - 1).setParallelism(1);
        RecordExtractor<Long> extract =
                i -> {
                    Replays.Rec r = rows.get(Math.toIntExact(i));
                    return new InputRow(r.value(), r.timestamp(), r.partition(), r.offset());
                };
        SingleOutputStreamOperator<EddyOutput> predictions =
                EddyOperators.builder("scaler")
                        .config(scaler)
                        .then(component.toString(), ftrl)
                        .batchSize(64)
                        .uid("chain")
                        .apply(index, extract);
        CloseableIterator<EddyOutput> p = predictions.collectAsync();
        CloseableIterator<String> m = predictions.getSideOutput(EddyOperator.MODELS).collectAsync();
        var client = env.executeAsync("scaler | ftrl");
        CompletableFuture<List<EddyOutput>> pf = FtrlEquivalenceTest.drain(p, Function.identity());
        CompletableFuture<List<EddyOutput>> mf = FtrlEquivalenceTest.drain(m, EddyOutput::fromJson);
        client.getJobExecutionResult().get(3, TimeUnit.MINUTES);
        List<EddyOutput> got = pf.get(1, TimeUnit.MINUTES);

        Map<Integer, List<FtrlEquivalenceTest.Keyed>> want = FtrlEquivalenceTest.byPartition(expected.predictions(), Replays.Rec::originOffset);
        FtrlEquivalenceTest.assertSame("chain predictions", FtrlEquivalenceTest.keyed(got), want);
        FtrlEquivalenceTest.assertSame(
                "models", FtrlEquivalenceTest.keyed(mf.get(1, TimeUnit.MINUTES)), FtrlEquivalenceTest.byPartition(expected.models(), Replays.Rec::offset));
    }
}
