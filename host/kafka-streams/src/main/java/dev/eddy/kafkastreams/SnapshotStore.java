package dev.eddy.kafkastreams;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Objects;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.query.Position;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.internals.CacheFlushListener;
import org.apache.kafka.streams.state.internals.CachedStateStore;

import dev.eddy.core.EddyException;

/**
 * The state store of an {@link EddyProcessor}: the latest snapshot of its operator (plus the rows
 * it holds back), taken <b>once per commit</b>, written to a key-value store with a changelog
 * topic, so that it commits in the same transaction as the outputs and the input offsets (with
 * {@code exactly_once_v2}) and restores from the changelog on another instance.
 *
 * <p>How the snapshot follows commits rather than records: Kafka Streams offers processors no
 * pre-commit hook, and {@link StateStore#flush()} runs after the commit (when a task writes its
 * checkpoint file), too late for a transaction. What it does call before every commit, ahead of
 * flushing the producer and committing the offsets and the transaction, is {@code flushCache()}
 * of the stores that implement {@link CachedStateStore} (how its own record caches write their
 * contents to the changelog in time). This store implements it: {@code flushCache()} asks the
 * attached processor for a snapshot (none when nothing changed since the last) and puts it into
 * the inner store, whose change-logging layer sends it to the changelog within the transaction.
 * {@code CachedStateStore} is an internal interface of Kafka Streams; this is built and tested
 * against Kafka Streams 4.1.2 (see the README).
 *
 * <p>Layout in the inner store (keys are UTF-8): {@code "meta"} holds {@code (version:int,
 * chunks:int, length:int)}, {@code "chunk-<i>"} the snapshot in chunks of at most {@link
 * #CHUNK_BYTES} bytes (a Kafka record is at most 1 MB by default); chunks beyond the current
 * count are deleted. All of it is written in one commit, so the changelog is always consistent
 * at a transaction boundary.
 */
public final class SnapshotStore implements StateStore, CachedStateStore<byte[], byte[]> {

    /** Bytes per changelog record. */
    public static final int CHUNK_BYTES = 512 * 1024;

    private static final int LAYOUT_VERSION = 1;
    private static final Bytes META = key("meta");

    /** What the store asks for at each commit. */
    public interface Source {
        /**
         * The snapshot to keep, or null when nothing changed since the last one this store took.
         */
        byte[] snapshotIfChanged();
    }

    private final KeyValueStore<Bytes, byte[]> inner;
    private Source source;
    private int chunks;

    // measurements (read by tests and the benchmark)
    private long snapshotsWritten;
    private long snapshotNanos;
    private long snapshotBytes;
    private long commitsWithoutChange;

    SnapshotStore(KeyValueStore<Bytes, byte[]> inner) {
        this.inner = Objects.requireNonNull(inner, "inner");
    }

    /**
     * A builder of this store: an in-memory (or, with {@code persistent}, RocksDB) key-value store
     * with its changelog on, as {@link EddyTopology} adds it.
     */
    public static StoreBuilder<SnapshotStore> builder(String name, boolean persistent) {
        return new Builder(name, persistent);
    }

    // ------------------------------------------------------------------ the processor's side

    /** The processor whose snapshot is taken at each commit (one at a time). */
    void attach(Source processor) {
        this.source = processor;
    }

    /**
     * Detaches the processor (at its close). Nothing is written then: Kafka Streams commits a task
     * (and so calls {@link #flushCache()}) before it suspends or closes it cleanly, and after a
     * dirty close with exactly-once the store is wiped and restored from the changelog, which
     * holds the snapshot of the last commit.
     */
    void detach(Source processor) {
        if (source == processor) {
            source = null;
        }
    }

    /** The latest snapshot kept here, or null. */
    public byte[] read() {
        byte[] meta = inner.get(META);
        if (meta == null) {
            return null;
        }
        ByteBuffer m = ByteBuffer.wrap(meta);
        int version = m.getInt();
        if (version != LAYOUT_VERSION) {
            throw new EddyException("eddy: store " + name() + " holds a snapshot of layout " + version + ", not " + LAYOUT_VERSION);
        }
        int n = m.getInt();
        int length = m.getInt();
        ByteBuffer out = ByteBuffer.allocate(length);
        for (int i = 0; i < n; i++) {
            byte[] chunk = inner.get(key("chunk-" + i));
            if (chunk == null || chunk.length > out.remaining()) {
                throw new EddyException("eddy: store " + name() + ": snapshot chunk " + i + " of " + n + " is missing or too long");
            }
            out.put(chunk);
        }
        if (out.hasRemaining()) {
            throw new EddyException("eddy: store " + name() + ": snapshot is shorter than its length " + length);
        }
        chunks = n;
        return out.array();
    }

