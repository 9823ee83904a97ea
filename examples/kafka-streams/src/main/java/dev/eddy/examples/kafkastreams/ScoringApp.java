package dev.eddy.examples.kafkastreams;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.common.TopicPartition;

import dev.eddy.core.OperatorSpec;
import dev.eddy.kafkastreams.EddyTopology;

/**
 * A Kafka Streams application that scores a topic with an eddy operator (or chain), learning as
 * it scores, exactly once: input topic -> eddy -> predictions, model versions and dead letters.
 *
 * <pre>
 * java -Deddy.native.lib=target/release/libeddy_jni.so -cp eddy-kafka-streams-example.jar:... \
 *     dev.eddy.examples.kafkastreams.ScoringApp \
 *     --bootstrap 127.0.0.1:9092 --input phishing --predictions phishing-scored \
 *     --models phishing-models --dead-letters phishing-dead-letters \
 *     --operator ftrl --config '{"featuresCol":["https","long_url"],"labelCol":"is_phishing"}'
 * </pre>
 *
 * Options: {@code --bootstrap}, {@code --input}, {@code --predictions} (required); {@code
 * --models}, {@code --dead-letters} (topics; optional); {@code --operator NAME_OR_WASM --config
 * JSON}, repeated for a chain (default one {@code ftrl} with {@code {}}); {@code --app-id}
 * (default {@code eddy-<input>}); {@code --state-dir} (default Kafka Streams'); {@code
 * --commit-ms} (default 100, exactly-once's default); {@code --batch-size} (default 1024); {@code
 * --session-timeout-ms} (default 45000: how soon the group notices a dead instance).
 */
public final class ScoringApp {

    private ScoringApp() {}

    /** The topology: a few lines. */
    public static Topology topology(Map<String, String> o, OperatorSpec spec) {
        return EddyTopology.builder(spec)
                .input(o.get("input"))
                .predictions(o.get("predictions"))
                .models(o.get("models"))
                .deadLetters(o.get("dead-letters"))
                .batchSize(Integer.parseInt(o.getOrDefault("batch-size", "1024")))
                .persistentStore(true) // keeps Kafka Streams' process id across restarts: see README
                .build();
    }

    /** The settings: exactly_once_v2, byte[] records. */
    public static Properties properties(Map<String, String> o) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, o.getOrDefault("app-id", "eddy-" + o.get("input")));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.get("bootstrap"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, o.getOrDefault("commit-ms", "100"));
        if (o.containsKey("state-dir")) {
            p.put(StreamsConfig.STATE_DIR_CONFIG, o.get("state-dir"));
        }
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), o.getOrDefault("session-timeout-ms", "45000"));
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG),
                Long.toString(Math.max(500, Long.parseLong(o.getOrDefault("session-timeout-ms", "45000")) / 4)));
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>();
        List<String[]> operators = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --option value, got " + args[i]);
            }
            String key = args[i].substring(2);
            String value = args[++i];
            if (key.equals("operator")) {
                operators.add(new String[] {value, "{}"});
            } else if (key.equals("config")) {
                if (operators.isEmpty()) {
                    operators.add(new String[] {"ftrl", value});
                } else {
                    operators.get(operators.size() - 1)[1] = value;
                }
            } else {
                o.put(key, value);
            }
        }
        for (String required : List.of("bootstrap", "input", "predictions")) {
            if (!o.containsKey(required)) {
                throw new IllegalArgumentException("--" + required + " is required");
            }
        }
        if (operators.isEmpty()) {
            operators.add(new String[] {"ftrl", "{}"});
        }
        OperatorSpec spec = OperatorSpec.of(operators.get(0)[0], operators.get(0)[1]);
        for (String[] op : operators.subList(1, operators.size())) {
            spec = spec.then(op[0], op[1]);
        }

        KafkaStreams streams = new KafkaStreams(topology(o, spec), properties(o));
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close();
            done.countDown();
        }));
        streams.setStateListener((now, before) -> {
            String tasks = "";
            if (now == KafkaStreams.State.RUNNING) {
                tasks = " tasks " + streams.metadataForLocalThreads().stream()
                        .flatMap(t -> t.activeTasks().stream())
                        .map(t -> t.taskId().toString())
                        .sorted()
                        .toList();
            }
            System.err.println("eddy example: " + before + " -> " + now + tasks);
        });
        // say when a task's state comes back from its changelog (a restart, a task moving here)
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition changelog, String store, long start, long end) {}

            @Override
            public void onBatchRestored(TopicPartition changelog, String store, long batchEnd, long records) {}

            @Override
            public void onRestoreEnd(TopicPartition changelog, String store, long records) {
                System.err.println("eddy example: restored " + store + " from " + changelog + ": " + records + " records");
            }
        });
        streams.start();
        done.await();
    }
}
