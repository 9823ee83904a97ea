package dev.eddy.core;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads eddy's JNI library ({@code libeddy_jni.so} / {@code eddy_jni.dll} / {@code
 * libeddy_jni.dylib}) once, from the first of:
 *
 * <ol>
 *   <li>the system property {@value #PATH_PROPERTY} (a file path),
 *   <li>the environment variable {@value #PATH_ENV} (a file path),
 *   <li>{@code java.library.path}, library name {@value #LIBRARY_NAME}.
 * </ol>
 *
 * <p>Idempotent and thread-safe. About class loaders: the JVM lets one native library file be
 * loaded by one class loader only, and binds a class's native methods only to libraries loaded by
 * that class's loader. Under Flink's child-first class loading each job gets its own loader, so
 * the recommended deployment puts the eddy jars in Flink's {@code lib/} (or adds {@code
 * dev.eddy.} to {@code classloader.parent-first-patterns.additional}) and the library is loaded
 * once per JVM. If a second loader finds the file already taken, this class loads a private copy
 * of it from a temporary file instead of failing (each copy has its own globals).
 */
public final class NativeLibrary {

    public static final String PATH_PROPERTY = "eddy.native.lib";
    public static final String PATH_ENV = "EDDY_NATIVE_LIB";
    public static final String LIBRARY_NAME = "eddy_jni";

    private static final Object LOCK = new Object();
    private static volatile String loadedFrom;

    private NativeLibrary() {}

    /** Loads the library if this class loader has not yet; returns the file it was loaded from. */
    public static String load() {
        String from = loadedFrom;
        if (from != null) {
            return from;
        }
        synchronized (LOCK) {
            if (loadedFrom == null) {
                loadedFrom = doLoad(System.getProperty(PATH_PROPERTY), System.getenv(PATH_ENV));
            }
            return loadedFrom;
        }
    }

    /** Whether {@link #load()} has succeeded in this class loader. */
    public static boolean isLoaded() {
        return loadedFrom != null;
    }

    static String doLoad(String property, String env) {
        if (notBlank(property)) {
            return loadFile(Paths.get(property.trim()), "system property " + PATH_PROPERTY);
        }
        if (notBlank(env)) {
            return loadFile(Paths.get(env.trim()), "environment variable " + PATH_ENV);
        }
        String fileName = System.mapLibraryName(LIBRARY_NAME);
        String libraryPath = System.getProperty("java.library.path", "");
        List<String> searched = new ArrayList<>();
        for (String dir : libraryPath.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Paths.get(dir, fileName);
            searched.add(candidate.toString());
            if (Files.isRegularFile(candidate)) {
                return loadFile(candidate, "java.library.path");
            }
        }
        throw new EddyNativeLoadException(
                "eddy: native library not found. Set the system property "
                        + PATH_PROPERTY
                        + " (e.g. -D"
                        + PATH_PROPERTY
                        + "=/path/to/"
                        + fileName
                        + ") or the environment variable "
                        + PATH_ENV
                        + ", or put "
                        + fileName
                        + " on java.library.path. Searched: "
                        + (searched.isEmpty() ? "(java.library.path is empty)" : searched));
    }

    private static String loadFile(Path file, String source) {
        Path abs = file.toAbsolutePath().normalize();
        if (!Files.isRegularFile(abs)) {
            throw new EddyNativeLoadException(
                    "eddy: native library not found: " + source + " points to " + abs
                            + ", which is not a file");
        }
        try {
            System.load(abs.toString());
            return abs.toString();
        } catch (UnsatisfiedLinkError e) {
            String msg = String.valueOf(e.getMessage());
            if (msg.contains("already loaded in another classloader")) {
                return loadPrivateCopy(abs, e);
            }
            throw new EddyNativeLoadException(
                    "eddy: could not load native library " + abs + " (from " + source + "): " + msg,
                    e);
        }
    }

    private static String loadPrivateCopy(Path abs, UnsatisfiedLinkError original) {
        try {
            String name = abs.getFileName().toString();
            Path copy = Files.createTempFile("eddy-jni-", "-" + name);
            copy.toFile().deleteOnExit();
            Files.copy(abs, copy, StandardCopyOption.REPLACE_EXISTING);
            System.load(copy.toString());
            return copy.toString();
        } catch (IOException | UnsatisfiedLinkError e) {
            EddyNativeLoadException ex =
                    new EddyNativeLoadException(
                            "eddy: native library "
                                    + abs
                                    + " is loaded by another class loader and a private copy"
                                    + " failed to load; put the eddy jars (eddy-core, eddy-flink) in Flink's lib/"
                                    + " folder or add 'dev.eddy.' to"
                                    + " classloader.parent-first-patterns.additional",
                            e);
            ex.addSuppressed(original);
            throw ex;
        }
    }

    private static boolean notBlank(String s) {
        return s != null && !s.isBlank();
    }
}
