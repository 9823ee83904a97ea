package dev.eddy.kafkastreams;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyCli;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.OperatorSpec;
import dev.eddy.core.Replays;

/**
 * The processor and its store driven by hand ({@link MockProcessorContext}), where a test decides
 * when commits happen: a snapshot is taken per commit, not per record (and none when nothing
 * changed), and a processor closed and initialized again (Kafka Streams does this when a task is
 * suspended and resumed) restores from its store, rows still buffered included, and continues
 * exactly as one that was never closed.
 */
class ProcessorSnapshotTest {

    static List<Replays.Rec> phishing;
    static OperatorSpec spec;

    @BeforeAll
    static void load() {
        EddyTestEnv.nativeBackend();
        phishing = Replays.read(EddyTestEnv.repo().resolve("examples/phishing/phishing.replay"));
        spec = OperatorSpec.of(EddyTestEnv.ftrlComponent().toString(), EddyCli.configJson(EddyProcessorDriverTest.ftrlConfig()));
    }

    /** A processor with its store in a mock context: what Kafka Streams wires up for one task. */
    static final class Task {
        final MockProcessorContext<byte[], byte[]> context = new MockProcessorContext<>();
        final SnapshotStore store = SnapshotStore.builder("eddy-snapshot", false).withLoggingDisabled().build();
        final EddyProcessor processor;

        Task(int batchSize) {
            store.init(context.getStateStoreContext(), store);
            context.addStateStore(store);
            processor =
                    new EddyProcessor(spec, BackendFactory.NATIVE, batchSize, 50, "eddy-snapshot", new EddyProcessor.Children("p", "m", "d"));
            processor.init(context);
        }

        void process(int from, int to) {
            for (int i = from; i < to; i++) {
                Replays.Rec r = phishing.get(i);
                context.setRecordMetadata("in", 0, i);
                processor.process(new Record<>(r.key(), r.value(), r.timestamp(), new RecordHeaders()));
            }
        }

        List<String> predictions() {
            List<String> out = new ArrayList<>();
            context.forwarded("p").forEach(f -> out.add(new String((byte[]) f.record().value(), StandardCharsets.UTF_8)));
            return out;
        }
    }

    @Test
    void aSnapshotPerCommitNotPerRecord() {
        Task t = new Task(64);
        for (int c = 0; c < 4; c++) {
            t.process(c * 250, (c + 1) * 250);
            t.store.flushCache(); // a commit
        }
        assertThat(t.store.snapshotsWritten()).isEqualTo(4);
        t.store.flushCache(); // a commit with nothing new
        t.store.flushCache();
        assertThat(t.store.snapshotsWritten()).isEqualTo(4);
        assertThat(t.store.commitsWithoutChange()).isEqualTo(2);
        t.processor.close();
    }

    @Test
    void initAfterCloseRestoresBufferedRowsAndContinuesExactly() {
        Task whole = new Task(64);
        whole.process(0, 1000);
        whole.processor.flushAll();
        List<String> expected = whole.predictions();
        assertThat(expected).hasSize(1000);
        whole.processor.close();

        Task t = new Task(64);
        t.process(0, 530); // 8 batches of 64 went to the operator, 18 rows wait in the buffer
        t.store.flushCache(); // the commit before Kafka Streams suspends a task
        List<String> before = t.predictions();
        assertThat(before).hasSize(512);
        t.processor.close();
        t.context.resetForwards();
        t.processor.init(t.context); // resumed: reopens the operator and restores from the store
        t.process(530, 1000);
        t.processor.flushAll();
        List<String> all = new ArrayList<>(before);
        all.addAll(t.predictions());
        assertThat(all).isEqualTo(expected);
        t.processor.close();
    }
}
