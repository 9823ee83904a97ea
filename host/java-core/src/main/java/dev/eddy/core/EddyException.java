package dev.eddy.core;

/**
 * An error reported by an eddy operator or by the native library. The native side throws this
 * class through JNI ({@code dev/eddy/core/EddyException}, constructor {@code (String)}) for both
 * errors and caught panics.
 */
public class EddyException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public EddyException(String message) {
        super(message);
    }

    public EddyException(String message, Throwable cause) {
        super(message, cause);
    }
}
