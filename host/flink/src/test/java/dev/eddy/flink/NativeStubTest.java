package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyException;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.InputRow;
import dev.eddy.core.NativeLibrary;
import dev.eddy.core.NativeOperator;
import dev.eddy.core.OperatorBackend;
import dev.eddy.core.OperatorSpec;

/**
 * The JNI path end to end, with a C stand-in for the native library (src/test/c): loading through
 * {@code eddy.native.lib}, every native method, exceptions thrown from native code, and the
 * operator on {@link BackendFactory#NATIVE}. Skipped where no C compiler is installed.
 */
class NativeStubTest {

    private static Path library;

    @BeforeAll
    static void buildStub() throws Exception {
        Path out = Paths.get("target", "jni-stub").toAbsolutePath();
        Files.createDirectories(out);
        // 1. the header javac generates from NativeOperator.java: the contract the C code must match
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assumeTrue(javac != null, "no javac");
        int rc =
                javac.run(
                        null, null, null,
                        "-h", out.toString(),
                        "-d", out.resolve("classes").toString(),
                        "-sourcepath", "../java-core/src/main/java",
                        "-proc:none",
                        "../java-core/src/main/java/dev/eddy/core/NativeOperator.java");
        assertThat(rc).as("javac -h").isZero();
        Path header = out.resolve("dev_eddy_core_NativeOperator.h");
        assertThat(header).exists();

        // 2. the stub, compiled against that header
        Path javaHome = Paths.get(System.getProperty("java.home"));
        Path include = javaHome.resolve("include");
        assumeTrue(Files.isRegularFile(include.resolve("jni.h")), "no jni.h under " + include);
        library = out.resolve(System.mapLibraryName("eddy_jni"));
        Process gcc;
        try {
            gcc =
                    new ProcessBuilder(
                                    "cc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror",
                                    "-I", include.toString(),
                                    "-I", include.resolve("linux").toString(),
                                    "-include", header.toString(),
                                    "-o", library.toString(),
                                    "src/test/c/eddy_jni_stub.c")
                            .redirectErrorStream(true)
                            .redirectOutput(out.resolve("cc.log").toFile())
                            .start();
        } catch (java.io.IOException noCompiler) {
            assumeTrue(false, "no C compiler: " + noCompiler.getMessage());
            return;
        }
        assertThat(gcc.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(gcc.exitValue())
                .as("cc: %s", Files.readString(out.resolve("cc.log")))
                .isZero();
        System.setProperty(NativeLibrary.PATH_PROPERTY, library.toString());
    }

    @AfterAll
    static void clearProperty() {
        System.clearProperty(NativeLibrary.PATH_PROPERTY);
    }

    @Test
    void everyNativeMethodLinks() {
        OperatorBackend b = NativeOperator.backend();
        assertThat(NativeLibrary.load()).isEqualTo(library.toString());
        assertThat(b.describe("x.wasm")).contains("jni-stub");
        long h = b.open("x.wasm", "{}");
        byte[][] out =
                b.process(h, new byte[][] {bytes("7"), bytes("42")}, new long[] {1, 2}, 3, new long[] {10, 11});
        assertThat(out.length).isEqualTo(2);
        assertThat(EddyOutput.fromJson(out[1]))
                .isEqualTo(new EddyOutput("predictions", 3, 11, "{\"echo\":\"42\",\"rows\":2}"));
        byte[] state = b.snapshot(h);
        long h2 = b.open("x.wasm", "{}");
        b.restore(h2, state);
        assertThat(EddyOutput.fromJson(b.process(h2, new byte[][] {bytes("1")}, new long[] {0}, 3, new long[] {12})[0]).value)
                .isEqualTo("{\"echo\":\"1\",\"rows\":3}");
        assertThatThrownBy(() -> b.process(h2, new byte[][] {bytes("x")}, new long[] {0}, 3, new long[] {13}))
                .isInstanceOf(EddyException.class)
                .hasMessage("stub: not a digit string");
        assertThatThrownBy(() -> b.snapshot(0)).isInstanceOf(EddyException.class);
        long h3 = b.open(OperatorSpec.of("x.wasm", "{}").then("y.wasm", "{}").memoryMib(64));
        assertThat(EddyOutput.fromJson(b.process(h3, new byte[][] {bytes("5")}, new long[] {0}, 1, new long[] {0})[0]).value)
                .isEqualTo("{\"echo\":\"5\",\"rows\":1}");
        b.close(h);
        b.close(h2);
        b.close(h3);
    }

    @Test
    void theOperatorRunsOnTheNativeBackend() throws Exception {
        RecordExtractor<String> extract = s -> InputRow.of(bytes(s), 0, Long.parseLong(s));
        OperatorSubtaskState snapshot;
        try (var h = new OneInputStreamOperatorTestHarness<>(new EddyOperator<>("x.wasm", "{}", extract))) {
            h.open();
            h.processElement("1", 1);
            h.processElement("2", 2);
            h.prepareSnapshotPreBarrier(1);
            snapshot = h.snapshot(1, 3);
        }
        try (var h = new OneInputStreamOperatorTestHarness<>(new EddyOperator<>("x.wasm", "{}", extract))) {
            h.initializeState(snapshot);
            h.open();
            h.processElement("3", 3);
            h.endInput();
            List<EddyOutput> out = h.extractOutputValues();
            assertThat(out).containsExactly(new EddyOutput("predictions", 0, 3, "{\"echo\":\"3\",\"rows\":3}"));
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

}
