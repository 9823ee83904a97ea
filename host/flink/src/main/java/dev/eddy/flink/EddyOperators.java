package dev.eddy.flink;

import java.util.Objects;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.InputRow;
import dev.eddy.core.OperatorSpec;

/**
 * Wires an eddy operator into a DataStream job:
 *
 * <pre>{@code
 * SingleOutputStreamOperator<EddyOutput> predictions =
 *     EddyOperators.apply(records, "ops/ftrl.wasm", "{\"alpha\":0.1}",
 *         r -> new InputRow(r.value(), r.timestamp(), r.partition(), r.offset()));
 * DataStream<String> models = predictions.getSideOutput(EddyOperator.MODELS);
 * DataStream<String> deadLetters = predictions.getSideOutput(EddyOperator.DEAD_LETTERS);
 * }</pre>
 *
 * By default the input is keyed by partition (so each partition's rows reach one subtask, in
 * order; partitions spread evenly over the subtasks, see {@link PartitionKeys}), the native backend is used, batches hold up to 1024 rows and the uid is {@code
 * "eddy:" + componentPath}; {@link #builder} changes any of these.
 */
public final class EddyOperators {

    private EddyOperators() {}

    public static <IN> SingleOutputStreamOperator<EddyOutput> apply(
            DataStream<IN> stream,
            String componentPath,
            String configJson,
            RecordExtractor<IN> extractor) {
        return builder(componentPath).config(configJson).apply(stream, extractor);
    }

    public static Builder builder(String componentPath) {
        return new Builder(componentPath);
    }

    /** A builder for an operator or a chain with its limits ({@link OperatorSpec}). */
    public static Builder builder(OperatorSpec spec) {
        Builder b = new Builder(spec.component());
        b.spec = spec;
        return b;
    }

    /** Options of one eddy operator (or chain) in a job. */
    public static final class Builder {
        private final String componentPath;
        private String configJson = "{}";
        private OperatorSpec spec;
        private final java.util.List<OperatorSpec.Stage> then = new java.util.ArrayList<>();
        private Long memoryMib;
        private Long callTimeoutMs;
        private Integer batchRows;
        private String format;
        private int batchSize = EddyOperator.DEFAULT_BATCH_SIZE;
        private BackendFactory backend = BackendFactory.NATIVE;
        private boolean keyByPartition = true;
        private String uid;
        private String name;
        private Integer parallelism;
        private Integer maxParallelism;

        private Builder(String componentPath) {
            this.componentPath = Objects.requireNonNull(componentPath, "componentPath");
        }

        public Builder config(String configJson) {
            this.configJson = configJson == null ? "{}" : configJson;
            return this;
        }

        /** Rows per batch handed to the operator (per partition; default 1024). */
        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /**
         * Adds an operator after the last one: a chain, as a job file's {@code [[operators]]}
         * (each one's output columns are added to the row the next one reads).
         */
        public Builder then(String componentPath, String configJson) {
            then.add(new OperatorSpec.Stage(componentPath, configJson));
            return this;
        }

        /**
         * How record values are encoded: {@code "json"} (the default) or {@code "arrow"} (Arrow IPC
         * streams, as {@code format = "arrow"} in job files; predictions are Arrow IPC streams too,
         * in {@link EddyOutput#bytes}).
         */
        public Builder format(String format) {
            this.format = format;
            return this;
        }

        /** The sandbox's memory limit per operator instance ({@code limits.memory_mib}; 512). */
        public Builder memoryMib(long mib) {
            this.memoryMib = mib;
            return this;
        }

        /** The sandbox's time limit per call ({@code limits.call_timeout_ms}; 30,000). */
        public Builder callTimeoutMs(long ms) {
            this.callTimeoutMs = ms;
            return this;
        }

        /**
         * Rows per call into the operators inside the native library ({@code run.batch_size};
         * default 4096, bounded by {@link #batchSize}). Results do not depend on it.
         */
        public Builder batchRows(int rows) {
            this.batchRows = rows;
            return this;
        }

        /** The operator or chain this builder describes. */
        public OperatorSpec spec() {
            OperatorSpec s = spec != null ? spec : OperatorSpec.of(componentPath, configJson);
            for (OperatorSpec.Stage st : then) {
                s = s.then(st.component(), st.configJson());
            }
            if (memoryMib != null) {
                s = s.memoryMib(memoryMib);
            }
            if (callTimeoutMs != null) {
                s = s.callTimeoutMs(callTimeoutMs);
            }
            if (batchRows != null) {
                s = s.batchRows(batchRows);
            }
            if (format != null) {
                s = s.format(format);
            }
            return s;
        }

        /** The backend to run the operator with; {@link BackendFactory#NATIVE} by default. */
        public Builder backend(BackendFactory backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
            return this;
        }

        /**
         * Whether to key the input by partition (default true). Turn it off only when the input
         * already sends each partition to one subtask of the operator, e.g. a Kafka source with
         * the same parallelism, chained.
         */
        public Builder keyByPartition(boolean keyByPartition) {
            this.keyByPartition = keyByPartition;
            return this;
        }

        /** The operator's stable uid, which its state is stored under; give each operator one. */
        public Builder uid(String uid) {
            this.uid = uid;
            return this;
        }

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder parallelism(int parallelism) {
            this.parallelism = parallelism;
            return this;
        }

        /**
         * The operator's max parallelism (default: the job's, or 128), which the keys that spread
         * partitions over subtasks are computed for ({@link PartitionKeys}).
         */
        public Builder maxParallelism(int maxParallelism) {
            this.maxParallelism = maxParallelism;
            return this;
        }

        public <IN> SingleOutputStreamOperator<EddyOutput> apply(
                DataStream<IN> stream, RecordExtractor<IN> extractor) {
            Objects.requireNonNull(extractor, "extractor");
            OperatorSpec s = spec();
            EddyOperator<IN> operator = new EddyOperator<>(s, extractor, backend, batchSize);
            String opName = name != null ? name : "eddy " + s.name();
            TypeInformation<EddyOutput> outType = TypeInformation.of(EddyOutput.class);
            SingleOutputStreamOperator<EddyOutput> result;
            if (keyByPartition) {
                // partitions spread evenly over the subtasks (see PartitionKeys), with a fixed
                // max parallelism so that the keys, and so the spread, are known here
                int configured = stream.getExecutionEnvironment().getConfig().getMaxParallelism();
                int maxParallelism =
                        this.maxParallelism != null ? this.maxParallelism
                                : configured > 0 ? configured : PartitionKeys.DEFAULT_MAX_PARALLELISM;
                KeySelector<IN, Integer> byPartition = e -> PartitionKeys.key(extractor.partition(e), maxParallelism);
                result = stream.keyBy(byPartition, Types.INT).transform(opName, outType, operator);
                result.setMaxParallelism(maxParallelism);
            } else {
                result = stream.transform(opName, outType, operator);
            }
            result.uid(uid != null ? uid : "eddy:" + componentPath);
            if (parallelism != null) {
                result.setParallelism(parallelism);
            }
            return result;
        }
    }
}
