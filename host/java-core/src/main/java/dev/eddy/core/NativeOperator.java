package dev.eddy.core;

/**
 * Java facade of the native eddy operator: the JNI surface the native library implements.
 *
 * <p>The native methods below are implemented in Rust (crate built as a cdylib named {@value
 * NativeLibrary#LIBRARY_NAME}) with the standard JNI names, e.g. {@code
 * Java_dev_eddy_core_NativeOperator_process}; their descriptors are
 *
 * <pre>
 * open     (Ljava/lang/String;Ljava/lang/String;)J
 * openSpec (Ljava/lang/String;)J                     (an {@link OperatorSpec} as JSON)
 * process  (J[[B[JI[J)[[B
 * finish   (J)[[B
 * snapshot (J)[B
 * restore  (J[B)V
 * close    (J)V
 * describe (Ljava/lang/String;)Ljava/lang/String;
 * </pre>
 *
 * Semantics are those of {@link OperatorBackend}; errors and panics come back as {@link
 * EddyException}. Call them through {@link #backend()}, which loads the library first.
 */
public final class NativeOperator {

    private NativeOperator() {}

    /**
     * Loads the native library (see {@link NativeLibrary}) and returns a backend calling it.
     *
     * @throws EddyNativeLoadException if the library cannot be found or loaded
     */
    public static OperatorBackend backend() {
        NativeLibrary.load();
        return JniBackend.INSTANCE;
    }

    static native long open(String componentPath, String configJson);

    static native long openSpec(String specJson);

    static native byte[][] process(
            long handle, byte[][] values, long[] timestamps, int partition, long[] offsets);

    static native byte[][] finish(long handle);

    static native byte[] snapshot(long handle);

    static native void restore(long handle, byte[] state);

    static native void close(long handle);

    static native String describe(String componentPath);

    /** Stateless: all state lives behind the handles, in the native library. */
    private static final class JniBackend implements OperatorBackend {
        static final JniBackend INSTANCE = new JniBackend();

        @Override
        public long open(String componentPath, String configJson) {
            return NativeOperator.open(componentPath, configJson);
        }

        @Override
        public long open(OperatorSpec spec) {
            return NativeOperator.openSpec(spec.toJson());
        }

        @Override
        public byte[][] process(
                long handle, byte[][] values, long[] timestamps, int partition, long[] offsets) {
            return NativeOperator.process(handle, values, timestamps, partition, offsets);
        }

        @Override
        public byte[][] finish(long handle) {
            return NativeOperator.finish(handle);
        }

        @Override
        public byte[] snapshot(long handle) {
            return NativeOperator.snapshot(handle);
        }

        @Override
        public void restore(long handle, byte[] state) {
            NativeOperator.restore(handle, state);
        }

        @Override
        public void close(long handle) {
            NativeOperator.close(handle);
        }

        @Override
        public String describe(String componentPath) {
            return NativeOperator.describe(componentPath);
        }

        @Override
        public String toString() {
            return "NativeOperator(" + NativeLibrary.load() + ")";
        }
    }
}
