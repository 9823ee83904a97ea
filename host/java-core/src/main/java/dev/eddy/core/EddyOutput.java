package dev.eddy.core;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Objects;

/**
 * One output record of an eddy operator. Public fields and a no-arg constructor, so that it is a
 * Flink POJO (it travels with Flink's own serializer).
 *
 * <p>Wire form between the backend and Java, one record per {@code byte[]}, UTF-8, in either of
 * two shapes. The native library writes a one-line JSON header, a newline, and the value as it is
 * (no escaping, so neither side spends time quoting it):
 *
 * <pre>
 * {"sink":"predictions","partition":3,"offset":41,"timestamp":1700000000000}
 * {"score":0.93}</pre>
 *
 * A backend may also write one JSON object with the value as a JSON string (the pure-Java
 * stand-ins do): {@code {"sink":"predictions","partition":3,"offset":41,"value":"{\"score\":0.93}"}}.
 * The Flink adapter's side outputs carry records in this second, all-JSON form.
 *
 * <p>{@code sink} is one of {@link #PREDICTIONS}, {@link #MODELS}, {@link #DEAD_LETTERS}; {@code
 * partition}/{@code offset} name the record: for predictions and dead letters the input row that
 * produced it, for models (from the native library) its position in the partition's sequence of
 * model versions (0, 1, ...), which is its offset in {@code eddy run}'s models sink. {@code value}
 * is the record's value (JSON text): from the native library, exactly the bytes {@code eddy run}
 * writes, once encoded as UTF-8 ({@link #valueBytes()}). The native library also writes {@code
 * timestamp} (the output's event time) and, on dead letters, {@code reason}, {@code stage} and
 * {@code column}; this class ignores fields it does not hold. A later version may carry batches as
 * Arrow IPC instead; this class would stay as it is.
 */
public class EddyOutput {

    public static final String PREDICTIONS = "predictions";
    public static final String MODELS = "models";
    public static final String DEAD_LETTERS = "dead_letters";

    public String sink;
    public int partition;
    public long offset;
    public String value;
    /**
     * The value's bytes when they are not text: Arrow IPC streams, for operators opened with
     * {@code format = "arrow"} ({@link OperatorSpec#format}); then {@link #value} is null. Null for
     * JSON values.
     */
    public byte[] bytes;

    public EddyOutput() {}

    public EddyOutput(String sink, int partition, long offset, String value) {
        this.sink = sink;
        this.partition = partition;
        this.offset = offset;
        this.value = value;
    }

    /** Parses one record in either wire form documented on this class. */
    public static EddyOutput fromJson(byte[] utf8) {
        return parseWire(utf8).output();
    }

    /** Parses one record in the all-JSON wire form (what the side outputs carry). */
    public static EddyOutput fromJson(String json) {
        return parseWire(json).output();
    }

    /**
     * A parsed wire record: the output, its event timestamp ({@link InputRow#NO_TIMESTAMP} when the
     * record carries none), and its all-JSON form.
     */
    public static final class Wire {
        private final EddyOutput output;
        private final long timestamp;
        private final String header;
        private final Map<String, Object> fields;
        private String json;

        private Wire(EddyOutput output, long timestamp, String header, Map<String, Object> fields, String json) {
            this.output = output;
            this.timestamp = timestamp;
            this.fields = fields;
            this.header = header;
            this.json = json;
        }

        public EddyOutput output() {
            return output;
        }

        /**
         * A header field as a string ({@code reason}, {@code stage}, {@code column} on dead
         * letters), or null when the record has none.
         */
        public String field(String name) {
            Object v = fields.get(name);
            return v == null || "value".equals(name) ? null : v.toString();
        }

        public long timestamp() {
            return timestamp;
        }

        /**
         * The record as one JSON object: the header's fields, then {@code value} as a string (or,
         * for a binary value, {@code valueBase64}).
         */
        public String json() {
            if (json == null) {
                StringBuilder sb = new StringBuilder(header.length() + 64);
                sb.append(header, 0, header.lastIndexOf('}'));
                appendValue(sb, output);
                json = sb.append('}').toString();
            }
            return json;
        }
    }

