package dev.eddy.flink;

/**
 * The operations eddy's native library exposes to Java, one to one with the JNI methods of {@link
 * NativeOperator}. {@link EddyOperator} talks to an operator only through this interface, so tests
 * (and users without the native library) can plug in a pure-Java implementation.
 *
 * <p>Contract, shared by every implementation:
 *
 * <ul>
 *   <li>A handle is one opened operator instance (one per Flink subtask). All calls on one handle
 *       come from one thread (the Flink task thread); implementations need no locking per handle.
 *   <li>{@link #process} receives one batch of rows, all from the same input {@code partition}, in
 *       offset order; the arrays have exactly one element per row (no padding). The implementation
 *       must not keep references to the arrays after it returns.
 *   <li>{@link #process} returns the output records produced by the batch (an empty array or {@code
 *       null} for none). Each element is one UTF-8 JSON object, see {@link EddyOutput#fromJson}:
 *       <pre>{"sink":"predictions"|"models"|"dead_letters","partition":INT,"offset":LONG,"value":STRING}</pre>
 *       where {@code value} is the output record's value as JSON text inside a JSON string. The
 *       operator forwards them in the order returned.
 *   <li>{@link #snapshot} returns the complete state of the handle (all partitions it has served);
 *       {@link #restore} on a freshly opened handle brings it back to exactly that state.
 *   <li>Errors are thrown as {@link EddyException} (the native side throws it through JNI).
 * </ul>
 */
public interface OperatorBackend {

    /** Opens an instance of the operator compiled to the WebAssembly component at the path. */
    long open(String componentPath, String configJson);

    /**
     * Runs one batch (predict, then learn, row by row) and returns the records it produced, each a
     * serialized JSON object as documented on this interface.
     */
    byte[][] process(
            long handle, byte[][] values, long[] timestamps, int partition, long[] offsets);

    /** The complete state of the instance, to be stored in a Flink checkpoint. */
    byte[] snapshot(long handle);

    /** Brings a freshly opened instance back to a state taken by {@link #snapshot}. */
    void restore(long handle, byte[] state);

    /** Releases the instance; the handle is invalid afterwards. */
    void close(long handle);

    /** A JSON description of the component (name, version, config schema, sinks), for tooling. */
    String describe(String componentPath);
}
