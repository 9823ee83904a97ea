package dev.eddy.kafkastreams;

import java.util.Map;
import java.util.Objects;
import java.util.Set;

import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.state.StoreBuilder;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.OperatorSpec;

/**
 * Wires an eddy operator (or chain) into a Kafka Streams topology:
 *
 * <pre>{@code
 * Topology topology =
 *     EddyTopology.builder(OperatorSpec.of("ftrl", "{\"featuresCol\":[\"f1\",\"f2\"],\"labelCol\":\"label\"}"))
 *         .input("clicks")
 *         .predictions("clicks-scored")
 *         .models("clicks-models")               // optional
 *         .deadLetters("clicks-dead-letters")    // optional: without it a bad record fails the task
 *         .build();
 * }</pre>
 *
 * adds a source (byte[] keys and values), the {@link EddyProcessor} named {@link #name} with its
 * {@link SnapshotStore} ({@code <name>-snapshot}, changelog on), and one sink per output topic
 * ({@code <name>-predictions}, {@code <name>-models}, {@code <name>-dead-letters}). Run it with
 * {@code processing.guarantee = exactly_once_v2} for exactly-once outputs and state. {@link
 * #addTo} adds the same to a topology of your own, after processors you name.
 */
public final class EddyTopology {

    public static final int DEFAULT_BATCH_SIZE = 1024;
    public static final long DEFAULT_LINGER_MS = 50;

    private EddyTopology() {}

    public static Builder builder(OperatorSpec spec) {
        return new Builder(spec);
    }

    public static final class Builder {
        private final OperatorSpec spec;
        private String name = "eddy";
        private String input;
        private String predictions;
        private String models;
        private String deadLetters;
        private int batchSize = DEFAULT_BATCH_SIZE;
        private long lingerMs = DEFAULT_LINGER_MS;
        private BackendFactory backend = BackendFactory.NATIVE;
        private boolean persistentStore;
        private Map<String, String> changelogConfig = Map.of();

        private Builder(OperatorSpec spec) {
            this.spec = Objects.requireNonNull(spec, "spec");
        }

        /** The processor's name (default {@code eddy}); its store is {@code <name>-snapshot}. */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** The input topic (for {@link #build}). One topic: its partitions are eddy's pipelines. */
        public Builder input(String topic) {
            this.input = topic;
            return this;
        }

        /** The topic predictions are written to (required). */
        public Builder predictions(String topic) {
            this.predictions = topic;
            return this;
        }

        /** The topic model versions are written to (default: none, they are dropped). */
        public Builder models(String topic) {
            this.models = topic;
            return this;
        }

        /** The topic bad records go to (default: none, a bad record fails the task). */
        public Builder deadLetters(String topic) {
            this.deadLetters = topic;
            return this;
        }

        /** Rows per batch handed to the operator (default 1024). */
        public Builder batchSize(int rows) {
            this.batchSize = rows;
            return this;
        }

        /** Longest a row waits in a batch that is not full, in wall-clock ms (default 50). */
        public Builder lingerMs(long ms) {
            this.lingerMs = ms;
            return this;
        }

        /** The backend (default the native library). */
        public Builder backend(BackendFactory backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * Keep the snapshot in RocksDB instead of memory (default false): a clean restart then
         * skips reading the changelog; after a crash with exactly-once it is read either way.
         */
        public Builder persistentStore(boolean persistent) {
            this.persistentStore = persistent;
            return this;
        }

        /** Topic configs of the store's changelog topic (it is compacted by default). */
        public Builder changelogConfig(Map<String, String> config) {
            this.changelogConfig = Map.copyOf(config);
            return this;
        }

        public String storeName() {
            return name + "-snapshot";
        }

        /** The child names outputs are forwarded to: the sinks {@link #addTo} adds. */
        public EddyProcessor.Children children() {
            return new EddyProcessor.Children(
                    name + "-predictions", models == null ? null : name + "-models", deadLetters == null ? null : name + "-dead-letters");
        }

        /** The store the processor needs (connected by {@link #supplier}'s {@code stores()}). */
        public StoreBuilder<SnapshotStore> store() {
            return SnapshotStore.builder(storeName(), persistentStore).withLoggingEnabled(changelogConfig);
        }

        /**
         * A supplier of processors forwarding to {@code children} (for hand-made topologies):
         * it brings its store along.
         */
        public ProcessorSupplier<byte[], byte[], byte[], byte[]> supplier(EddyProcessor.Children children) {
            OperatorSpec s = spec;
            BackendFactory b = backend;
            int size = batchSize;
            long linger = lingerMs;
            String store = storeName();
            StoreBuilder<SnapshotStore> storeBuilder = store();
            return new ProcessorSupplier<>() {
                @Override
                public Processor<byte[], byte[], byte[], byte[]> get() {
                    return new EddyProcessor(s, b, size, linger, store, children);
                }

                @Override
                public Set<StoreBuilder<?>> stores() {
                    return Set.of(storeBuilder);
                }
            };
        }

        /** Adds the processor (after {@code parents}), its store and the output sinks to {@code topology}. */
        public Topology addTo(Topology topology, String... parents) {
            Objects.requireNonNull(predictions, "predictions topic");
            EddyProcessor.Children c = children();
            topology.addProcessor(name, supplier(c), parents);
            ByteArraySerializer ser = new ByteArraySerializer();
            topology.addSink(c.predictions(), predictions, ser, ser, name);
            if (c.models() != null) {
                topology.addSink(c.models(), models, ser, ser, name);
            }
            if (c.deadLetters() != null) {
                topology.addSink(c.deadLetters(), deadLetters, ser, ser, name);
            }
            return topology;
        }

        /** A topology: the input topic, the processor and its store, a sink per output topic. */
        public Topology build() {
            Objects.requireNonNull(input, "input topic");
            Topology t = new Topology();
            ByteArrayDeserializer de = new ByteArrayDeserializer();
            t.addSource(name + "-source", de, de, input);
            return addTo(t, name + "-source");
        }
    }
}
