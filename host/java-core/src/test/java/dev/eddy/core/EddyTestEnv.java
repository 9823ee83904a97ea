package dev.eddy.core;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Where the Rust side is, for tests that run real operators: the native library, the {@code eddy}
 * binary, the repository and its shared folder. Maven passes the paths as system properties (see
 * pom.xml; build-and-test.sh builds them). When a piece is missing, the test is skipped, unless
 * {@code eddy.test.native.required} is true (as in CI), where it fails.
 */
public final class EddyTestEnv {

    private EddyTestEnv() {}

    /** The repository root. */
    public static Path repo() {
        return Paths.get(System.getProperty("eddy.test.repo", "../..")).toAbsolutePath().normalize();
    }

    /** {@code ../shared} beside the repository (conformance cases). */
    public static Path shared() {
        return repo().resolve("..").resolve("shared").normalize();
    }

    /** The FTRL component file, the same bytes for {@code eddy run} and the adapters. */
    public static Path ftrlComponent() {
        return require(repo().resolve("target/guests/wasm32-wasip2/guest/eddy_ftrl.wasm"), "the FTRL component");
    }

    /** The {@code eddy} binary. */
    public static Path eddyBinary() {
        return require(Paths.get(System.getProperty("eddy.test.bin", "../../target/debug/eddy")), "the eddy binary");
    }

    /** Loads the real native library (once per JVM) and returns its backend. */
    public static OperatorBackend nativeBackend() {
        Path lib =
                require(
                        Paths.get(System.getProperty("eddy.test.native.lib", "../../target/debug/libeddy_jni.so")),
                        "the native library");
        if (!NativeLibrary.isLoaded()) {
            System.setProperty(NativeLibrary.PATH_PROPERTY, lib.toString());
        }
        return NativeOperator.backend();
    }

    public static Path require(Path p, String what) {
        Path abs = p.toAbsolutePath().normalize();
        if (!Files.exists(abs)) {
            String msg =
                    what + " is missing at " + abs + ": run host/flink/build-and-test.sh or host/kafka-streams/build-and-test.sh (or cargo build -p eddy-jni -p eddy)";
            if (Boolean.getBoolean("eddy.test.native.required")) {
                fail(msg);
            }
            assumeTrue(false, msg);
        }
        return abs;
    }
}
