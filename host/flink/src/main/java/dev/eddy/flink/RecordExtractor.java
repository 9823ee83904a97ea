package dev.eddy.flink;

import java.io.Serializable;

import dev.eddy.core.InputRow;

/**
 * Turns a stream element into the row the operator processes. Serializable because it travels with
 * the job graph; a lambda works: {@code rec -> new InputRow(rec.value(), rec.timestamp(),
 * rec.partition(), rec.offset())}.
 */
@FunctionalInterface
public interface RecordExtractor<IN> extends Serializable {

    InputRow extract(IN element);

    /**
     * The element's partition alone, used to key the stream by partition. Override it when building
     * the full row is expensive.
     */
    default int partition(IN element) {
        return extract(element).partition();
    }
}
