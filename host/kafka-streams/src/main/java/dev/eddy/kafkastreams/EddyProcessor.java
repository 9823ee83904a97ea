package dev.eddy.kafkastreams;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyException;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.InputRow;
import dev.eddy.core.OperatorBackend;
import dev.eddy.core.OperatorSpec;

/**
 * Runs an eddy operator (or chain) in a Kafka Streams task, through eddy's native library: one
 * instance per task, so one per input partition, exactly as {@code eddy run} runs one pipeline per
 * partition; its outputs are byte for byte {@code eddy run}'s.
 *
 * <p>Records (byte[] key and value; the value a JSON object, as {@code format = "json"}) are
 * buffered and handed to the operator in batches of up to {@code batchSize} rows: when a batch is
 * full, and every {@code lingerMs} of wall-clock time (a punctuator), so a quiet stream is not held
 * back. Outputs are forwarded to the child processors named by {@link Children}:
 *
 * <ul>
 *   <li>predictions: key the input record's key, value what {@code eddy run} writes, timestamp the
 *       input's, headers {@code eddy.origin.topic}, {@code eddy.origin.partition}, {@code
 *       eddy.origin.offset};
 *   <li>models: key the partition (decimal text), value the model version as {@code eddy run}
 *       writes it, timestamp the latest input it learned from;
 *   <li>dead letters: the input record unchanged (key, value, timestamp, its own headers) with the
 *       origin headers and {@code eddy.error.reason}, {@code eddy.error.stage}, {@code
 *       eddy.error.column} added. Without a dead-letter child, a bad record fails the task with
 *       an {@link EddyException} naming it (nothing is dropped silently).
 * </ul>
 *
 * <p>State: the operator's snapshot and the rows not yet handed to it are kept in a {@link
 * SnapshotStore}, taken once per commit (not per record), committed with the outputs and the
 * offsets, restored in {@link #init} (which Kafka Streams may call again after {@link #close} when
 * a task is suspended and resumed, or migrates to another instance).
 */
public final class EddyProcessor implements Processor<byte[], byte[], byte[], byte[]>, SnapshotStore.Source {

    public static final String ORIGIN_TOPIC = "eddy.origin.topic";
    public static final String ORIGIN_PARTITION = "eddy.origin.partition";
    public static final String ORIGIN_OFFSET = "eddy.origin.offset";
    public static final String ERROR_REASON = "eddy.error.reason";
    public static final String ERROR_STAGE = "eddy.error.stage";
    public static final String ERROR_COLUMN = "eddy.error.column";

    private static final int SNAPSHOT_MAGIC = 0x45444b53; // "EDKS"
    private static final int SNAPSHOT_VERSION = 1;

    /** The child processors (or sinks) outputs go to; null for models or dead letters: none. */
    public record Children(String predictions, String models, String deadLetters) {
        public Children {
            Objects.requireNonNull(predictions, "predictions");
        }
    }

    private final OperatorSpec spec;
    private final BackendFactory backendFactory;
    private final int batchSize;
    private final long lingerMs;
    private final String storeName;
    private final Children children;

    private ProcessorContext<byte[], byte[]> context;
    private SnapshotStore store;
    private OperatorBackend backend;
    private long handle;
    private boolean open;
    private Cancellable punctuator;
    private String topic;
    private final Map<Integer, Batch> batches = new TreeMap<>();
    /** Rows handed to the operator and not answered yet (an operator may hold rows back). */
    private final Map<Integer, Map<Long, Row>> waiting = new HashMap<>();
    /** The operator's snapshot as of the last one taken (or restored): reused while it has not run. */
    private byte[] operatorSnapshot;
    private boolean operatorChanged;
    private boolean buffersChanged;

