package dev.eddy.examples.kafkastreams;

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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.Replays;

/**
 * {@link ScoringApp} against a real broker (tests/kafka/broker), each instance in a JVM of its own
 * so that it can be killed with SIGKILL. The phishing records (the 2-partition replay {@code eddy
 * topic import --partitions 2} makes; partitions and offsets as in the replay) are produced slowly
 * while the application runs, and the FTRL component scores them with {@code exactly_once_v2}.
 * A {@code read_committed} reader must then find exactly one prediction per input record and every
 * model version once, each byte for byte what {@code eddy run} writes for the same replay file:
 *
 * <ul>
 *   <li>one instance, killed with SIGKILL 5 times at random points and restarted (each restart
 *       restores the operator from the changelog and resumes from the committed offsets);
 *   <li>two instances sharing the partitions, one of them killed and restarted (its tasks move to
 *       the other, restored from the changelog, and back).
 * </ul>
 */
class ScoringAppTest {

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

    @TempDir static Path tmp;
    static Path brokerDir;
    static String bootstrap;
    static List<Replays.Rec> input;
    static EddyCli.RunOutputs expected;
    final List<Process> apps = new ArrayList<>();

    @BeforeAll
    static void setUp() throws Exception {
        EddyTestEnv.nativeBackend();
        brokerDir = tmp.resolve("kafka");
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

        List<Replays.Rec> phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        StringBuilder lines = new StringBuilder();
        phishing.forEach(r -> lines.append(r.valueText()).append('\n'));
        Path replay = tmp.resolve("phishing2.replay");
        EddyCli.importJsonl(Files.writeString(tmp.resolve("phishing.jsonl"), lines), "phishing", 2, replay);
        input = Replays.read(replay);
        expected = EddyCli.run(EddyTestEnv.ftrlComponent(), CONFIG, replay, tmp.resolve("eddy-run"));
        assertThat(expected.predictions()).hasSize(input.size());
        assertThat(expected.models()).hasSize(input.size()); // globalBatchSize 1: a version per row
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

    @AfterEach
    void stopApps() throws Exception {
        for (Process p : apps) {
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void fiveSigkillsAndRestartsGiveEddyRunsOutputsExactlyOnce() throws Exception {
        String t = "kill";
        createTopics(t);
        Thread producer = produceSlowly(t + "-in", 25_000);
        Random random = new Random(13);
        for (int kill = 1; kill <= 5; kill++) {
            Process app = start(t, "solo");
            Thread.sleep(1500 + random.nextInt(3500));
            assertThat(app.isAlive()).as("instance alive before kill %d; see %s", kill, log(t, "solo")).isTrue();
            app.destroyForcibly(); // SIGKILL
            assertThat(app.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        start(t, "solo");
        producer.join();
        check(t, log(t, "solo"));
        assertThat(Files.readString(log(t, "solo")))
                .as("restarts restored the operator from the changelog")
                .containsPattern("restored eddy-snapshot from eddy-kill-eddy-snapshot-changelog-\\d: [1-9]\\d* records");
    }

    @Test
    void twoInstancesSharingThePartitionsGiveTheSameResult() throws Exception {
        String t = "pair";
        createTopics(t);
        start(t, "a");
        Process b = start(t, "b");
        Thread producer = produceSlowly(t + "-in", 20_000);
        // Waits on what the instances say, not on fixed sleeps (a loaded machine starts a JVM
        // and joins a group in anything from 2 to 10 s): b runs a task of its own ...
        awaitLog(log(t, "b"), "-> RUNNING tasks \\[0_\\d", Duration.ofSeconds(90));
        Thread.sleep(3_000); // ... and commits snapshots of it (a commit every 100 ms)
        b.destroyForcibly(); // SIGKILL: its task moves to a after the 6 s session timeout
        b.waitFor(30, TimeUnit.SECONDS);
        // b's task moved to a: a restored it from its changelog (a's own first task had an empty one)
        awaitLog(log(t, "a"), "restored eddy-snapshot from eddy-pair-eddy-snapshot-changelog-\\d: [1-9]\\d* records", Duration.ofSeconds(90));
        start(t, "b"); // and b comes back, taking a task again
        producer.join();
        check(t, log(t, "a"));
        assertThat(Files.readString(log(t, "b"))).as("instance b ran, twice").containsPattern("(?s)-> RUNNING.*-> RUNNING");
    }

    // ------------------------------------------------------------------ helpers

    /** Waits until the instance's log holds {@code pattern}; fails naming the log after {@code timeout}. */
    static void awaitLog(Path log, String pattern, Duration timeout) throws Exception {
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(pattern);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(log) && p.matcher(Files.readString(log)).find()) {
                return;
            }
            Thread.sleep(200);
        }
        fail("no line matching " + pattern + " in " + log + " after " + timeout + ":\n" + (Files.exists(log) ? Files.readString(log) : "(no log)"));
    }

    static Path broker() {
        return EddyTestEnv.repo().resolve("tests/kafka/broker");
    }

    static Path log(String t, String instance) {
        return tmp.resolve(t + "-" + instance + ".log");
    }

    static void createTopics(String t) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(
                            new NewTopic(t + "-in", 2, (short) 1),
                            new NewTopic(t + "-predictions", 1, (short) 1),
                            new NewTopic(t + "-models", 1, (short) 1),
                            new NewTopic(t + "-dead-letters", 1, (short) 1)))
                    .all()
                    .get(1, TimeUnit.MINUTES);
        }
    }

