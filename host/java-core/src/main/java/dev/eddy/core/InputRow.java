package dev.eddy.core;

/**
 * One input row as the operator sees it: the record value (bytes, typically UTF-8 JSON), its event
 * timestamp, and its position in the input (partition, offset), e.g. a Kafka record's coordinates.
 *
 * @param timestamp event time in milliseconds, or {@link #NO_TIMESTAMP} to use the engine's record
 *     timestamp (the Flink stream record's, or none)
 */
public record InputRow(byte[] value, long timestamp, int partition, long offset) {

    /** Marks a row whose timestamp should be taken from the engine's record (Flink's stream record). */
    public static final long NO_TIMESTAMP = Long.MIN_VALUE;

    public static InputRow of(byte[] value, int partition, long offset) {
        return new InputRow(value, NO_TIMESTAMP, partition, offset);
    }
}