    private void write(byte[] snapshot) {
        int n = (snapshot.length + CHUNK_BYTES - 1) / CHUNK_BYTES;
        for (int i = 0; i < n; i++) {
            int from = i * CHUNK_BYTES;
            int to = Math.min(snapshot.length, from + CHUNK_BYTES);
            byte[] chunk = from == 0 && to == snapshot.length ? snapshot : java.util.Arrays.copyOfRange(snapshot, from, to);
            inner.put(key("chunk-" + i), chunk);
        }
        for (int i = n; i < chunks; i++) {
            inner.delete(key("chunk-" + i));
        }
        chunks = n;
        inner.put(META, ByteBuffer.allocate(12).putInt(LAYOUT_VERSION).putInt(n).putInt(snapshot.length).array());
        snapshotBytes += snapshot.length;
        snapshotsWritten++;
    }

    // ------------------------------------------------------------------ CachedStateStore

    /** Called by Kafka Streams before each commit (see the class comment). */
    @Override
    public void flushCache() {
        if (source == null) {
            return;
        }
        long start = System.nanoTime();
        byte[] snap = source.snapshotIfChanged();
        if (snap == null) {
            commitsWithoutChange++;
            return;
        }
        write(snap);
        snapshotNanos += System.nanoTime() - start; // taking it and writing it
    }

    @Override
    public boolean setFlushListener(CacheFlushListener<byte[], byte[]> listener, boolean sendOldValues) {
        return false;
    }

    @Override
    public void clearCache() {}

    // ------------------------------------------------------------------ StateStore

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        inner.init(context, root);
        chunks = 0;
    }

    @Override
    public void flush() {
        inner.flush();
    }

    @Override
    public void close() {
        source = null;
        inner.close();
    }

    @Override
    public boolean persistent() {
        return inner.persistent();
    }

    @Override
    public boolean isOpen() {
        return inner.isOpen();
    }

    @Override
    public Position getPosition() {
        return inner.getPosition();
    }

    // ------------------------------------------------------------------ measurements

    /** Snapshots written to the store since it was built. */
    public long snapshotsWritten() {
        return snapshotsWritten;
    }

    /** Nanoseconds spent taking and writing them. */
    public long snapshotNanos() {
        return snapshotNanos;
    }

    /** Their total size. */
    public long snapshotBytes() {
        return snapshotBytes;
    }

    /** Commits at which nothing had changed (no snapshot taken). */
    public long commitsWithoutChange() {
        return commitsWithoutChange;
    }

    private static Bytes key(String s) {
        return Bytes.wrap(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static final class Builder implements StoreBuilder<SnapshotStore> {
        private final String name;
        private final boolean persistent;
        private boolean logging = true;
        private Map<String, String> logConfig = Map.of();

        Builder(String name, boolean persistent) {
            this.name = Objects.requireNonNull(name, "name");
            this.persistent = persistent;
        }

        @Override
        public StoreBuilder<SnapshotStore> withCachingEnabled() {
            return this; // the snapshot is taken at commit anyway: there is nothing to cache
        }

        @Override
        public StoreBuilder<SnapshotStore> withCachingDisabled() {
            return this;
        }

        @Override
        public StoreBuilder<SnapshotStore> withLoggingEnabled(Map<String, String> config) {
            logging = true;
            logConfig = Map.copyOf(config);
            return this;
        }

        @Override
        public StoreBuilder<SnapshotStore> withLoggingDisabled() {
            logging = false;
            return this;
        }

        @Override
        public SnapshotStore build() {
            StoreBuilder<KeyValueStore<Bytes, byte[]>> b =
                    Stores.keyValueStoreBuilder(
                            persistent ? Stores.persistentKeyValueStore(name) : Stores.inMemoryKeyValueStore(name),
                            Serdes.Bytes(),
                            Serdes.ByteArray());
            b = logging ? b.withLoggingEnabled(logConfig) : b.withLoggingDisabled();
            return new SnapshotStore(b.withCachingDisabled().build());
        }

        @Override
        public Map<String, String> logConfig() {
            return logConfig;
        }

        @Override
        public boolean loggingEnabled() {
            return logging;
        }

        @Override
        public String name() {
            return name;
        }
    }
}