    public EddyProcessor(
            OperatorSpec spec, BackendFactory backendFactory, int batchSize, long lingerMs, String storeName, Children children) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be at least 1: " + batchSize);
        }
        if (lingerMs < 1) {
            throw new IllegalArgumentException("lingerMs must be at least 1: " + lingerMs);
        }
        this.spec = Objects.requireNonNull(spec, "spec");
        this.backendFactory = Objects.requireNonNull(backendFactory, "backendFactory");
        this.batchSize = batchSize;
        this.lingerMs = lingerMs;
        this.storeName = Objects.requireNonNull(storeName, "storeName");
        this.children = Objects.requireNonNull(children, "children");
    }

    // ------------------------------------------------------------------ lifecycle

    @Override
    public void init(ProcessorContext<byte[], byte[]> context) {
        this.context = context;
        this.store = context.getStateStore(storeName);
        if (store == null) {
            throw new EddyException("eddy: the processor needs the store " + storeName + " connected to it");
        }
        batches.clear();
        waiting.clear();
        topic = null;
        backend = backendFactory.create();
        handle = backend.open(spec);
        open = true;
        operatorSnapshot = null;
        operatorChanged = false;
        buffersChanged = false;
        byte[] saved = store.read();
        if (saved != null) {
            restore(saved);
        }
        store.attach(this);
        punctuator = context.schedule(Duration.ofMillis(lingerMs), PunctuationType.WALL_CLOCK_TIME, now -> flushAll());
    }

    @Override
    public void close() {
        if (punctuator != null) {
            punctuator.cancel();
            punctuator = null;
        }
        if (store != null) {
            store.detach(this);
        }
        batches.clear();
        waiting.clear();
        if (open) {
            open = false;
            backend.close(handle);
        }
    }

    // ------------------------------------------------------------------ records

    @Override
    public void process(Record<byte[], byte[]> record) {
        RecordMetadata meta =
                context.recordMetadata()
                        .orElseThrow(() -> new EddyException("eddy: a record without topic, partition and offset (from a punctuator?)"));
        if (topic == null) {
            topic = meta.topic();
        } else if (!topic.equals(meta.topic())) {
            throw new EddyException(
                    "eddy: one processor reads one topic (its partitions are eddy's pipelines); got "
                            + meta.topic() + " after " + topic);
        }
        Batch b = batches.computeIfAbsent(meta.partition(), p -> new Batch(p, batchSize));
        if (record.value() == null) {
            // a tombstone is not a row: a dead letter (after the rows before it, in order)
            flush(b);
            Row r = new Row(meta.offset(), record.timestamp(), record.key(), null, copy(record.headers()));
            deadLetter(r, meta.partition(), "the record has no value (a tombstone)", "decode", null);
            return;
        }
        b.add(new Row(meta.offset(), record.timestamp(), record.key(), record.value(), copy(record.headers())));
        buffersChanged = true;
        if (b.size >= batchSize) {
            flush(b);
        }
    }

    /** Hands every buffered row to the operator (wall-clock punctuation). */
    public void flushAll() {
        for (Batch b : batches.values()) {
            flush(b);
        }
    }

    private void flush(Batch b) {
        if (b.size == 0) {
            return;
        }
        int n = b.size;
        byte[][] values = new byte[n][];
        long[] timestamps = new long[n];
        long[] offsets = new long[n];
        Map<Long, Row> wait = waiting.computeIfAbsent(b.partition, p -> new HashMap<>());
        for (int i = 0; i < n; i++) {
            Row r = b.rows[i];
            values[i] = r.value;
            timestamps[i] = r.timestamp;
            offsets[i] = r.offset;
            wait.put(r.offset, r);
        }
        b.clear();
        buffersChanged = true;
        operatorChanged = true;
        byte[][] outputs = backend.process(handle, values, timestamps, b.partition, offsets);
        if (outputs != null) {
            for (byte[] out : outputs) {
                emit(out);
            }
        }
    }

    private void emit(byte[] bytes) {
        EddyOutput.Wire wire = EddyOutput.parseWire(bytes, spec.isArrow());
        EddyOutput out = wire.output();
        switch (out.sink) {
            case EddyOutput.PREDICTIONS -> {
                Row in = answered(out);
                long ts = wire.timestamp() == InputRow.NO_TIMESTAMP ? in.timestamp : wire.timestamp();
                context.forward(new Record<>(in.key, out.valueBytes(), ts, origin(new RecordHeaders(), out.partition, in.offset)), children.predictions);
            }
            case EddyOutput.MODELS -> {
                if (children.models != null) {
                    long ts = wire.timestamp() == InputRow.NO_TIMESTAMP ? context.currentSystemTimeMs() : wire.timestamp();
                    byte[] key = Integer.toString(out.partition).getBytes(StandardCharsets.UTF_8);
                    context.forward(new Record<>(key, out.valueBytes(), ts, new RecordHeaders()), children.models);
                }
            }
            case EddyOutput.DEAD_LETTERS -> {
                Row in = answered(out);
                deadLetter(in, out.partition, wire.field("reason"), wire.field("stage"), wire.field("column"));
            }
            default -> throw new EddyException("eddy: output record names an unknown sink '" + out.sink + "'");
        }
    }

    private Row answered(EddyOutput out) {
        Map<Long, Row> wait = waiting.get(out.partition);
        Row in = wait == null ? null : wait.remove(out.offset);
        if (in == null) {
            throw new EddyException(
                    "eddy: the operator answered partition " + out.partition + " offset " + out.offset + ", which it was not given or answered before");
        }
        return in;
    }

    private void deadLetter(Row in, int partition, String reason, String stage, String column) {
        if (children.deadLetters == null) {
            throw new EddyException(
                    "eddy: bad record at topic " + topic + ", partition " + partition + ", offset " + in.offset + ": " + reason
                            + " (give the processor a dead-letter output to keep going)");
        }
        Headers h = new RecordHeaders();
        for (Header x : in.headers) {
            h.add(x.key(), x.value());
        }
        origin(h, partition, in.offset);
        if (stage != null) {
            h.add(ERROR_STAGE, utf8(stage));
        }
        if (reason != null) {
            h.add(ERROR_REASON, utf8(reason));
        }
        if (column != null) {
            h.add(ERROR_COLUMN, utf8(column));
        }
        context.forward(new Record<>(in.key, in.value, in.timestamp, h), children.deadLetters);
    }

    private Headers origin(Headers h, int partition, long offset) {
        h.add(ORIGIN_TOPIC, utf8(topic));
        h.add(ORIGIN_PARTITION, utf8(Integer.toString(partition)));
        h.add(ORIGIN_OFFSET, utf8(Long.toString(offset)));
        return h;
    }

    // ------------------------------------------------------------------ snapshots

    /**
     * At a commit: the operator's snapshot (taken again only if it ran since the last one) and the
     * rows buffered or waiting for an answer; null if nothing changed since the last call.
     */
    @Override
    public byte[] snapshotIfChanged() {
        if (!open || (!operatorChanged && !buffersChanged)) {
            return null;
        }
        if (operatorChanged || operatorSnapshot == null) {
            operatorSnapshot = backend.snapshot(handle);
            operatorChanged = false;
        }
        buffersChanged = false;
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(operatorSnapshot.length + 1024);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(SNAPSHOT_MAGIC);
            out.writeInt(SNAPSHOT_VERSION);
            out.writeUTF(spec.name());
            out.writeUTF(topic == null ? "" : topic);
            out.writeInt(operatorSnapshot.length);
            out.write(operatorSnapshot);
            // rows the operator holds back, then rows not handed to it yet, by partition
            Map<Integer, Row[]> parts = new TreeMap<>();
            waiting.forEach((p, m) -> parts.put(p, m.values().stream().sorted((a, b) -> Long.compare(a.offset, b.offset)).toArray(Row[]::new)));
            writeRows(out, parts);
            parts.clear();
            batches.forEach((p, b) -> parts.put(p, Arrays.copyOf(b.rows, b.size)));
            writeRows(out, parts);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void restore(byte[] saved) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(saved));
            if (in.readInt() != SNAPSHOT_MAGIC || in.readInt() != SNAPSHOT_VERSION) {
                throw new EddyException("eddy: store " + storeName + " holds no snapshot of this eddy version");
            }
            String name = in.readUTF();
            if (!name.equals(spec.name())) {
                throw new EddyException("eddy: store " + storeName + " holds a snapshot of " + name + ", but the processor runs " + spec.name());
            }
            String t = in.readUTF();
            topic = t.isEmpty() ? null : t;
            byte[] op = new byte[in.readInt()];
            in.readFully(op);
            backend.restore(handle, op);
            operatorSnapshot = op;
            readRows(in).forEach((p, rows) -> {
                Map<Long, Row> m = waiting.computeIfAbsent(p, x -> new HashMap<>());
                for (Row r : rows) {
                    m.put(r.offset, r);
                }
            });
            readRows(in).forEach((p, rows) -> {
                Batch b = batches.computeIfAbsent(p, x -> new Batch(x, batchSize));
                for (Row r : rows) {
                    b.add(r);
                }
            });
        } catch (IOException e) {
            throw new EddyException("eddy: store " + storeName + " holds a corrupt snapshot: " + e, e);
        }
    }

    private static void writeRows(DataOutputStream out, Map<Integer, Row[]> parts) throws IOException {
        out.writeInt(parts.size());
        for (Map.Entry<Integer, Row[]> e : parts.entrySet()) {
            out.writeInt(e.getKey());
            out.writeInt(e.getValue().length);
            for (Row r : e.getValue()) {
                out.writeLong(r.offset);
                out.writeLong(r.timestamp);
                writeBytes(out, r.key);
                writeBytes(out, r.value);
                out.writeInt(r.headers.length);
                for (Header h : r.headers) {
                    out.writeUTF(h.key());
                    writeBytes(out, h.value());
                }
            }
        }
    }

    private static Map<Integer, Row[]> readRows(DataInputStream in) throws IOException {
        Map<Integer, Row[]> parts = new LinkedHashMap<>();
        int np = in.readInt();
        for (int i = 0; i < np; i++) {
            int p = in.readInt();
            Row[] rows = new Row[in.readInt()];
            for (int j = 0; j < rows.length; j++) {
                long offset = in.readLong();
                long ts = in.readLong();
                byte[] key = readBytes(in);
                byte[] value = readBytes(in);
                Header[] headers = new Header[in.readInt()];
                for (int k = 0; k < headers.length; k++) {
                    String hk = in.readUTF();
                    headers[k] = new org.apache.kafka.common.header.internals.RecordHeader(hk, readBytes(in));
                }
                rows[j] = new Row(offset, ts, key, value, headers);
            }
            parts.put(p, rows);
        }
        return parts;
    }

    private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        if (b == null) {
            out.writeInt(-1);
        } else {
            out.writeInt(b.length);
            out.write(b);
        }
    }

    private static byte[] readBytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            return null;
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    // ------------------------------------------------------------------ helpers

    private static Header[] copy(Headers headers) {
        return headers == null ? new Header[0] : headers.toArray();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** One input row with what its outputs need back: key, headers, value (for dead letters). */
    private record Row(long offset, long timestamp, byte[] key, byte[] value, Header[] headers) {}

    private static final class Batch {
        final int partition;
        Row[] rows;
        int size;

        Batch(int partition, int capacity) {
            this.partition = partition;
            this.rows = new Row[capacity];
        }

        /** Grows past the batch size only for rows restored from a snapshot taken with a larger one. */
        void add(Row r) {
            if (size == rows.length) {
                rows = Arrays.copyOf(rows, size * 2);
            }
            rows[size++] = r;
        }

        void clear() {
            Arrays.fill(rows, 0, size, null);
            size = 0;
        }
    }
}
