package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.eddy.core.InputRow;
import dev.eddy.core.RunningSumBackend;

/**
 * By default the builder spreads input partitions evenly over the operator's subtasks: on a
 * MiniCluster, 4 partitions at parallelism 2 and at parallelism 4 are served by every subtask
 * (keyed by the partition number itself, as before, all 4 ran on subtask 1 at parallelism 2). The
 * stand-in backend records which subtask saw which partition.
 */
class PartitionSpreadTest {

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(4)
                            .build());

    /** subtask -> partitions it processed, JVM-wide. */
    static final Map<Integer, Set<Integer>> SEEN = new ConcurrentHashMap<>();

    private static final Pattern SUBTASK = Pattern.compile(".*\\((\\d+)/(\\d+)\\).*");

    /**
     * The running-sum stand-in, recording which subtask processes which partition (from the task
     * thread's name, "... (i/P)#attempt").
     */
    public static final class Recording extends RunningSumBackend {
        @Override
        public byte[][] process(long handle, byte[][] values, long[] timestamps, int partition, long[] offsets) {
            Matcher m = SUBTASK.matcher(Thread.currentThread().getName());
            if (!m.matches()) {
                throw new IllegalStateException("not a task thread: " + Thread.currentThread().getName());
            }
            SEEN.computeIfAbsent(Integer.parseInt(m.group(1)), s -> ConcurrentHashMap.newKeySet()).add(partition);
            return super.process(handle, values, timestamps, partition, offsets);
        }
    }

    @Test
    void fourPartitionsRunOnEverySubtaskAtParallelismTwoAndFour() throws Exception {
        for (int parallelism : new int[] {2, 4}) {
            Map<Integer, Set<Integer>> seen = run(4, parallelism);
            assertThat(seen).as("subtasks that processed rows, at parallelism %d: %s", parallelism, seen).hasSize(parallelism);
            Set<Integer> all = new TreeSet<>();
            seen.values().forEach(all::addAll);
            assertThat(all).containsExactly(0, 1, 2, 3);
            assertThat(seen.values().stream().mapToInt(Set::size).sum()).as("each partition on one subtask").isEqualTo(4);
        }
    }

    @Test
    void keysPutPartitionPOnSubtaskBitReversedAndDoNotDependOnTheParallelism() {
        int m = PartitionKeys.DEFAULT_MAX_PARALLELISM;
        for (int parallelism : new int[] {1, 2, 4, 8, 16}) {
            Map<Integer, Integer> subtaskOf = new TreeMap<>();
            for (int p = 0; p < parallelism; p++) {
                subtaskOf.put(p, KeyGroupRangeAssignment.assignKeyToParallelOperator(PartitionKeys.key(p, m), m, parallelism));
            }
            assertThat(new TreeSet<>(subtaskOf.values())).as("partitions 0..%d, parallelism %d: %s", parallelism - 1, parallelism, subtaskOf).hasSize(parallelism);
        }
        // 8 partitions at parallelism 3: 3, 3 and 2 per subtask
        Map<Integer, Integer> counts = new TreeMap<>();
        for (int p = 0; p < 8; p++) {
            counts.merge(KeyGroupRangeAssignment.assignKeyToParallelOperator(PartitionKeys.key(p, m), m, 3), 1, Integer::sum);
        }
        assertThat(counts.values()).containsExactlyInAnyOrder(3, 3, 2);
        // distinct keys beyond the max parallelism
        assertThat(PartitionKeys.key(m + 1, m)).isNotEqualTo(PartitionKeys.key(1, m));
    }

    static Map<Integer, Set<Integer>> run(int partitions, int parallelism) throws Exception {
        SEEN.clear();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(parallelism);
        int rowsPerPartition = 50;
        RecordExtractor<Long> extract =
                i -> new InputRow(
                        Long.toString(i).getBytes(StandardCharsets.UTF_8), i, (int) (i % partitions), i / partitions);
        EddyOperators.builder("running-sum.wasm")
                .backend(Recording::new)
                .batchSize(8)
                .uid("spread")
                .apply(env.fromSequence(0, (long) partitions * rowsPerPartition - 1), extract)
                .sinkTo(new DiscardingSink<>());
        env.execute("spread over " + parallelism);
        return new TreeMap<>(SEEN);
    }
}
