package dev.eddy.flink;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;

/**
 * One output record of an eddy operator. A Flink POJO (public fields, no-arg constructor), so it
 * travels with Flink's own serializer.
 *
 * <p>Wire form between the backend and Java (one record per {@code byte[]}, UTF-8):
 *
 * <pre>{"sink":"predictions","partition":3,"offset":41,"value":"{\"score\":0.93}"}</pre>
 *
 * {@code sink} is one of {@link #PREDICTIONS}, {@link #MODELS}, {@link #DEAD_LETTERS}; {@code
 * partition}/{@code offset} name the input row that produced the record; {@code value} is the
 * record's value (itself JSON text) as a JSON string. A later version may carry batches as Arrow
 * IPC instead; this class and {@link EddyOperator}'s outputs would stay as they are.
 */
public class EddyOutput {

    public static final String PREDICTIONS = "predictions";
    public static final String MODELS = "models";
    public static final String DEAD_LETTERS = "dead_letters";

    public String sink;
    public int partition;
    public long offset;
    public String value;

    public EddyOutput() {}

    public EddyOutput(String sink, int partition, long offset, String value) {
        this.sink = sink;
        this.partition = partition;
        this.offset = offset;
        this.value = value;
    }

    /** Parses one record in the wire form documented on this class. */
    public static EddyOutput fromJson(byte[] utf8) {
        return fromJson(new String(utf8, StandardCharsets.UTF_8));
    }

    /** Parses one record in the wire form documented on this class. */
    public static EddyOutput fromJson(String json) {
        Map<String, Object> m;
        try {
            m = Json.parseObject(json);
        } catch (IllegalArgumentException e) {
            throw new EddyException("eddy: malformed output record: " + e.getMessage(), e);
        }
        Object sink = m.get("sink");
        Object partition = m.get("partition");
        Object offset = m.get("offset");
        Object value = m.get("value");
        if (!(sink instanceof String)
                || !(partition instanceof Long)
                || !(offset instanceof Long)
                || !(value instanceof String)) {
            throw new EddyException(
                    "eddy: output record needs string sink, integer partition and offset, string"
                            + " value: "
                            + Json.abbreviate(json));
        }
        return new EddyOutput(
                (String) sink,
                Math.toIntExact((Long) partition),
                (Long) offset,
                (String) value);
    }

    /** This record in the wire form. */
    public String toJson() {
        StringBuilder sb = new StringBuilder(64 + (value == null ? 0 : value.length()));
        sb.append("{\"sink\":");
        Json.quoteInto(sb, sink);
        sb.append(",\"partition\":").append(partition);
        sb.append(",\"offset\":").append(offset);
        sb.append(",\"value\":");
        Json.quoteInto(sb, value);
        return sb.append('}').toString();
    }

    public byte[] toJsonBytes() {
        return toJson().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof EddyOutput)) {
            return false;
        }
        EddyOutput that = (EddyOutput) o;
        return partition == that.partition
                && offset == that.offset
                && Objects.equals(sink, that.sink)
                && Objects.equals(value, that.value);
    }

    @Override
    public int hashCode() {
        return Objects.hash(sink, partition, offset, value);
    }

    @Override
    public String toString() {
        return toJson();
    }
}
