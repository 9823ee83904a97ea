package dev.eddy.examples.flink;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

import dev.eddy.flink.EddyOperator;
import dev.eddy.flink.EddyOperators;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.InputRow;

/**
 * Scores a Kafka topic with an eddy operator and writes the predictions to another topic, exactly
 * once: Flink's KafkaSource, the eddy operator (learning as it scores, its state in Flink's
 * checkpoints), Flink's KafkaSink with {@link DeliveryGuarantee#EXACTLY_ONCE} (predictions become
 * visible to {@code read_committed} readers when the checkpoint that covers them completes).
 *
 * <pre>
 * flink run -c dev.eddy.examples.flink.KafkaScoringJob eddy-flink-example.jar \
 *     --bootstrap 127.0.0.1:9092 --input phishing --output phishing-scored \
 *     --operator ftrl --config '{"featuresCol":["https","long_url"],"labelCol":"is_phishing"}'
 * </pre>
 *
 * Options: {@code --bootstrap}, {@code --input}, {@code --output} (required); {@code --models}
 * (a topic for the model versions); {@code --operator} (a shipped operator's name or a .wasm file,
 * default {@code ftrl}); {@code --config} (the operator's config, a JSON object, default {@code
 * {}}); {@code --group} (consumer group, default {@code eddy-<input>}); {@code --checkpoint-ms}
 * (default 1000); {@code --bounded} (stop at the offsets that are the latest when the job starts).
 *
 * <p>Every output record carries the headers {@code eddy.origin.topic}, {@code
 * eddy.origin.partition} and {@code eddy.origin.offset} naming the input record it answers (as
 * {@code eddy run}'s outputs do), and that record's timestamp; its value is exactly what {@code eddy
 * run} writes.
 */
public final class KafkaScoringJob {

    private KafkaScoringJob() {}

    /** The job's settings. */
    public record Options(
            String bootstrap,
            String input,
            String output,
            String models,
            String operator,
            String config,
            String group,
            long checkpointMs,
            boolean bounded) {

        public static Options parse(String[] args) {
            Map<String, String> m = new HashMap<>();
            for (int i = 0; i < args.length; i++) {
                if (!args[i].startsWith("--")) {
                    throw new IllegalArgumentException("expected --option, got " + args[i]);
                }
                String key = args[i].substring(2);
                if (key.equals("bounded")) {
                    m.put(key, "true");
                } else if (i + 1 < args.length) {
                    m.put(key, args[++i]);
                } else {
                    throw new IllegalArgumentException("--" + key + " needs a value");
                }
            }
            for (String required : new String[] {"bootstrap", "input", "output"}) {
                if (!m.containsKey(required)) {
                    throw new IllegalArgumentException("--" + required + " is required");
                }
            }
            return new Options(
                    m.get("bootstrap"),
                    m.get("input"),
                    m.get("output"),
                    m.get("models"),
                    m.getOrDefault("operator", "ftrl"),
                    m.getOrDefault("config", "{}"),
                    m.getOrDefault("group", "eddy-" + m.get("input")),
                    Long.parseLong(m.getOrDefault("checkpoint-ms", "1000")),
                    Boolean.parseBoolean(m.getOrDefault("bounded", "false")));
        }
    }

    public static void main(String[] args) throws Exception {
        Options o = Options.parse(args);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        build(env, o);
        env.execute("eddy " + o.operator() + ": " + o.input() + " -> " + o.output());
    }

    /** Adds the job to {@code env} and turns on exactly-once checkpointing. */
    public static void build(StreamExecutionEnvironment env, Options o) {
        env.enableCheckpointing(o.checkpointMs(), CheckpointingMode.EXACTLY_ONCE);

        var source =
                KafkaSource.<KafkaRow>builder()
                        .setBootstrapServers(o.bootstrap())
                        .setTopics(o.input())
                        .setGroupId(o.group())
                        .setStartingOffsets(OffsetsInitializer.earliest())
                        .setDeserializer(new KafkaRowDeserializer());
        if (o.bounded()) {
            source.setBounded(OffsetsInitializer.latest());
        }
        DataStream<KafkaRow> rows =
                env.fromSource(source.build(), WatermarkStrategy.noWatermarks(), "kafka: " + o.input())
                        .uid("kafka-source");

        // The operator: keyed by input partition, each partition scored and learned in order.
        SingleOutputStreamOperator<EddyOutput> predictions =
                EddyOperators.builder(o.operator())
                        .config(o.config())
                        .uid("eddy-operator")
                        .name("eddy " + o.operator())
                        .apply(rows, r -> new InputRow(r.value, r.timestamp, r.partition, r.offset));

        predictions.sinkTo(exactlyOnce(o, o.output(), "predictions")).uid("kafka-sink-predictions");
        if (o.models() != null) {
            predictions
                    .getSideOutput(EddyOperator.MODELS)
                    .map(EddyOutput::fromJson)
                    .returns(TypeInformation.of(EddyOutput.class))
                    .sinkTo(exactlyOnce(o, o.models(), "models"))
                    .uid("kafka-sink-models");
        }
    }

    static KafkaSink<EddyOutput> exactlyOnce(Options o, String topic, String what) {
        return KafkaSink.<EddyOutput>builder()
                .setBootstrapServers(o.bootstrap())
                .setRecordSerializer(new OutputSerializer(topic, o.input()))
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix("eddy-" + o.input() + "-" + what)
                .build();
    }

    /** A Kafka record as the operator needs it (a Flink POJO). */
    public static class KafkaRow {
        public byte[] value;
        public int partition;
        public long offset;
        public long timestamp;

        public KafkaRow() {}
    }

    static final class KafkaRowDeserializer implements KafkaRecordDeserializationSchema<KafkaRow> {
        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<KafkaRow> out) {
            KafkaRow r = new KafkaRow();
            r.value = record.value() == null ? new byte[0] : record.value();
            r.partition = record.partition();
            r.offset = record.offset();
            r.timestamp = record.timestamp();
            out.collect(r);
        }

        @Override
        public TypeInformation<KafkaRow> getProducedType() {
            return TypeInformation.of(KafkaRow.class);
        }
    }

    /**
     * Output value: the record's value bytes; headers: where the answered input record came from;
     * timestamp: the input record's (for models, the latest input record the version learned from).
     */
    static final class OutputSerializer implements KafkaRecordSerializationSchema<EddyOutput> {
        private final String topic;
        private final String inputTopic;

        OutputSerializer(String topic, String inputTopic) {
            this.topic = topic;
            this.inputTopic = inputTopic;
        }

        @Override
        public ProducerRecord<byte[], byte[]> serialize(EddyOutput out, KafkaSinkContext context, Long timestamp) {
            RecordHeaders headers = new RecordHeaders();
            headers.add("eddy.origin.topic", inputTopic.getBytes(StandardCharsets.UTF_8));
            headers.add("eddy.origin.partition", Integer.toString(out.partition).getBytes(StandardCharsets.UTF_8));
            String position = out.sink.equals(EddyOutput.MODELS) ? "eddy.model.number" : "eddy.origin.offset";
            headers.add(position, Long.toString(out.offset).getBytes(StandardCharsets.UTF_8));
            byte[] key = out.sink.equals(EddyOutput.MODELS) ? Integer.toString(out.partition).getBytes(StandardCharsets.UTF_8) : null;
            return new ProducerRecord<>(topic, null, timestamp, key, out.valueBytes(), headers);
        }
    }
}
