package dev.eddy.flink;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.HashMap;
import java.util.stream.Stream;

import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.metrics.Counter;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.StateInitializationContext;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.BoundedOneInput;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.OutputTag;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyException;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.InputRow;
import dev.eddy.core.OperatorBackend;
import dev.eddy.core.OperatorSpec;

/**
 * Runs an eddy operator (a WebAssembly component behind an {@link OperatorBackend}) inside Flink.
 *
 * <p>Rows are buffered per input partition and handed to the backend in batches of up to {@code
 * batchSize} rows. Buffers are flushed when full, before a checkpoint barrier ({@link
 * #prepareSnapshotPreBarrier}), before a watermark is forwarded, and at end of input, so no row is
 * ever held across a checkpoint and outputs are never late relative to the watermarks forwarded.
 * At end of input the backend is also told that the input has ended ({@link
 * OperatorBackend#finish}), as {@code eddy run} does after the last record of a replay.
 *
 * <p>Outputs: {@code predictions} records go downstream as {@link EddyOutput}; {@code models} and
 * {@code dead_letters} records go to the side outputs {@link #MODELS} and {@link #DEAD_LETTERS} as
 * their full JSON wire form (see {@link EddyOutput}; parse with {@link EddyOutput#fromJson}). Each
 * output carries the event timestamp of the input row (partition, offset) that produced it.
 *
 * <p>State: one operator instance (backend handle) per input partition, as {@code eddy run} runs one
 * pipeline per partition, and one snapshot per partition. With the input keyed by partition (the
 * builder's default, see {@link PartitionKeys}) the snapshots are keyed state under the
 * partition's key, so Flink hands each subtask the partitions it serves at whatever parallelism
 * the job is restored with; they are restored when the job starts. Without keying ({@code
 * keyByPartition(false)}) they are operator {@code ListState<byte[]>} entries, and restoring with a
 * different parallelism is refused. All rows of one partition must reach the same subtask.
 */
