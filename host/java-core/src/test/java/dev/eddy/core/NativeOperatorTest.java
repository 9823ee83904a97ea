package dev.eddy.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The real native library through JNI, without Flink: every method, errors and panics as {@link
 * EddyException}, bad handles, and snapshot/restore continuing bit for bit.
 */
class NativeOperatorTest {

    static final String FTRL_CONFIG =
            "{\"featuresCol\":[\"x0\",\"x1\"],\"labelCol\":\"y\",\"globalBatchSize\":4,\"alpha\":0.5}";

    static OperatorBackend backend;

    @BeforeAll
    static void load() {
        backend = EddyTestEnv.nativeBackend();
    }

    static byte[] row(int i) {
        double x0 = (i * 37 % 11) / 10.0;
        double x1 = (i * 17 % 7) / 3.0;
        int y = (x0 + x1 > 1.5) ? 1 : 0;
        return ("{\"x0\":" + x0 + ",\"x1\":" + x1 + ",\"y\":" + y + "}").getBytes(StandardCharsets.UTF_8);
    }

    /** Rows [from, to) of one partition, offsets = row numbers. */
    static byte[][] process(OperatorBackend b, long h, int partition, int from, int to) {
        int n = to - from;
        byte[][] values = new byte[n][];
        long[] ts = new long[n];
        long[] offsets = new long[n];
        for (int i = 0; i < n; i++) {
            values[i] = row(from + i + 1000 * partition);
            ts[i] = from + i;
            offsets[i] = from + i;
        }
        return b.process(h, values, ts, partition, offsets);
    }

    static List<String> text(byte[][] records) {
        List<String> out = new ArrayList<>();
        for (byte[] r : records) {
            out.add(new String(r, StandardCharsets.UTF_8));
        }
        return out;
    }

    @Test
    void describesAShippedOperator() {
        Map<String, Object> d = Json.parseObject(backend.describe("ftrl"));
        assertThat(d).containsEntry("name", "OnlineLogisticRegression").containsEntry("kind", "classifier");
        assertThat(d.get("params").toString()).contains("globalBatchSize");
        assertThat(d.get("sinks")).isEqualTo(List.of("predictions", "models", "dead_letters"));
        assertThat(Json.parseObject(backend.describe(EddyTestEnv.ftrlComponent().toString())).get("name"))
                .isEqualTo("OnlineLogisticRegression");
    }

    @Test
    void scoresAndLearnsPerPartition() {
        long h = backend.open("ftrl", FTRL_CONFIG);
        try {
            List<EddyOutput> out = new ArrayList<>();
            for (byte[] r : process(backend, h, 3, 0, 10)) {
                out.add(EddyOutput.fromJson(r));
            }
            List<EddyOutput> predictions = out.stream().filter(o -> o.sink.equals(EddyOutput.PREDICTIONS)).toList();
            List<EddyOutput> models = out.stream().filter(o -> o.sink.equals(EddyOutput.MODELS)).toList();
            assertThat(predictions).extracting(o -> o.offset).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
            assertThat(predictions).allSatisfy(o -> assertThat(o.partition).isEqualTo(3));
            // The input record's own fields, in its order, then the operator's outputs.
            assertThat(predictions.get(0).value).startsWith("{\"x0\":").contains(",\"prediction\":").endsWith(",\"modelVersion\":0}");
            // two global batches of 4: models numbered per partition from 0
            assertThat(models).extracting(o -> o.offset).containsExactly(0L, 1L);
            assertThat(models.get(1).value).contains("\"modelVersion\":2");
            // the timestamp rides along
            assertThat(EddyOutput.parseWire(process(backend, h, 3, 10, 11)[0]).timestamp()).isEqualTo(10);
            assertThat(backend.finish(h)).isEmpty();
        } finally {
            backend.close(h);
        }
    }

