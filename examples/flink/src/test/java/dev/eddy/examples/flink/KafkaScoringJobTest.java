package dev.eddy.examples.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.Replays;

/**
 * {@link KafkaScoringJob} against a real broker (tests/kafka/broker) on a MiniCluster: the
 * phishing records are produced to a 2-partition topic (partition and offset as in the replay
 * {@code eddy topic import --partitions 2} makes of them), the job scores them with the FTRL
 * component into an output topic exactly once, and a {@code read_committed} reader finds one
 * prediction per input record, each byte for byte the one {@code eddy run} writes for that record.
 */
class KafkaScoringJobTest {

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

    @TempDir static Path tmp;
    static Path brokerDir;
    static String bootstrap;

    @BeforeAll
    static void startBroker() throws Exception {
        EddyTestEnv.nativeBackend();
        brokerDir = tmp.resolve("kafka");
        // --owner: the broker goes away with this JVM even if @AfterAll never runs
        Process p =
                new ProcessBuilder(
                                broker().toString(), "start", brokerDir.toString(),
                                "--owner", Long.toString(ProcessHandle.current().pid()))
                        .redirectError(ProcessBuilder.Redirect.INHERIT)
                        .start();
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            fail("tests/kafka/broker start failed; see " + brokerDir.resolve("broker.log"));
        }
        bootstrap = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (brokerDir != null) {
            new ProcessBuilder(broker().toString(), "stop", brokerDir.toString())
                    .redirectErrorStream(true)
                    .start()
                    .waitFor(60, TimeUnit.SECONDS);
        }
    }

    static Path broker() {
        return EddyTestEnv.repo().resolve("tests/kafka/broker");
    }

    @Test
    void scoresATopicExactlyOnceLikeEddyRun() throws Exception {
        // the input, as a replay with 2 partitions: what eddy run reads and what goes to Kafka
        List<Replays.Rec> phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        StringBuilder lines = new StringBuilder();
        phishing.forEach(r -> lines.append(r.valueText()).append('\n'));
        Path replay = tmp.resolve("phishing2.replay");
        EddyCli.importJsonl(Files.writeString(tmp.resolve("phishing.jsonl"), lines), "phishing", 2, replay);
        List<Replays.Rec> input = Replays.read(replay);

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic("phishing", 2, (short) 1), new NewTopic("phishing-scored", 1, (short) 1)))
                    .all()
                    .get(1, TimeUnit.MINUTES);
        }
        produce("phishing", input);

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(2);
        KafkaScoringJob.build(
                env,
                KafkaScoringJob.Options.parse(
                        new String[] {
                            "--bootstrap", bootstrap,
                            "--input", "phishing",
                            "--output", "phishing-scored",
                            "--operator", EddyTestEnv.ftrlComponent().toString(),
                            "--config", EddyCli.configJson(CONFIG),
                            "--checkpoint-ms", "300",
                            "--bounded"
                        }));
        env.execute("eddy example: phishing -> phishing-scored");

        List<ConsumerRecord<byte[], byte[]>> scored = consumeCommitted("phishing-scored", input.size());
        assertThat(scored).as("one prediction per input record, none twice").hasSize(input.size());

        EddyCli.RunOutputs expected = EddyCli.run(EddyTestEnv.ftrlComponent(), CONFIG, replay, tmp.resolve("eddy-run"));
        Map<Integer, List<ConsumerRecord<byte[], byte[]>>> got = new TreeMap<>();
        for (ConsumerRecord<byte[], byte[]> r : scored) {
            got.computeIfAbsent(header(r, "eddy.origin.partition").intValue(), k -> new ArrayList<>()).add(r);
        }
        got.values().forEach(l -> l.sort(Comparator.comparingLong(r -> header(r, "eddy.origin.offset"))));
        Map<Integer, List<Replays.Rec>> want = new TreeMap<>();
        expected.predictions().forEach(r -> want.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r));
        assertThat(got.keySet()).isEqualTo(want.keySet()).containsExactly(0, 1);
        for (int p : want.keySet()) {
            List<Replays.Rec> w = want.get(p);
            List<ConsumerRecord<byte[], byte[]>> g = got.get(p);
            assertThat(g).hasSameSizeAs(w);
            for (int i = 0; i < w.size(); i++) {
                long offset = header(g.get(i), "eddy.origin.offset");
                if (offset != w.get(i).originOffset() || !Arrays.equals(g.get(i).value(), w.get(i).value())) {
                    fail("prediction #%d of partition %d differs:%n  eddy run: %d %s%n  kafka:    %d %s",
                            i, p, w.get(i).originOffset(), w.get(i).valueText(),
                            offset, new String(g.get(i).value(), StandardCharsets.UTF_8));
                }
            }
        }
    }

    static Long header(ConsumerRecord<byte[], byte[]> r, String name) {
        return Long.parseLong(new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8));
    }

    /** Each record to its replay partition, in order, so Kafka's offsets are the replay's. */
    static void produce(String topic, List<Replays.Rec> records) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (Replays.Rec r : records) {
                producer.send(new ProducerRecord<>(topic, r.partition(), r.timestamp(), r.key(), r.value()));
            }
            producer.flush();
        }
    }

    /** Everything committed to the topic: reads until {@code expected} records, then 2 s more. */
    static List<ConsumerRecord<byte[], byte[]>> consumeCommitted(String topic, int expected) throws IOException {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts =
                    consumer.partitionsFor(topic).stream().map(i -> new TopicPartition(topic, i.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, quietUntil)) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
                if (out.size() >= expected && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                }
            }
        }
        return out;
    }
}