    /** Parses one record in either wire form, keeping the header's extra fields ({@link Wire#field}). */
    public static Wire parseWire(byte[] bytes) {
        return parseWire(bytes, false);
    }

    /**
     * Parses one record; with {@code binaryValue} (operators opened with {@code format = "arrow"})
     * the value after the header line is kept as bytes ({@link #bytes}), not decoded as text.
     */
    public static Wire parseWire(byte[] bytes, boolean binaryValue) {
        int nl = 0;
        while (nl < bytes.length && bytes[nl] != '\n') {
            nl++;
        }
        if (nl < bytes.length) {
            String header = new String(bytes, 0, nl, StandardCharsets.UTF_8);
            Map<String, Object> m = null;
            try {
                m = Json.parseObject(header);
            } catch (IllegalArgumentException notAHeader) {
                // a JSON object spread over lines: the all-JSON form
            }
            if (m != null && !m.containsKey("value") && !m.containsKey("valueBase64")) {
                if (binaryValue) {
                    m.put("valueBase64", java.util.Arrays.copyOfRange(bytes, nl + 1, bytes.length));
                } else {
                    m.put("value", new String(bytes, nl + 1, bytes.length - nl - 1, StandardCharsets.UTF_8));
                }
                return wire(m, header, null);
            }
        }
        return parseWire(new String(bytes, StandardCharsets.UTF_8));
    }

    /** Parses one record in the all-JSON wire form. */
    public static Wire parseWire(String json) {
        Map<String, Object> m;
        try {
            m = Json.parseObject(json);
        } catch (IllegalArgumentException e) {
            throw new EddyException("eddy: malformed output record: " + e.getMessage(), e);
        }
        return wire(m, json, json);
    }

    private static Wire wire(Map<String, Object> m, String header, String json) {
        Object sink = m.get("sink");
        Object partition = m.get("partition");
        Object offset = m.get("offset");
        Object value = m.get("value");
        Object raw = m.get("valueBase64");
        if (raw instanceof String b64) {
            try {
                raw = Base64.getDecoder().decode(b64);
            } catch (IllegalArgumentException e) {
                throw new EddyException("eddy: output record has a valueBase64 that is not base64: " + Json.abbreviate(header));
            }
        }
        if (!(sink instanceof String)
                || !(partition instanceof Long)
                || !(offset instanceof Long)
                || !(value instanceof String || raw instanceof byte[])) {
            throw new EddyException(
                    "eddy: output record needs string sink, integer partition and offset, string"
                            + " value: "
                            + Json.abbreviate(header));
        }
        Object ts = m.get("timestamp");
        EddyOutput out =
                new EddyOutput(
                        (String) sink, Math.toIntExact((Long) partition), (Long) offset, value instanceof String s ? s : null);
        if (raw instanceof byte[] b) {
            out.bytes = b;
        }
        return new Wire(out, ts instanceof Long ? (Long) ts : InputRow.NO_TIMESTAMP, header, m, json);
    }

    /** This record in the all-JSON wire form. */
    public String toJson() {
        StringBuilder sb = new StringBuilder(64 + (value == null ? 0 : value.length()));
        sb.append("{\"sink\":");
        Json.quoteInto(sb, sink);
        sb.append(",\"partition\":").append(partition);
        sb.append(",\"offset\":").append(offset);
        appendValue(sb, this);
        return sb.append('}').toString();
    }

    private static void appendValue(StringBuilder sb, EddyOutput o) {
        if (o.bytes != null) {
            sb.append(",\"valueBase64\":\"").append(Base64.getEncoder().encodeToString(o.bytes)).append('"');
        } else {
            sb.append(",\"value\":");
            Json.quoteInto(sb, o.value);
        }
    }

    /** The value as UTF-8 bytes: for the native library, byte for byte what {@code eddy run} writes. */
    public byte[] valueBytes() {
        return bytes != null ? bytes : value.getBytes(StandardCharsets.UTF_8);
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
                && Objects.equals(value, that.value)
                && java.util.Arrays.equals(bytes, that.bytes);
    }

    @Override
    public int hashCode() {
        return Objects.hash(sink, partition, offset, value, java.util.Arrays.hashCode(bytes));
    }

    @Override
    public String toString() {
        return toJson();
    }
}