    /**
     * A snapshot taken mid-stream restores into a fresh handle that then produces exactly what the
     * original does, for every partition it served, and snapshots to the same bytes.
     */
    @Test
    void restoresBitForBit() {
        long a = backend.open("ftrl", FTRL_CONFIG);
        long b = backend.open("ftrl", FTRL_CONFIG);
        try {
            process(backend, a, 0, 0, 7);
            process(backend, a, 5, 0, 3);
            backend.restore(b, backend.snapshot(a));
            for (int[] step : new int[][] {{0, 7, 20}, {5, 3, 9}, {1, 0, 6}}) {
                assertThat(text(process(backend, b, step[0], step[1], step[2])))
                        .isEqualTo(text(process(backend, a, step[0], step[1], step[2])));
            }
            assertThat(backend.snapshot(b)).isEqualTo(backend.snapshot(a));
        } finally {
            backend.close(a);
            backend.close(b);
        }
    }

    /**
     * {@code openSpec}: the call time limit is the spec's (an endless loop is cut after 300 ms, not
     * the default 30 s, and the row becomes a dead letter naming the limit), and a chain runs its
     * operators in order (the second reads the first's output column).
     */
    @Test
    void openSpecAppliesLimitsAndRunsChains() {
        long loop = backend.open(OperatorSpec.of("hostile", "{\"mode\":\"loop\"}").callTimeoutMs(300).memoryMib(64));
        try {
            long start = System.nanoTime();
            byte[][] out = backend.process(loop, new byte[][] {"{\"x\":1.0}".getBytes(StandardCharsets.UTF_8)}, new long[] {1}, 0, new long[] {0});
            long ms = (System.nanoTime() - start) / 1_000_000;
            assertThat(ms).as("cut by the spec's 300 ms limit, not the default 30 s").isLessThan(10_000);
            EddyOutput.Wire dead = EddyOutput.parseWire(out[0]);
            assertThat(dead.output().sink).isEqualTo(EddyOutput.DEAD_LETTERS);
            assertThat(dead.field("reason")).contains("300");
        } finally {
            backend.close(loop);
        }
        String scaler = "{\"inputCol\":[\"x0\",\"x1\"],\"outputCol\":\"scaled\",\"windows\":{\"countTumbling\":1}}";
        long chain = backend.open(OperatorSpec.of("scaler", scaler).then("ftrl", "{\"featuresCol\":\"scaled\",\"labelCol\":\"y\"}").batchRows(3));
        try {
            List<EddyOutput> predictions =
                    Arrays.stream(process(backend, chain, 0, 0, 10)).map(EddyOutput::fromJson).filter(o -> o.sink.equals(EddyOutput.PREDICTIONS)).toList();
            assertThat(predictions).hasSize(10);
            assertThat(predictions.get(9).value).contains("\"scaled\":[").contains("\"prediction\":");
        } finally {
            backend.close(chain);
        }
        assertThatThrownBy(() -> backend.open(OperatorSpec.of("ftrl", FTRL_CONFIG).then("no-such-operator", "{}")))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("no-such-operator");
    }

    @Test
    void aPoisonRecordIsADeadLetterAndTheRestIsAnswered() {
        long h = backend.open("hostile", "{\"mode\":\"poison\"}");
        try {
            byte[][] rows = {
                "{\"x\":1.0}".getBytes(StandardCharsets.UTF_8),
                "{\"x\":666.0}".getBytes(StandardCharsets.UTF_8),
                "{\"x\":2.0}".getBytes(StandardCharsets.UTF_8)
            };
            byte[][] out = backend.process(h, rows, new long[] {1, 2, 3}, 0, new long[] {10, 11, 12});
            List<Map<String, Object>> all = Arrays.stream(out).map(b -> Json.parseObject(EddyOutput.parseWire(b).json())).toList();
            List<Map<String, Object>> dead = all.stream().filter(m -> m.get("sink").equals("dead_letters")).toList();
            assertThat(dead).hasSize(1);
            assertThat(dead.get(0)).containsEntry("offset", 11L);
            assertThat((String) dead.get(0).get("reason")).contains("poisoned by x = 666").contains("fresh instance");
            assertThat(all.stream().filter(m -> m.get("sink").equals("predictions"))).hasSize(2);
        } finally {
            backend.close(h);
        }
    }

