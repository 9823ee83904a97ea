package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.junit.jupiter.api.Test;

import dev.eddy.core.EddyException;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.Json;

class EddyOutputTest {

    @Test
    void roundTripsThroughTheWireForm() {
        EddyOutput o =
                new EddyOutput("models", 7, 1L << 40, "{\"w\":[0.5,-1e-3],\"s\":\"a\\\"b\\n\u00e9\u0001\"}");
        String json = o.toJson();
        assertThat(EddyOutput.fromJson(json)).isEqualTo(o);
        assertThat(EddyOutput.fromJson(o.toJsonBytes())).isEqualTo(o);
        assertThat(json).startsWith("{\"sink\":\"models\",\"partition\":7,\"offset\":1099511627776,");
    }

    @Test
    void parsesWhatAnotherEncoderWrites() {
        String json =
                " { \"value\" : \"{\\\"score\\\":0.93}\", \"offset\":41,\"partition\" : 3,"
                        + " \"sink\":\"predictions\", \"extra\": [true, null, {\"k\": \"\\u00e9\"}] } ";
        assertThat(EddyOutput.fromJson(json))
                .isEqualTo(new EddyOutput("predictions", 3, 41, "{\"score\":0.93}"));
    }

    /** What the native library writes: a JSON header line, then the value as it is. */
    @Test
    void parsesTheHeaderAndRawValueForm() {
        String value = "{\"a\":\"x\\\"y\\n\u00e9\",\"p\":[0.1,2]}\n{}";
        byte[] wire =
                ("{\"sink\":\"dead_letters\",\"partition\":2,\"offset\":9,\"timestamp\":-5,\"reason\":\"bad\"}\n" + value)
                        .getBytes(StandardCharsets.UTF_8);
        EddyOutput.Wire w = EddyOutput.parseWire(wire);
        assertThat(w.output()).isEqualTo(new EddyOutput("dead_letters", 2, 9, value));
        assertThat(w.timestamp()).isEqualTo(-5);
        assertThat(w.output().valueBytes()).isEqualTo(value.getBytes(StandardCharsets.UTF_8));
        // the side outputs' all-JSON form keeps every header field
        Map<String, Object> json = Json.parseObject(w.json());
        assertThat(json).containsEntry("reason", "bad").containsEntry("timestamp", -5L).containsEntry("value", value);
        assertThat(EddyOutput.fromJson(w.json())).isEqualTo(w.output());
        // an all-JSON record spread over lines is still read as one
        assertThat(EddyOutput.fromJson("{\"sink\":\"models\",\n\"partition\":1,\"offset\":0,\"value\":\"v\"}".getBytes(StandardCharsets.UTF_8)))
                .isEqualTo(new EddyOutput("models", 1, 0, "v"));
    }

    @Test
    void rejectsMalformedRecords() {
        assertThatThrownBy(() -> EddyOutput.fromJson("{\"sink\":\"predictions\""))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("malformed");
        assertThatThrownBy(() -> EddyOutput.fromJson("{\"sink\":\"predictions\",\"partition\":1}"))
                .isInstanceOf(EddyException.class)
                .hasMessageContaining("needs");
    }

    @Test
    void jsonParserCoversTheBasics() {
        Map<String, Object> m =
                Json.parseObject("{\"a\":1,\"b\":-2.5e3,\"c\":\"x\\/y\",\"d\":[],\"e\":{},\"f\":false}");
        assertThat(m)
                .containsEntry("a", 1L)
                .containsEntry("b", new BigDecimal("-2.5e3"))
                .containsEntry("c", "x/y")
                .containsEntry("d", List.of())
                .containsEntry("e", Map.of())
                .containsEntry("f", false);
        assertThatThrownBy(() -> Json.parse("{\"a\":1} x")).hasMessageContaining("trailing");
        assertThatThrownBy(() -> Json.parse("[1,]")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void isAFlinkPojo() {
        assertThat(TypeInformation.of(EddyOutput.class)).isInstanceOf(PojoTypeInfo.class);
    }
}
