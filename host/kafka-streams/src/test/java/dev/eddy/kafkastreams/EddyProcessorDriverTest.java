package dev.eddy.kafkastreams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.OperatorSpec;
import dev.eddy.core.Replays;

/**
 * The processor in a {@link TopologyTestDriver} (Kafka Streams' own test driver: the real
 * processor API, stores and commits, without a broker) with the native library: the phishing
 * records through FTRL, and through the scaler | softmax-regression chain, give predictions and
 * model versions byte for byte those of {@code eddy run} on the same replay file; bad records go
 * to the dead-letter topic unchanged, with reason and origin headers.
 */
class EddyProcessorDriverTest {

    static final String FEATURES =
            "[\"empty_server_form_handler\", \"popup_window\", \"https\", \"request_from_other_domain\","
                    + " \"anchor_from_other_domain\", \"is_popular\", \"long_url\", \"age_of_domain\", \"ip_in_url\"]";

    @TempDir static Path tmp;
    static List<Replays.Rec> phishing;

    @BeforeAll
    static void load() {
        EddyTestEnv.nativeBackend();
        phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
    }

    static Map<String, String> ftrlConfig() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("featuresCol", FEATURES);
        c.put("labelCol", "\"is_phishing\"");
        c.put("globalBatchSize", "1");
        c.put("alpha", "1.0");
        return c;
    }

    @Test
    void ftrlEqualsEddyRun() throws Exception {
        Path ftrl = EddyTestEnv.ftrlComponent();
        Map<String, String> config = ftrlConfig();
        EddyCli.RunOutputs expected = EddyCli.run(ftrl, config, replay(), tmp.resolve("ftrl"));
        Outputs got = drive(OperatorSpec.of(ftrl.toString(), EddyCli.configJson(config)), 64, phishing);
        assertEqual(got, expected);
    }

    @Test
    void chainEqualsEddyRun() throws Exception {
        String scaler =
                "{\"inputCol\":" + FEATURES + ",\"outputCol\":\"scaled\",\"withMean\":true,\"withStd\":true,"
                        + "\"windows\":{\"countTumbling\":1},\"modelVersionCol\":\"\"}";
        String softmax = "{\"featuresCol\":\"scaled\",\"labelCol\":\"is_phishing\",\"classes\":[0.0,1.0],\"learningRate\":0.01}";
        String job =
                "[source]\nreplay = \"" + replay() + "\"\nformat = \"json\"\n\n"
                        + "[[operators]]\ncomponent = \"scaler\"\n[operators.config]\ninputCol = " + FEATURES
                        + "\noutputCol = \"scaled\"\nwithMean = true\nwithStd = true\nwindows = { countTumbling = 1 }\n"
                        + "modelVersionCol = \"\"\n\n"
                        + "[[operators]]\ncomponent = \"softmax-regression\"\n[operators.config]\nfeaturesCol = \"scaled\"\n"
                        + "labelCol = \"is_phishing\"\nclasses = [0.0, 1.0]\nlearningRate = 0.01\n";
        EddyCli.RunOutputs expected = EddyCli.runJob(job, tmp.resolve("chain"));
        assertThat(expected.models()).hasSizeGreaterThan(phishing.size()); // both operators publish
        Outputs got = drive(OperatorSpec.of("scaler", scaler).then("softmax-regression", softmax), 100, phishing);
        assertEqual(got, expected);
    }

    /** Arrow IPC values (50 rows per record): predictions are Arrow IPC streams, byte-equal to eddy run's. */
    @Test
    void arrowValuesEqualEddyRun() throws Exception {
        Path ftrl = EddyTestEnv.ftrlComponent();
        StringBuilder lines = new StringBuilder();
        phishing.forEach(r -> lines.append(r.valueText()).append('\n'));
        Path jsonl = java.nio.file.Files.writeString(tmp.resolve("phishing.jsonl"), lines);
        Path replay = tmp.resolve("phishing-arrow.replay");
        EddyCli.exec(tmp, "topic", "import", "--jsonl", jsonl.toString(), "--topic", "in", "--format", "arrow",
                "--rows-per-record", "50", "--out", replay.toString());
        List<Replays.Rec> records = Replays.read(replay);
        StringBuilder job = new StringBuilder();
        job.append("[source]\nreplay = \"").append(replay).append("\"\nformat = \"arrow\"\n\n");
        job.append("[operator]\ncomponent = \"").append(ftrl).append("\"\n[operator.config]\n");
        ftrlConfig().forEach((k, v) -> job.append(k).append(" = ").append(v).append('\n'));
        EddyCli.RunOutputs expected = EddyCli.runJob(job.toString(), tmp.resolve("arrow"));
        assertThat(expected.predictions()).hasSize(records.size());

        Outputs got = drive(OperatorSpec.of(ftrl.toString(), EddyCli.configJson(ftrlConfig())).format("arrow"), 4, records);
        assertThat(got.predictions).hasSize(expected.predictions().size());
        for (int i = 0; i < got.predictions.size(); i++) {
            assertThat(got.predictions.get(i).value()).as("Arrow prediction %d", i).isEqualTo(expected.predictions().get(i).value());
        }
        assertThat(got.models).hasSize(expected.models().size());
        for (int i = 0; i < got.models.size(); i++) {
            assertThat(got.models.get(i).value()).as("model version %d", i).isEqualTo(expected.models().get(i).value());
        }
    }

    @Test
    void badRecordsAreDeadLettersWithReasonAndOrigin() {
        Path ftrl = EddyTestEnv.ftrlComponent();
        List<TestRecord<byte[], byte[]>> in = new ArrayList<>();
        byte[] good = phishing.get(0).value();
        in.add(rec("k0", good, 1000, "h", "one"));
        in.add(rec("k1", "{not json".getBytes(StandardCharsets.UTF_8), 1001, "trace", "abc"));
        in.add(rec("k2", "{\"is_phishing\":1}".getBytes(StandardCharsets.UTF_8), 1002, null, null));
        in.add(rec("k3", null, 1003, "t", "tomb"));
        in.add(rec("k4", good, 1004, null, null));
        Outputs got = driveRecords(OperatorSpec.of(ftrl.toString(), EddyCli.configJson(ftrlConfig())), 64, in);

        assertThat(got.predictions).extracting(r -> new String(r.key(), StandardCharsets.UTF_8)).containsExactly("k0", "k4");
        assertThat(got.deadLetters).hasSize(3);
        TestRecord<byte[], byte[]> bad = got.deadLetters.get(0);
        assertThat(new String(bad.key(), StandardCharsets.UTF_8)).isEqualTo("k1");
        assertThat(new String(bad.value(), StandardCharsets.UTF_8)).isEqualTo("{not json");
        assertThat(bad.timestamp()).isEqualTo(1001);
        Map<String, String> h = headers(bad.headers().toArray());
        assertThat(h).containsEntry("trace", "abc") // its own header, first
                .containsEntry(EddyProcessor.ORIGIN_TOPIC, "in")
                .containsEntry(EddyProcessor.ORIGIN_PARTITION, "0")
                .containsEntry(EddyProcessor.ORIGIN_OFFSET, "1")
                .containsEntry(EddyProcessor.ERROR_STAGE, "decode")
                .containsKey(EddyProcessor.ERROR_REASON);
        assertThat(bad.headers().toArray()[0].key()).isEqualTo("trace");
        assertThat(h.get(EddyProcessor.ERROR_REASON)).isNotBlank();

        Map<String, String> missing = headers(got.deadLetters.get(1).headers().toArray());
        assertThat(missing).containsEntry(EddyProcessor.ORIGIN_OFFSET, "2").containsKey(EddyProcessor.ERROR_REASON);
        assertThat(missing.get(EddyProcessor.ERROR_COLUMN)).isNotNull();

        TestRecord<byte[], byte[]> tomb = got.deadLetters.get(2);
        assertThat(tomb.value()).isNull();
        assertThat(headers(tomb.headers().toArray()))
                .containsEntry("t", "tomb")
                .containsEntry(EddyProcessor.ORIGIN_OFFSET, "3")
                .containsEntry(EddyProcessor.ERROR_REASON, "the record has no value (a tombstone)");
    }

    @Test
    void withoutADeadLetterTopicABadRecordFailsTheTask() {
        Topology t =
                EddyTopology.builder(OperatorSpec.of(EddyTestEnv.ftrlComponent().toString(), EddyCli.configJson(ftrlConfig())))
                        .input("in")
                        .predictions("out")
                        .batchSize(1)
                        .build();
        try (TopologyTestDriver driver = new TopologyTestDriver(t, props())) {
            TestInputTopic<byte[], byte[]> input = driver.createInputTopic("in", new ByteArraySerializer(), new ByteArraySerializer());
            assertThatThrownBy(() -> input.pipeInput("k".getBytes(StandardCharsets.UTF_8), "{bad".getBytes(StandardCharsets.UTF_8)))
                    .hasStackTraceContaining("bad record at topic in, partition 0, offset 0");
        }
    }

    // ------------------------------------------------------------------ helpers

    record Outputs(List<TestRecord<byte[], byte[]>> predictions, List<TestRecord<byte[], byte[]>> models, List<TestRecord<byte[], byte[]>> deadLetters) {}

    static Path replay() {
        return EddyTestEnv.repo().resolve("examples/phishing/phishing.replay");
    }

    static Properties props() {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, "eddy-test");
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        p.put(StreamsConfig.STATE_DIR_CONFIG, tmp.resolve("state").toString());
        return p;
    }

    static Outputs drive(OperatorSpec spec, int batchSize, List<Replays.Rec> records) {
        List<TestRecord<byte[], byte[]>> in = new ArrayList<>();
        for (Replays.Rec r : records) {
            assertThat(r.partition()).isZero();
            in.add(new TestRecord<>(r.key(), r.value(), new RecordHeaders(), Instant.ofEpochMilli(r.timestamp())));
        }
        return driveRecords(spec, batchSize, in);
    }

    static Outputs driveRecords(OperatorSpec spec, int batchSize, List<TestRecord<byte[], byte[]>> in) {
        Topology t =
                EddyTopology.builder(spec)
                        .input("in")
                        .predictions("predictions")
                        .models("models")
                        .deadLetters("dead-letters")
                        .batchSize(batchSize)
                        .build();
        try (TopologyTestDriver driver = new TopologyTestDriver(t, props())) {
            TestInputTopic<byte[], byte[]> input = driver.createInputTopic("in", new ByteArraySerializer(), new ByteArraySerializer());
            ByteArrayDeserializer de = new ByteArrayDeserializer();
            TestOutputTopic<byte[], byte[]> p = driver.createOutputTopic("predictions", de, de);
            TestOutputTopic<byte[], byte[]> m = driver.createOutputTopic("models", de, de);
            TestOutputTopic<byte[], byte[]> d = driver.createOutputTopic("dead-letters", de, de);
            input.pipeRecordList(in);
            driver.advanceWallClockTime(Duration.ofSeconds(1)); // the linger punctuator flushes the rest
            return new Outputs(p.readRecordsToList(), m.readRecordsToList(), d.readRecordsToList());
        }
    }

    static void assertEqual(Outputs got, EddyCli.RunOutputs expected) {
        assertThat(got.predictions).hasSize(expected.predictions().size());
        for (int i = 0; i < got.predictions.size(); i++) {
            TestRecord<byte[], byte[]> g = got.predictions.get(i);
            Replays.Rec e = expected.predictions().get(i);
            assertThat(new String(g.value(), StandardCharsets.UTF_8)).as("prediction %d", i).isEqualTo(e.valueText());
            assertThat(g.timestamp()).as("prediction %d timestamp", i).isEqualTo(e.timestamp());
            assertThat(headers(g.headers().toArray())).as("prediction %d origin", i).containsEntry(EddyProcessor.ORIGIN_OFFSET, Long.toString(e.originOffset()));
        }
        assertThat(got.models).hasSize(expected.models().size());
        for (int i = 0; i < got.models.size(); i++) {
            assertThat(new String(got.models.get(i).value(), StandardCharsets.UTF_8))
                    .as("model version %d", i)
                    .isEqualTo(expected.models().get(i).valueText());
        }
        assertThat(got.deadLetters).hasSize(expected.deadLetters().size());
    }

    static TestRecord<byte[], byte[]> rec(String key, byte[] value, long ts, String hk, String hv) {
        RecordHeaders h = new RecordHeaders();
        if (hk != null) {
            h.add(hk, hv.getBytes(StandardCharsets.UTF_8));
        }
        return new TestRecord<>(key.getBytes(StandardCharsets.UTF_8), value, h, Instant.ofEpochMilli(ts));
    }

    static Map<String, String> headers(Header[] hs) {
        Map<String, String> m = new LinkedHashMap<>();
        for (Header h : hs) {
            m.put(h.key(), h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
        }
        return m;
    }
}
