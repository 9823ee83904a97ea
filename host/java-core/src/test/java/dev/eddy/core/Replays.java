package dev.eddy.core;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;

/**
 * Reads eddy's replay files (Arrow IPC files, one row per Kafka record: topic, partition, offset,
 * timestamp, key, value, headers) with Arrow Java, byte for byte: what {@code eddy run} read or
 * wrote, without going through eddy.
 */
public final class Replays {

    private Replays() {}

    /** One record of a replay file. */
    public record Rec(
            String topic,
            int partition,
            long offset,
            long timestamp,
            byte[] key,
            byte[] value,
            Map<String, String> headers) {

        /** The offset of the input record this output answers ({@code eddy.origin.offset}). */
        public long originOffset() {
            return Long.parseLong(headers.get("eddy.origin.offset"));
        }

        public String valueText() {
            return new String(value, StandardCharsets.UTF_8);
        }
    }

    /** Every record, in file order. */
    public static List<Rec> read(Path file) {
        List<Rec> out = new ArrayList<>();
        try (BufferAllocator alloc = new RootAllocator();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
                ArrowFileReader reader = new ArrowFileReader(ch, alloc)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            for (ArrowBlock block : reader.getRecordBlocks()) {
                reader.loadRecordBatch(block);
                VarCharVector topic = (VarCharVector) root.getVector("topic");
                IntVector partition = (IntVector) root.getVector("partition");
                BigIntVector offset = (BigIntVector) root.getVector("offset");
                BigIntVector timestamp = (BigIntVector) root.getVector("timestamp");
                VarBinaryVector key = (VarBinaryVector) root.getVector("key");
                VarBinaryVector value = (VarBinaryVector) root.getVector("value");
                ListVector headers = (ListVector) root.getVector("headers");
                StructVector entries = (StructVector) headers.getDataVector();
                VarCharVector hk = (VarCharVector) entries.getChild("key");
                VarBinaryVector hv = (VarBinaryVector) entries.getChild("value");
                for (int i = 0; i < root.getRowCount(); i++) {
                    Map<String, String> h = new LinkedHashMap<>();
                    if (!headers.isNull(i)) {
                        for (int j = headers.getElementStartIndex(i); j < headers.getElementEndIndex(i); j++) {
                            h.put(
                                    new String(hk.get(j), StandardCharsets.UTF_8),
                                    hv.isNull(j) ? null : new String(hv.get(j), StandardCharsets.UTF_8));
                        }
                    }
                    out.add(
                            new Rec(
                                    new String(topic.get(i), StandardCharsets.UTF_8),
                                    partition.get(i),
                                    offset.get(i),
                                    timestamp.get(i),
                                    key.isNull(i) ? null : key.get(i),
                                    value.get(i),
                                    h));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read replay " + file, e);
        }
        return out;
    }
}
