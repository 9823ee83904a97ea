package dev.eddy.core;

/** The native library could not be found or loaded; the message says where it was looked for. */
public class EddyNativeLoadException extends EddyException {
    private static final long serialVersionUID = 1L;

    public EddyNativeLoadException(String message) {
        super(message);
    }

    public EddyNativeLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
