package dev.eddy.flink;

import java.util.concurrent.ConcurrentHashMap;

import org.apache.flink.runtime.state.KeyGroupRangeAssignment;

/**
 * The keys the builder keys the input by, so that input partitions spread evenly over the
 * operator's subtasks. Keyed by the partition number itself, Flink's key-group hashing puts them
 * where the hash falls (4 partitions at parallelism 2 all on subtask 1). Instead, partition
 * {@code p} gets a fixed key whose key group is the {@code p}-th point of the van der Corput
 * sequence over the key groups (0, 1/2, 1/4, 3/4, 1/8, ... of {@code maxParallelism}): at any
 * parallelism that divides the max parallelism (1, 2, 4, 8, ... with the default 128), partitions
 * {@code 0..P-1} land on {@code P} different subtasks, partition {@code p} on subtask {@code p mod
 * P} in bit-reversed order, and at other parallelisms as evenly as key-group ranges allow. The key
 * depends only on the partition and the max parallelism, never on the parallelism, so state stays
 * where it is when a job is rescaled.
 */
public final class PartitionKeys {

    /** The max parallelism the builder gives the eddy operator unless the job sets one. */
    public static final int DEFAULT_MAX_PARALLELISM = 128;

    private static final ConcurrentHashMap<Long, Integer> CACHE = new ConcurrentHashMap<>();

    private PartitionKeys() {}

    /** The key of partition {@code p} (p >= 0) for an operator of this max parallelism. */
    public static int key(int partition, int maxParallelism) {
        if (partition < 0 || maxParallelism < 1) {
            throw new IllegalArgumentException("partition " + partition + ", max parallelism " + maxParallelism);
        }
        return CACHE.computeIfAbsent(((long) maxParallelism << 32) | partition, k -> find(partition, maxParallelism));
    }

    /** The key group partition {@code p} is meant to have. */
    public static int targetKeyGroup(int partition, int maxParallelism) {
        // the van der Corput point of (p mod maxParallelism), scaled to the key groups
        int p = partition % maxParallelism;
        double x = 0;
        double f = 0.5;
        for (int v = p; v != 0; v >>>= 1, f /= 2) {
            if ((v & 1) != 0) {
                x += f;
            }
        }
        return Math.min(maxParallelism - 1, (int) Math.floor(x * maxParallelism));
    }

    private static int find(int partition, int maxParallelism) {
        int target = targetKeyGroup(partition, maxParallelism);
        // partitions past the max parallelism share a key group with an earlier one: take the
        // (p / maxParallelism)-th key that hashes there, so each partition has its own key
        int skip = partition / maxParallelism;
        for (int k = 0; k >= 0; k++) {
            if (KeyGroupRangeAssignment.assignToKeyGroup(k, maxParallelism) == target && skip-- == 0) {
                return k;
            }
        }
        throw new IllegalStateException("no key for partition " + partition);
    }
}
