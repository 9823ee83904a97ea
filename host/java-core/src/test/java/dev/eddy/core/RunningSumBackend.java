package dev.eddy.core;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pure-Java stand-in for the native library: an "operator" keeping a running sum per partition.
 *
 * <p>Each row's value is a decimal integer as UTF-8 text. For a valid row it emits the prediction
 * {@code {"sum":S,"count":C}} (after adding the row), and every {@code model_every} rows of a
 * partition (config, default 100) a model record {@code {"partition":P,"sum":S,"count":C}}. A row
 * that is not an integer becomes a dead letter {@code {"error":"not an integer","raw":"..."}}. The
 * snapshot is exactly the per-partition (sum, count) table, so a restored run continues the same
 * sums: this is what makes exactly-once checkable.
 */
public class RunningSumBackend implements OperatorBackend {

    /** How many times restore() was called with a non-empty state, JVM-wide (for tests). */
    public static final AtomicInteger RESTORES = new AtomicInteger();
    /** Rows covered by the states restored, JVM-wide (for tests). */
    public static final AtomicLong RESTORED_ROWS = new AtomicLong();
    /** process() calls and rows, JVM-wide (for tests). */
    public static final AtomicInteger PROCESS_CALLS = new AtomicInteger();

    private static final AtomicLong NEXT_HANDLE = new AtomicLong(1);

    private final Map<Long, Instance> instances = new HashMap<>();

    public static void resetCounters() {
        RESTORES.set(0);
        RESTORED_ROWS.set(0);
        PROCESS_CALLS.set(0);
    }

    private static final class Instance {
        final long modelEvery;
        final TreeMap<Integer, long[]> sums = new TreeMap<>(); // partition -> {sum, count}

        Instance(long modelEvery) {
            this.modelEvery = modelEvery;
        }
    }

    private Instance instance(long handle) {
        Instance i = instances.get(handle);
        if (i == null) {
            throw new EddyException("running-sum: unknown handle " + handle);
        }
        return i;
    }

    @Override
    public long open(String componentPath, String configJson) {
        Object every = Json.parseObject(configJson).getOrDefault("model_every", 100L);
        long handle = NEXT_HANDLE.getAndIncrement();
        instances.put(handle, new Instance(((Number) every).longValue()));
        return handle;
    }

    @Override
    public byte[][] process(
            long handle, byte[][] values, long[] timestamps, int partition, long[] offsets) {
        if (values.length != timestamps.length || values.length != offsets.length) {
            throw new EddyException("running-sum: arrays of different lengths");
        }
        PROCESS_CALLS.incrementAndGet();
        Instance inst = instance(handle);
        long[] acc = inst.sums.computeIfAbsent(partition, p -> new long[2]);
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < values.length; i++) {
            String text = new String(values[i], StandardCharsets.UTF_8);
            long x;
            try {
                x = Long.parseLong(text.trim());
            } catch (NumberFormatException e) {
                String dead =
                        "{\"error\":\"not an integer\",\"raw\":" + Json.quote(text) + "}";
                out.add(new EddyOutput(EddyOutput.DEAD_LETTERS, partition, offsets[i], dead)
                        .toJsonBytes());
                continue;
            }
            acc[0] += x;
            acc[1] += 1;
            String prediction = "{\"sum\":" + acc[0] + ",\"count\":" + acc[1] + "}";
            out.add(new EddyOutput(EddyOutput.PREDICTIONS, partition, offsets[i], prediction)
                    .toJsonBytes());
            if (acc[1] % inst.modelEvery == 0) {
                String model =
                        "{\"partition\":" + partition + ",\"sum\":" + acc[0] + ",\"count\":"
                                + acc[1] + "}";
                out.add(new EddyOutput(EddyOutput.MODELS, partition, offsets[i], model)
                        .toJsonBytes());
            }
        }
        return out.toArray(new byte[0][]);
    }

    @Override
    public byte[] snapshot(long handle) {
        Instance inst = instance(handle);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(inst.sums.size());
            for (Map.Entry<Integer, long[]> e : inst.sums.entrySet()) {
                out.writeInt(e.getKey());
                out.writeLong(e.getValue()[0]);
                out.writeLong(e.getValue()[1]);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    @Override
    public void restore(long handle, byte[] state) {
        Instance inst = instance(handle);
        inst.sums.clear();
        long rows = 0;
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state))) {
            int n = in.readInt();
            for (int i = 0; i < n; i++) {
                int partition = in.readInt();
                long sum = in.readLong();
                long count = in.readLong();
                inst.sums.put(partition, new long[] {sum, count});
                rows += count;
            }
        } catch (IOException e) {
            throw new EddyException("running-sum: corrupt state", e);
        }
        if (!inst.sums.isEmpty()) {
            RESTORES.incrementAndGet();
            RESTORED_ROWS.addAndGet(rows);
        }
    }

    @Override
    public void close(long handle) {
        instances.remove(handle);
    }

    @Override
    public String describe(String componentPath) {
        return "{\"name\":\"running-sum\",\"sinks\":[\"predictions\",\"models\",\"dead_letters\"]}";
    }
}