    @Test
    void aBadRecordIsADeadLetterWithItsReason() {
        long h = backend.open("ftrl", FTRL_CONFIG);
        try {
            byte[][] out =
                    backend.process(
                            h,
                            new byte[][] {row(1), "not json".getBytes(StandardCharsets.UTF_8), "{\"x0\":1}".getBytes(StandardCharsets.UTF_8)},
                            new long[] {1, 2, 3},
                            0,
                            new long[] {10, 11, 12});
            // as the dead-letter side output carries them: one JSON object each
            List<Map<String, Object>> dead =
                    Arrays.stream(out)
                            .map(b -> Json.parseObject(EddyOutput.parseWire(b).json()))
                            .filter(m -> m.get("sink").equals("dead_letters"))
                            .toList();
            assertThat(dead).hasSize(2);
            assertThat(dead.get(0)).containsEntry("offset", 11L).containsEntry("value", "not json").containsEntry("stage", "decode");
            assertThat(dead.get(1)).containsEntry("offset", 12L).containsEntry("column", "x1");
            assertThat((String) dead.get(1).get("reason")).isNotBlank();
            assertThat(Arrays.stream(out).filter(b -> EddyOutput.fromJson(b).sink.equals("predictions"))).hasSize(1);
        } finally {
            backend.close(h);
        }
    }

    @Test
    void errorsAreEddyExceptionsWithTheOperatorsMessage() {
        assertThatThrownBy(() -> backend.open("ftrl", "{\"alpha\":-1}"))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("alpha")
                .hasMessageContaining("> 0");
        assertThatThrownBy(() -> backend.open("ftrl", "[1]"))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("JSON object");
        assertThatThrownBy(() -> backend.open("/nowhere/op.wasm", "{}"))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("/nowhere/op.wasm")
                .hasMessageContaining("not an operator eddy ships");

        // An operator that traps on every record: after retrying each one alone on a fresh
        // instance (poison records), three failures in a row stop it with the failure.
        long h = backend.open("hostile", "{\"mode\":\"trap\",\"afterRows\":0}");
        try {
            byte[] x = "{\"x\":1.5}".getBytes(StandardCharsets.UTF_8);
            assertThatThrownBy(() -> backend.process(h, new byte[][] {x, x, x}, new long[3], 4, new long[] {0, 1, 2}))
                    .isInstanceOf(EddyException.class)
                    .hasMessageContaining("operator Hostile failed while processing")
                    .hasMessageContaining("partition 4, offsets 0..=2");
        } finally {
            backend.close(h);
        }
        long f = backend.open("ftrl", FTRL_CONFIG);
        try {
            assertThatThrownBy(() -> backend.restore(f, "garbage".getBytes(StandardCharsets.UTF_8)))
                    .isInstanceOf(EddyException.class)
                    .hasMessageContaining("not a snapshot");
            assertThatThrownBy(() -> backend.process(f, new byte[][] {row(0)}, new long[0], 0, new long[] {0}))
                    .isInstanceOf(EddyException.class)
                    .hasMessageContaining("one timestamp and one offset per value");
            assertThatThrownBy(() -> backend.process(f, new byte[][] {null}, new long[1], 0, new long[1]))
                    .isInstanceOf(EddyException.class)
                    .hasMessageContaining("values[0] is null");
        } finally {
            backend.close(f);
        }
    }

    @Test
    void staleHandlesAreRefusedNotFollowed() {
        long h = backend.open("ftrl", FTRL_CONFIG);
        backend.close(h);
        assertThatThrownBy(() -> process(backend, h, 0, 0, 1))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("no open operator has handle " + h);
        assertThatThrownBy(() -> backend.close(h)).isInstanceOf(EddyException.class);
        assertThatThrownBy(() -> backend.snapshot(0)).isInstanceOf(EddyException.class);
        assertThatThrownBy(() -> backend.finish(-7)).isInstanceOf(EddyException.class);
    }

    @Test
    void aPanicBecomesAnEddyExceptionAndTheJvmCarriesOn() {
        for (int i = 0; i < 2; i++) {
            assertThatThrownBy(() -> backend.describe("eddy:self-test-panic"))
                    .isInstanceOf(EddyException.class)
                    .hasMessageContaining("panicked in NativeOperator.describe")
                    .hasMessageContaining("self-test panic");
        }
        assertThat(backend.describe("ftrl")).contains("OnlineLogisticRegression");
    }
}
