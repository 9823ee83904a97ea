package dev.eddy.flink;

import java.io.Serializable;

/**
 * Creates the {@link OperatorBackend} an {@link EddyOperator} uses. It is shipped to the task
 * managers with the job graph, hence serializable; {@link #NATIVE} is the production choice.
 */
@FunctionalInterface
public interface BackendFactory extends Serializable {

    /** The native library loaded through JNI (see {@link NativeLibrary}). */
    BackendFactory NATIVE = NativeOperator::backend;

    OperatorBackend create();
}
