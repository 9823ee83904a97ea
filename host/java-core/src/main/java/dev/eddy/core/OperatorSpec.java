package dev.eddy.core;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What an adapter opens: one operator or a chain of them (a job file's {@code [operator]} or
 * {@code [[operators]]}, each a component and its config), with the sandbox limits ({@code
 * [limits]}) and the rows per call into the operators ({@code run.batch_size}; results never
 * depend on it). Immutable and serializable (Flink ships it with the job graph).
 *
 * <pre>{@code
 * OperatorSpec chain = OperatorSpec.of("scaler", "{\"inputCol\":[\"a\",\"b\"],\"outputCol\":\"scaled\"}")
 *         .then("softmax-regression", "{\"featuresCol\":\"scaled\",\"labelCol\":\"y\"}")
 *         .memoryMib(256)
 *         .callTimeoutMs(5_000);
 * }</pre>
 */
public final class OperatorSpec implements Serializable {
    private static final long serialVersionUID = 1L;

    /** One operator of the chain: a component file, or the name of an operator eddy ships. */
    public record Stage(String component, String configJson) implements Serializable {
        public Stage {
            Objects.requireNonNull(component, "component");
            configJson = configJson == null || configJson.isBlank() ? "{}" : configJson;
        }
    }

    private final List<Stage> stages;
    private final String format;
    private final Long memoryMib;
    private final Long callTimeoutMs;
    private final Integer batchRows;

    private OperatorSpec(List<Stage> stages, String format, Long memoryMib, Long callTimeoutMs, Integer batchRows) {
        this.stages = List.copyOf(stages);
        this.format = format;
        this.memoryMib = memoryMib;
        this.callTimeoutMs = callTimeoutMs;
        this.batchRows = batchRows;
    }

    /** One operator with its config (a JSON object; null means {@code {}}). */
    public static OperatorSpec of(String component, String configJson) {
        return new OperatorSpec(List.of(new Stage(component, configJson)), "json", null, null, null);
    }

    /** This chain with one more operator after the last: it reads the row with their outputs added. */
    public OperatorSpec then(String component, String configJson) {
        List<Stage> more = new ArrayList<>(stages);
        more.add(new Stage(component, configJson));
        return new OperatorSpec(more, format, memoryMib, callTimeoutMs, batchRows);
    }

    /** Most linear memory one operator instance may hold (default 512 MiB). */
    public OperatorSpec memoryMib(long mib) {
        if (mib < 1) {
            throw new IllegalArgumentException("memoryMib must be at least 1: " + mib);
        }
        return new OperatorSpec(stages, format, mib, callTimeoutMs, batchRows);
    }

    /** Longest one call into an operator may run (default 30,000 ms). */
    public OperatorSpec callTimeoutMs(long ms) {
        if (ms < 1) {
            throw new IllegalArgumentException("callTimeoutMs must be at least 1: " + ms);
        }
        return new OperatorSpec(stages, format, memoryMib, ms, batchRows);
    }

    /**
     * Rows per call into the operators inside the native library (default 4096, {@code
     * run.batch_size}); the adapters' own batch size bounds it too. Results do not depend on it.
     */
    public OperatorSpec batchRows(int rows) {
        if (rows < 1) {
            throw new IllegalArgumentException("batchRows must be at least 1: " + rows);
        }
        return new OperatorSpec(stages, format, memoryMib, callTimeoutMs, rows);
    }

    /**
     * How record values are encoded ({@code source.format}): {@code "json"} (the default), one JSON
     * object per record, or {@code "arrow"}, an Arrow IPC stream of one or more rows per record;
     * predictions are then Arrow IPC streams too ({@link EddyOutput#bytes}).
     */
    public OperatorSpec format(String format) {
        if (!"json".equals(format) && !"arrow".equals(format)) {
            throw new IllegalArgumentException("format must be \"json\" or \"arrow\": " + format);
        }
        return new OperatorSpec(stages, format, memoryMib, callTimeoutMs, batchRows);
    }

    /** Whether values (and predictions) are Arrow IPC streams rather than JSON. */
    public boolean isArrow() {
        return "arrow".equals(format);
    }

    public List<Stage> stages() {
        return stages;
    }

    /** The first operator's component, for names and uids. */
    public String component() {
        return stages.get(0).component();
    }

    /** One operator with the default limits and batch rows: what {@link OperatorBackend#open} takes. */
    public boolean isSingleWithDefaults() {
        return stages.size() == 1 && !isArrow() && memoryMib == null && callTimeoutMs == null && batchRows == null;
    }

    /** A short name: the components joined with " | ". */
    public String name() {
        StringBuilder sb = new StringBuilder();
        for (Stage s : stages) {
            sb.append(sb.length() == 0 ? "" : " | ").append(s.component());
        }
        return sb.toString();
    }

    /** The JSON the native library's {@code openSpec} reads. */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{\"operators\":[");
        for (int i = 0; i < stages.size(); i++) {
            Stage s = stages.get(i);
            sb.append(i == 0 ? "" : ",").append("{\"component\":");
            Json.quoteInto(sb, s.component());
            sb.append(",\"config\":").append(s.configJson()).append('}');
        }
        sb.append("],\"format\":\"").append(format).append("\",\"limits\":{");
        String sep = "";
        if (memoryMib != null) {
            sb.append("\"memory_mib\":").append(memoryMib);
            sep = ",";
        }
        if (callTimeoutMs != null) {
            sb.append(sep).append("\"call_timeout_ms\":").append(callTimeoutMs);
        }
        sb.append('}');
        if (batchRows != null) {
            sb.append(",\"batch_rows\":").append(batchRows);
        }
        return sb.append('}').toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OperatorSpec that && toJson().equals(that.toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return toJson();
    }
}
