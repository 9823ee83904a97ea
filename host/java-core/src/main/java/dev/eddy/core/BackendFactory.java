package dev.eddy.core;

import java.io.Serializable;

/**
 * Creates the {@link OperatorBackend} an adapter (the Flink operator, the Kafka Streams processor)
 * uses. Serializable, since Flink ships it to the task managers with the job graph; {@link #NATIVE}
 * is the production choice.
 */
@FunctionalInterface
public interface BackendFactory extends Serializable {

    /** The native library loaded through JNI (see {@link NativeLibrary}). */
    BackendFactory NATIVE = NativeOperator::backend;

    OperatorBackend create();
}
