package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.api.watermark.Watermark;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyException;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.InputRow;
import dev.eddy.core.Json;
import dev.eddy.core.RunningSumBackend;

/** The operator alone, in Flink's operator test harness (no cluster). */
class EddyOperatorTest {

    /** Input elements are "partition:offset:value". */
    static final RecordExtractor<String> EXTRACT =
            s -> {
                String[] p = s.split(":", 3);
                return InputRow.of(
                        p[2].getBytes(StandardCharsets.UTF_8),
                        Integer.parseInt(p[0]),
                        Long.parseLong(p[1]));
            };

    static EddyOperator<String> operator(int batchSize, String config) {
        return new EddyOperator<>("running-sum.wasm", config, EXTRACT, RunningSumBackend::new, batchSize);
    }

    static OneInputStreamOperatorTestHarness<String, EddyOutput> harness(EddyOperator<String> op)
            throws Exception {
        return new OneInputStreamOperatorTestHarness<>(op);
    }

    @BeforeEach
    void reset() {
        RunningSumBackend.resetCounters();
    }

    @Test
    void flushesWhenFullAndBeforeForwardingAWatermark() throws Exception {
        try (var h = harness(operator(3, "{}"))) {
            h.open();
            for (int i = 0; i < 7; i++) {
                h.processElement("0:" + i + ":1", 10 + i);
            }
            assertThat(RunningSumBackend.PROCESS_CALLS.get()).isEqualTo(2);
            assertThat(h.extractOutputValues()).hasSize(6);

            h.processWatermark(100);
            List<Object> out = new ArrayList<>(h.getOutput());
            assertThat(out).hasSize(8);
            // the seventh row's prediction is flushed before the watermark goes on
            @SuppressWarnings("unchecked")
            StreamRecord<EddyOutput> last = (StreamRecord<EddyOutput>) out.get(6);
            assertThat(last.getValue())
                    .isEqualTo(new EddyOutput("predictions", 0, 6, "{\"sum\":7,\"count\":7}"));
            assertThat(last.getTimestamp()).isEqualTo(16);
            assertThat(out.get(7)).isEqualTo(new Watermark(100));
        }
    }

    @Test
    void batchesHoldOnePartitionEach() throws Exception {
        try (var h = harness(operator(2, "{}"))) {
            h.open();
            for (int i = 0; i < 6; i++) {
                h.processElement((i % 2) + ":" + i + ":" + i, i);
            }
            assertThat(RunningSumBackend.PROCESS_CALLS.get()).isEqualTo(2);
            h.endInput(); // flushes the last row of each partition: two more batches
            assertThat(RunningSumBackend.PROCESS_CALLS.get()).isEqualTo(4);
            List<EddyOutput> out = h.extractOutputValues();
            assertThat(out)
                    .containsExactly(
                            new EddyOutput("predictions", 0, 0, "{\"sum\":0,\"count\":1}"),
                            new EddyOutput("predictions", 0, 2, "{\"sum\":2,\"count\":2}"),
                            new EddyOutput("predictions", 1, 1, "{\"sum\":1,\"count\":1}"),
                            new EddyOutput("predictions", 1, 3, "{\"sum\":4,\"count\":2}"),
                            new EddyOutput("predictions", 0, 4, "{\"sum\":6,\"count\":3}"),
                            new EddyOutput("predictions", 1, 5, "{\"sum\":9,\"count\":3}"));
        }
    }

    @Test
    void modelsAndDeadLettersGoToSideOutputs() throws Exception {
        try (var h = harness(operator(1024, "{\"model_every\":2}"))) {
            h.open();
            h.processElement("5:0:3", 1);
            h.processElement("5:1:oops", 2);
            h.processElement("5:2:4", 3);
            h.endInput();
            assertThat(h.extractOutputValues()).hasSize(2);
            var models = new ArrayList<>(h.getSideOutput(EddyOperator.MODELS));
            assertThat(models).hasSize(1);
            assertThat(EddyOutput.fromJson(models.get(0).getValue()))
                    .isEqualTo(
                            new EddyOutput(
                                    "models", 5, 2, "{\"partition\":5,\"sum\":7,\"count\":2}"));
            assertThat(models.get(0).getTimestamp()).isEqualTo(3);
            var dead = new ArrayList<>(h.getSideOutput(EddyOperator.DEAD_LETTERS));
            assertThat(dead).hasSize(1);
            EddyOutput d = EddyOutput.fromJson(dead.get(0).getValue());
            assertThat(d.offset).isEqualTo(1);
            assertThat(Json.parseObject(d.value)).containsEntry("raw", "oops");
        }
    }

    @Test
    void snapshotFlushesFirstAndRestoreContinuesTheState() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = harness(operator(1024, "{}"))) {
            h.open();
            for (int i = 0; i < 5; i++) {
                h.processElement("2:" + i + ":" + (i + 1), i);
            }
            assertThat(h.extractOutputValues()).isEmpty();
            h.prepareSnapshotPreBarrier(1);
            assertThat(h.extractOutputValues()).hasSize(5);
            snapshot = h.snapshot(1, 100);
        }
        try (var h = harness(operator(1024, "{}"))) {
            h.initializeState(snapshot);
            h.open();
            h.processElement("2:5:10", 5);
            h.endInput();
            assertThat(h.extractOutputValues())
                    .containsExactly(
                            new EddyOutput("predictions", 2, 5, "{\"sum\":25,\"count\":6}"));
        }
        assertThat(RunningSumBackend.RESTORES.get()).isEqualTo(1);
        assertThat(RunningSumBackend.RESTORED_ROWS.get()).isEqualTo(5);
    }

    @Test
    void refusesToRestoreIntoAnotherParallelism() throws Exception {
        OperatorSubtaskState snapshot;
        try (var h = new OneInputStreamOperatorTestHarness<>(operator(1024, "{}"), 128, 1, 0)) {
            h.open();
            h.processElement("0:0:1", 0);
            h.prepareSnapshotPreBarrier(1);
            snapshot = h.snapshot(1, 1);
        }
        OperatorSubtaskState rescaled =
                AbstractStreamOperatorTestHarness.repartitionOperatorState(snapshot, 128, 1, 2, 0);
        try (var h = new OneInputStreamOperatorTestHarness<>(operator(1024, "{}"), 128, 2, 0)) {
            Throwable thrown = catchThrowable(() -> h.initializeState(rescaled));
            while (thrown != null && !(thrown instanceof EddyException)) {
                thrown = thrown.getCause();
            }
            assertThat(thrown).isNotNull().hasMessageContaining("parallelism");
        }
    }

    @Test
    void anUnknownSinkIsAnError() throws Exception {
        BackendFactory bogus =
                () ->
                        new RunningSumBackend() {
                            @Override
                            public byte[][] process(
                                    long handle, byte[][] v, long[] t, int p, long[] o) {
                                return new byte[][] {
                                    new EddyOutput("elsewhere", p, o[0], "{}").toJsonBytes()
                                };
                            }
                        };
        var op = new EddyOperator<>("x.wasm", "{}", EXTRACT, bogus, 1);
        var h = harness(op);
        h.open();
        assertThatThrownBy(() -> h.processElement("0:0:1", 0))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("elsewhere");
        // a failed task is not finished, only closed (the harness's close() would finish it)
        op.close();
    }
}
