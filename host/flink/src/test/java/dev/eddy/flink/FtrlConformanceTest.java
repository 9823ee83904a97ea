package dev.eddy.flink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

import dev.eddy.core.BackendFactory;
import dev.eddy.core.EddyOutput;
import dev.eddy.core.EddyTestEnv;
import dev.eddy.core.InputRow;
import dev.eddy.core.Json;

/**
 * The Flink ML dense conformance case ({@code shared/conformance/ftrl_dense.json}, from Flink ML's
 * OnlineLogisticRegressionTest) through the Flink operator running the FTRL component: model
 * coefficients, raw predictions and predictions after each global batch, to 1e-9.
 */
class FtrlConformanceTest {

    record Row(String json, long offset) {}

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) {
        return (List<Object>) o;
    }

    static double d(Object o) {
        return ((Number) (o instanceof BigDecimal b ? b : new BigDecimal(o.toString()))).doubleValue();
    }

    @Test
    void denseCasePassesThroughTheFlinkOperator() throws Exception {
        EddyTestEnv.nativeBackend();
        Map<String, Object> c =
                Json.parseObject(Files.readString(EddyTestEnv.shared().resolve("conformance/ftrl_dense.json")));
        Map<String, Object> params = (Map<String, Object>) (Map<?, ?>) c.get("params");
        StringBuilder config = new StringBuilder("{");
        params.forEach((k, v) -> config.append(Json.quote(k)).append(':').append(v).append(','));
        List<Object> initial = list(((Map<?, ?>) c.get("initialModel")).get("coefficient"));
        config.append("\"initialModel\":{\"coefficient\":").append(initial).append("}}");

        RecordExtractor<Row> extract = r -> new InputRow(r.json().getBytes(StandardCharsets.UTF_8), r.offset(), 0, r.offset());
        EddyOperator<Row> op =
                new EddyOperator<>(EddyTestEnv.ftrlComponent().toString(), config.toString(), extract, BackendFactory.NATIVE, 4);
        List<Object> train = list(c.get("train"));
        List<Object> predict = list(c.get("predictRows"));
        long offset = 0;
        int done = 0;
        try (var h = new OneInputStreamOperatorTestHarness<>(op)) {
            h.open();
            for (Object e : list(c.get("expected"))) {
                Map<?, ?> exp = (Map<?, ?>) e;
                int upto = ((Number) exp.get("afterRows")).intValue();
                for (; done < upto; done++) {
                    List<Object> r = list(train.get(done));
                    h.processElement(new Row("{\"features\":" + r.get(0) + ",\"label\":" + r.get(1) + "}", offset++), 0);
                }
                long firstPredict = offset;
                for (Object x : predict) {
                    h.processElement(new Row("{\"features\":" + x + "}", offset++), 0);
                }
                h.prepareSnapshotPreBarrier(done); // flushes the buffered rows

                ConcurrentLinkedQueue<StreamRecord<String>> models = h.getSideOutput(EddyOperator.MODELS);
                assertThat(models).as("one model version per global batch of 10").hasSize(1);
                Map<String, Object> model = Json.parseObject(EddyOutput.fromJson(models.poll().getValue()).value);
                assertThat(model.get("modelVersion")).isEqualTo(exp.get("modelVersion"));
                if (exp.get("coefficient") != null) {
                    List<Object> got = list(model.get("coefficient"));
                    List<Object> want = list(exp.get("coefficient"));
                    assertThat(got).hasSameSizeAs(want);
                    for (int i = 0; i < want.size(); i++) {
                        assertThat(d(got.get(i))).as("coefficient[%d]", i).isCloseTo(d(want.get(i)), within(1e-9));
                    }
                }
                List<EddyOutput> predictions = new ArrayList<>(h.extractOutputValues());
                h.getOutput().clear();
                List<EddyOutput> scored = predictions.stream().filter(p -> p.offset >= firstPredict).toList();
                assertThat(scored).hasSize(predict.size());
                for (int i = 0; i < scored.size(); i++) {
                    Map<String, Object> v = Json.parseObject(scored.get(i).value);
                    assertThat(v.get("modelVersion")).isEqualTo(exp.get("modelVersion"));
                    assertThat(d(v.get("prediction"))).isEqualTo(d(list(exp.get("prediction")).get(i)));
                    List<Object> raw = list(v.get("rawPrediction"));
                    List<Object> want = list(list(exp.get("rawPrediction")).get(i));
                    for (int j = 0; j < 2; j++) {
                        assertThat(d(raw.get(j))).as("rawPrediction[%d][%d]", i, j).isCloseTo(d(want.get(j)), within(1e-9));
                    }
                    assertThat(v.get("features").toString()).isEqualTo(predict.get(i).toString());
                }
            }
        }
    }
}