public class EddyOperator<IN> extends AbstractStreamOperator<EddyOutput>
        implements OneInputStreamOperator<IN, EddyOutput>, BoundedOneInput {

    private static final long serialVersionUID = 1L;

    public static final int DEFAULT_BATCH_SIZE = 1024;

    /** Model records, as their JSON wire form. */
    public static final OutputTag<String> MODELS = new OutputTag<>("eddy-models", Types.STRING);

    /** Dead letters (rows the operator rejected), as their JSON wire form. */
    public static final OutputTag<String> DEAD_LETTERS =
            new OutputTag<>("eddy-dead-letters", Types.STRING);

    static final String STATE_NAME = "eddy-operator-state";
    static final String PARTITION_STATE_NAME = "eddy-partition-state";
    private static final int STATE_MAGIC = 0x45444459; // "EDDY"
    private static final int STATE_VERSION = 2;
    private static final int STATE_HEADER_BYTES = 20;
    private static final TypeInformation<byte[]> BYTES = PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO;

    private final OperatorSpec spec;
    private final RecordExtractor<IN> extractor;
    private final BackendFactory backendFactory;
    private final int batchSize;

    private transient OperatorBackend backend;
    /** One operator instance per input partition, as eddy run has one pipeline per partition. */
    private transient Map<Integer, Long> handles;
    /** Keyed mode: the key of each partition's state (the one Flink set for its elements). */
    private transient Map<Integer, Object> keys;
    private transient boolean keyed;
    private transient boolean binaryValues;
    private transient ValueState<byte[]> partitionState;
    private transient boolean inputEnded;
    private transient ListState<byte[]> operatorState;
    private transient Map<Integer, Batch> batches;
    private transient Counter rowsIn;
    private transient Counter predictionsOut;
    private transient Counter modelsOut;
    private transient Counter deadLettersOut;
    private transient Counter batchesProcessed;

    public EddyOperator(
            String componentPath,
            String configJson,
            RecordExtractor<IN> extractor,
            BackendFactory backendFactory,
            int batchSize) {
        this(OperatorSpec.of(Objects.requireNonNull(componentPath, "componentPath"), configJson), extractor, backendFactory, batchSize);
    }

    /** An operator or a chain, with its limits ({@link OperatorSpec}). */
    public EddyOperator(
            OperatorSpec spec,
            RecordExtractor<IN> extractor,
            BackendFactory backendFactory,
            int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1: " + batchSize);
        }
        this.spec = Objects.requireNonNull(spec, "spec");
        this.extractor = Objects.requireNonNull(extractor, "extractor");
        this.backendFactory = Objects.requireNonNull(backendFactory, "backendFactory");
        this.batchSize = batchSize;
    }

    public EddyOperator(String componentPath, String configJson, RecordExtractor<IN> extractor) {
        this(componentPath, configJson, extractor, BackendFactory.NATIVE, DEFAULT_BATCH_SIZE);
    }

    // ------------------------------------------------------------------ lifecycle and state

    @Override
    public void initializeState(StateInitializationContext context) throws Exception {
        super.initializeState(context);
        batches = new LinkedHashMap<>();
        handles = new TreeMap<>();
        keys = new HashMap<>();
        backend = backendFactory.create();
        binaryValues = spec.isArrow();
        TaskInfo task = getRuntimeContext().getTaskInfo();
        int parallelism = task.getNumberOfParallelSubtasks();
        int subtask = task.getIndexOfThisSubtask();
        keyed = context.getKeyedStateStore() != null && getKeyedStateBackend() != null;
        if (keyed) {
            // one snapshot per input partition, under the partition's key: Flink hands each
            // subtask the key groups it now serves, at any parallelism
            partitionState = context.getKeyedStateStore().getState(new ValueStateDescriptor<>(PARTITION_STATE_NAME, BYTES));
            if (context.isRestored()) {
                @SuppressWarnings("unchecked")
                KeyedStateBackend<Object> kb = (KeyedStateBackend<Object>) getKeyedStateBackend();
                List<Object> restoredKeys = new ArrayList<>();
                try (Stream<Object> ks = kb.getKeys(PARTITION_STATE_NAME, VoidNamespace.INSTANCE)) {
                    ks.forEach(restoredKeys::add);
                }
                for (Object key : restoredKeys) {
                    setCurrentKey(key);
                    byte[] entry = partitionState.value();
                    if (entry != null) {
                        restorePartition(entry, key, -1, -1);
                    }
                }
            }
        } else {
            operatorState = context.getOperatorStateStore().getListState(new ListStateDescriptor<>(STATE_NAME, BYTES));
            if (context.isRestored()) {
                for (byte[] entry : operatorState.get()) {
                    restorePartition(entry, null, parallelism, subtask);
                }
            }
        }
    }

    /** Restores one partition's entry (header, then the backend's snapshot) into a new handle. */
    private void restorePartition(byte[] entry, Object key, int parallelism, int subtask) {
        ByteBuffer buf = ByteBuffer.wrap(entry);
        if (buf.remaining() < STATE_HEADER_BYTES || buf.getInt() != STATE_MAGIC) {
            throw new EddyException("eddy: operator state has no eddy header");
        }
        int version = buf.getInt();
        int savedParallelism = buf.getInt();
        int savedSubtask = buf.getInt();
        int partition = buf.getInt();
        if (version != STATE_VERSION) {
            throw new EddyException("eddy: unknown operator state version " + version + " (this eddy reads " + STATE_VERSION + ")");
        }
        if (parallelism >= 0 && (savedParallelism != parallelism || savedSubtask != subtask)) {
            throw new EddyException(
                    "eddy: operator state of subtask "
                            + savedSubtask
                            + "/"
                            + savedParallelism
                            + " cannot be restored into subtask "
                            + subtask
                            + "/"
                            + parallelism
                            + "; an eddy operator whose input is not keyed by partition (keyByPartition(false))"
                            + " cannot change its parallelism on restore (keyed by partition, it can)");
        }
        byte[] snapshot = new byte[buf.remaining()];
        buf.get(snapshot);
        long h = handle(partition);
        backend.restore(h, snapshot);
        if (key != null) {
            keys.put(partition, key);
        }
    }

    /** The handle of this partition's operator, opened on first use. */
    private long handle(int partition) {
        Long h = handles.get(partition);
        if (h == null) {
            h = backend.open(spec);
            handles.put(partition, h);
        }
        return h;
    }

    @Override
    public void open() throws Exception {
        super.open();
        rowsIn = getMetricGroup().counter("eddyRowsIn");
        predictionsOut = getMetricGroup().counter("eddyPredictionsOut");
        modelsOut = getMetricGroup().counter("eddyModelsOut");
        deadLettersOut = getMetricGroup().counter("eddyDeadLettersOut");
        batchesProcessed = getMetricGroup().counter("eddyBatches");
    }

    @Override
    public void prepareSnapshotPreBarrier(long checkpointId) throws Exception {
        flushAll();
        super.prepareSnapshotPreBarrier(checkpointId);
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        for (Batch b : batches.values()) {
            if (b.size != 0) {
                // prepareSnapshotPreBarrier runs first for every checkpoint; rows here would be lost
                throw new IllegalStateException("eddy: rows still buffered at snapshot time");
            }
        }
        TaskInfo task = getRuntimeContext().getTaskInfo();
        List<byte[]> entries = new ArrayList<>(handles.size());
        for (Map.Entry<Integer, Long> e : handles.entrySet()) {
            byte[] snapshot = backend.snapshot(e.getValue());
            if (snapshot == null) {
                snapshot = new byte[0];
            }
            ByteBuffer buf = ByteBuffer.allocate(STATE_HEADER_BYTES + snapshot.length);
            buf.putInt(STATE_MAGIC)
                    .putInt(STATE_VERSION)
                    .putInt(task.getNumberOfParallelSubtasks())
                    .putInt(task.getIndexOfThisSubtask())
                    .putInt(e.getKey())
                    .put(snapshot);
            if (keyed) {
                Object key = keys.get(e.getKey());
                if (key == null) {
                    throw new IllegalStateException("eddy: no key known for partition " + e.getKey());
                }
                setCurrentKey(key);
                partitionState.update(buf.array());
            } else {
                entries.add(buf.array());
            }
        }
        if (!keyed) {
            operatorState.update(entries);
        }
    }

    @Override
    public void processWatermark(Watermark mark) throws Exception {
        flushAll();
        super.processWatermark(mark);
    }

    @Override
    public void endInput() throws Exception {
        flushAll();
        if (!inputEnded) {
            inputEnded = true;
            for (long h : handles.values()) {
                byte[][] outputs = backend.finish(h);
                if (outputs != null) {
                    for (byte[] out : outputs) {
                        emit(out, null);
                    }
                }
            }
        }
    }

    @Override
    public void finish() throws Exception {
        flushAll();
        super.finish();
    }

    @Override
    public void close() throws Exception {
        try {
            if (handles != null) {
                for (long h : handles.values()) {
                    backend.close(h);
                }
                handles.clear();
            }
        } finally {
            super.close();
        }
    }

    // ------------------------------------------------------------------ records

    @Override
    public void processElement(StreamRecord<IN> element) throws Exception {
        InputRow row = extractor.extract(element.getValue());
        long ts = row.timestamp();
        if (ts == InputRow.NO_TIMESTAMP && element.hasTimestamp()) {
            ts = element.getTimestamp();
        }
        if (keyed && !keys.containsKey(row.partition())) {
            // the key Flink set for this element: the partition's, used to store its snapshot
            keys.put(row.partition(), getCurrentKey());
            if (!handles.containsKey(row.partition())) {
                byte[] saved = partitionState.value();
                if (saved != null) {
                    restorePartition(saved, getCurrentKey(), -1, -1);
                }
            }
        }
        Batch batch = batches.get(row.partition());
        if (batch == null) {
            batch = new Batch(row.partition(), batchSize);
            batches.put(row.partition(), batch);
        }
        batch.add(row.value(), ts, row.offset());
        rowsIn.inc();
        if (batch.size >= batchSize) {
            flush(batch);
        }
    }

    private void flushAll() {
        if (batches == null) {
            return;
        }
        for (Batch b : batches.values()) {
            flush(b);
        }
    }

    private void flush(Batch b) {
        if (b.size == 0) {
            return;
        }
        byte[][] outputs =
                backend.process(handle(b.partition), b.values(), b.timestamps(), b.partition, b.offsets());
        batchesProcessed.inc();
        if (outputs != null) {
            for (byte[] out : outputs) {
                emit(out, b);
            }
        }
        b.clear();
    }

    private void emit(byte[] bytes, Batch b) {
        EddyOutput.Wire wire = EddyOutput.parseWire(bytes, binaryValues);
        EddyOutput out = wire.output();
        long ts = wire.timestamp();
        if (ts == InputRow.NO_TIMESTAMP && b != null && out.partition == b.partition) {
            ts = b.timestampOf(out.offset);
        }
        switch (out.sink) {
            case EddyOutput.PREDICTIONS:
                output.collect(record(out, ts));
                predictionsOut.inc();
                break;
            case EddyOutput.MODELS:
                output.collect(MODELS, record(wire.json(), ts));
                modelsOut.inc();
                break;
            case EddyOutput.DEAD_LETTERS:
                output.collect(DEAD_LETTERS, record(wire.json(), ts));
                deadLettersOut.inc();
                break;
            default:
                throw new EddyException(
                        "eddy: output record names an unknown sink '" + out.sink + "'");
        }
    }

    private static <T> StreamRecord<T> record(T value, long ts) {
        return ts == InputRow.NO_TIMESTAMP ? new StreamRecord<>(value) : new StreamRecord<>(value, ts);
    }

    // ------------------------------------------------------------------ accessors

    public String getComponentPath() {
        return spec.component();
    }

    public OperatorSpec getSpec() {
        return spec;
    }

    public int getBatchSize() {
        return batchSize;
    }

    /** Rows of one partition waiting for the backend; arrays are reused between batches. */
    private static final class Batch {
        final int partition;
        final byte[][] values;
        final long[] timestamps;
        final long[] offsets;
        int size;
        int cursor;

        Batch(int partition, int capacity) {
            this.partition = partition;
            this.values = new byte[capacity][];
            this.timestamps = new long[capacity];
            this.offsets = new long[capacity];
        }

        void add(byte[] value, long ts, long offset) {
            values[size] = value;
            timestamps[size] = ts;
            offsets[size] = offset;
            size++;
        }

        byte[][] values() {
            return size == values.length ? values : Arrays.copyOf(values, size);
        }

        long[] timestamps() {
            return size == timestamps.length ? timestamps : Arrays.copyOf(timestamps, size);
        }

        long[] offsets() {
            return size == offsets.length ? offsets : Arrays.copyOf(offsets, size);
        }

        /** The timestamp of the row at this offset; outputs usually come in row order. */
        long timestampOf(long offset) {
            for (int n = 0; n < size; n++) {
                int i = cursor + n < size ? cursor + n : cursor + n - size;
                if (offsets[i] == offset) {
                    cursor = i;
                    return timestamps[i];
                }
            }
            return InputRow.NO_TIMESTAMP;
        }

        void clear() {
            Arrays.fill(values, 0, size, null);
            size = 0;
            cursor = 0;
        }
    }
}