    /** One instance of the example application in a JVM of its own (its output appended to a log). */
    Process start(String t, String instance) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Deddy.native.lib=" + System.getProperty("eddy.test.native.lib"),
                "-cp", System.getProperty("java.class.path"),
                ScoringApp.class.getName(),
                "--bootstrap", bootstrap,
                "--input", t + "-in",
                "--predictions", t + "-predictions",
                "--models", t + "-models",
                "--dead-letters", t + "-dead-letters",
                "--app-id", "eddy-" + t,
                "--state-dir", tmp.resolve("state-" + t + "-" + instance).toString(),
                "--session-timeout-ms", "6000",
                "--batch-size", "64",
                "--operator", EddyTestEnv.ftrlComponent().toString(),
                "--config", EddyCli.configJson(CONFIG)));
        Process p =
                new ProcessBuilder(cmd)
                        .redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.appendTo(log(t, instance).toFile()))
                        .start();
        apps.add(p);
        return p;
    }

    /** Produces the replay's records to their partitions, in order, spread over about {@code ms}. */
    static Thread produceSlowly(String topic, long ms) {
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread th = new Thread(() -> {
            Properties props = new Properties();
            props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
            props.put(ProducerConfig.ACKS_CONFIG, "all");
            props.put(ProducerConfig.LINGER_MS_CONFIG, "0");
            try (KafkaProducer<byte[], byte[]> producer =
                    new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
                int chunk = 25;
                long pause = ms / (input.size() / chunk);
                for (int i = 0; i < input.size(); i++) {
                    Replays.Rec r = input.get(i);
                    producer.send(new ProducerRecord<>(topic, r.partition(), r.timestamp(), r.key(), r.value()));
                    if (i % chunk == chunk - 1) {
                        producer.flush();
                        Thread.sleep(pause);
                    }
                }
                producer.flush();
            } catch (Throwable e) {
                failed.set(e);
            }
        }, "producer");
        th.start();
        return th;
    }

    /** Reads both output topics read_committed and compares them with eddy run's, partition by partition. */
    static void check(String t, Path appLog) throws Exception {
        List<ConsumerRecord<byte[], byte[]>> predictions = consumeCommitted(t + "-predictions", input.size(), appLog);
        List<ConsumerRecord<byte[], byte[]>> models = consumeCommitted(t + "-models", expected.models().size(), appLog);
        assertThat(predictions).as("one prediction per input record, none twice").hasSize(input.size());
        assertThat(models).as("every model version once").hasSize(expected.models().size());

        Map<Integer, List<ConsumerRecord<byte[], byte[]>>> got = new TreeMap<>();
        Set<String> seen = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> r : predictions) {
            int p = (int) header(r, "eddy.origin.partition");
            assertThat(seen.add(p + "/" + header(r, "eddy.origin.offset"))).as("answered once").isTrue();
            got.computeIfAbsent(p, k -> new ArrayList<>()).add(r);
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
        // model versions: per partition (the key), in the order they were committed
        Map<Integer, List<String>> gotModels = new TreeMap<>();
        for (ConsumerRecord<byte[], byte[]> r : models) {
            gotModels.computeIfAbsent(Integer.parseInt(new String(r.key(), StandardCharsets.UTF_8)), k -> new ArrayList<>())
                    .add(new String(r.value(), StandardCharsets.UTF_8));
        }
        Map<Integer, List<String>> wantModels = new TreeMap<>();
        expected.models().forEach(r -> wantModels.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r.valueText()));
        assertThat(gotModels).isEqualTo(wantModels);
    }

    static long header(ConsumerRecord<byte[], byte[]> r, String name) {
        return Long.parseLong(new String(r.headers().lastHeader(name).value(), StandardCharsets.UTF_8));
    }

    /** Everything committed to the topic: reads until {@code expected} records (then 3 s more), or 3 minutes. */
    static List<ConsumerRecord<byte[], byte[]>> consumeCommitted(String topic, int expected, Path appLog) throws IOException {
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
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, quietUntil)) {
                consumer.poll(Duration.ofMillis(200)).forEach(out::add);
                if (out.size() >= expected && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                }
            }
        }
        if (out.size() < expected) {
            System.err.println("only " + out.size() + " of " + expected + " records in " + topic + "; the application's log:\n"
                    + (Files.exists(appLog) ? Files.readString(appLog) : "(none)"));
        }
        return out;
    }
}
