package dev.eddy.core;

/**
 * The operations eddy's native library exposes to Java, one to one with the JNI methods of {@link
 * NativeOperator}. The adapters (Flink's {@code EddyOperator}, the Kafka Streams {@code EddyProcessor}) talk to an
 * operator only through this interface, so tests
 * (and users without the native library) can plug in a pure-Java implementation.
 *
 * <p>Contract, shared by every implementation:
 *
 * <ul>
 *   <li>A handle is one opened operator instance (one per Flink subtask, one per Kafka Streams
 *       task). All calls on one handle come from one thread (the task's thread); implementations need no locking per handle.
 *   <li>{@link #process} receives one batch of rows, all from the same input {@code partition}, in
 *       offset order; the arrays have exactly one element per row (no padding). The implementation
 *       must not keep references to the arrays after it returns.
 *   <li>{@link #process} returns the output records produced by the batch (an empty array or {@code
 *       null} for none), each in one of the two wire forms of {@link EddyOutput}: a one-line JSON
 *       header and the raw value after a newline (what the native library writes), or one JSON
 *       object with the value as a string field:
 *       <pre>{"sink":"predictions"|"models"|"dead_letters","partition":INT,"offset":LONG,"value":STRING}</pre>
 *       For the native library the value is exactly the bytes {@code eddy run} writes as that
 *       record's value. An optional {@code "timestamp":LONG} gives the output's event timestamp
 *       (otherwise the input row's named by partition and offset is used); other fields (dead
 *       letters carry {@code reason}, {@code stage}, {@code column}) are passed through to the side
 *       outputs. The operator forwards the records in the order returned.
 *   <li>{@link #finish} is called once, when the input has ended, after every row was processed;
 *       it returns what the operator was still holding back (as {@link #process} does).
 *   <li>{@link #snapshot} returns the complete state of the handle (all partitions it has served);
 *       {@link #restore} on a freshly opened handle brings it back to exactly that state.
 *   <li>Errors are thrown as {@link EddyException} (the native side throws it through JNI).
 * </ul>
 */
public interface OperatorBackend {

    /** Opens an instance of the operator compiled to the WebAssembly component at the path. */
    long open(String componentPath, String configJson);

    /**
     * Opens what the spec names: one operator or a chain, with its limits. The default handles a
     * single operator with default limits through {@link #open(String, String)} and refuses the
     * rest; the native backend runs all of it.
     */
    default long open(OperatorSpec spec) {
        if (spec.isSingleWithDefaults()) {
            OperatorSpec.Stage s = spec.stages().get(0);
            return open(s.component(), s.configJson());
        }
        throw new EddyException(
                "eddy: backend " + this + " runs one operator with the default limits, not " + spec.toJson());
    }

    /**
     * Runs one batch (predict, then learn, row by row) and returns the records it produced, in a
     * wire form documented on this interface.
     */
    byte[][] process(
            long handle, byte[][] values, long[] timestamps, int partition, long[] offsets);

    /**
     * Signals the end of the input (the end-of-input watermark {@code eddy run} sends after the
     * last record) and returns the records it released. The default returns none, for backends
     * that never hold rows back.
     */
    default byte[][] finish(long handle) {
        return null;
    }

    /** The complete state of the instance, to be stored in a Flink checkpoint or a state store. */
    byte[] snapshot(long handle);

    /** Brings a freshly opened instance back to a state taken by {@link #snapshot}. */
    void restore(long handle, byte[] state);

    /** Releases the instance; the handle is invalid afterwards. */
    void close(long handle);

    /** A JSON description of the component (name, version, config schema, sinks), for tooling. */
    String describe(String componentPath);
}
