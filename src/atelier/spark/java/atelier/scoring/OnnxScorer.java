package atelier.scoring;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * atelier's JVM scoring engine: every arm's model (an ONNX graph, `model.onnx_graph.to_matrix_onnx`) applied by ONNX
 * Runtime inside the executors, to batches of a partition's rows, with no Python worker in the way.
 *
 * <p>The input's first `carry` columns are passed through; the others are the arms' inputs, numbers as double and
 * categories as string, at the ordinals the plan gives per arm. Each arm's folder holds `model.onnx` and
 * `scorer.json` (its vocabularies, task and threshold), loaded once per executor JVM. Per batch and arm the rows
 * come out as (carry..., arm_index, score, predicted_label), as atelier's Python scorer yields them.
 */
public final class OnnxScorer {

  static final String MODEL_FILE = "model.onnx";
  static final String SPEC_FILE = "scorer.json";
  private static final Map<String, Model> MODELS = new ConcurrentHashMap<>();

  private OnnxScorer() {}

  /** The scored rows of `input` under the JSON `plan` ({carry, batch_rows, arms: [{folder, numeric, categorical}]}). */
  public static Dataset<Row> score(Dataset<Row> input, String plan) throws IOException {
    Plan parsed = Plan.parse(plan);
    StructField[] fields = input.schema().fields();
    StructType out = new StructType();
    DataType[] carried = new DataType[parsed.carry];
    for (int i = 0; i < parsed.carry; i++) {
      out = out.add(fields[i]);
      carried[i] = fields[i].dataType();
    }
    out = out.add("arm_index", DataTypes.IntegerType).add("score", DataTypes.DoubleType)
        .add("predicted_label", DataTypes.DoubleType);
    RDD<InternalRow> scored = input.queryExecution().toRdd().toJavaRDD()
        .mapPartitions(rows -> new Batches(rows, parsed, carried)).rdd();
    return input.sparkSession().internalCreateDataFrame(scored, out, false);
  }

  /** What to score: how many leading columns pass through, the batch size, and each arm's inputs. */
  static final class Plan implements Serializable {
    int carry;
    int batchRows;
    String[] folders;
    int[][] numeric;
    int[][] categorical;

    static Plan parse(String json) throws IOException {
      JsonNode root = new ObjectMapper().readTree(json);
      Plan plan = new Plan();
      plan.carry = root.get("carry").asInt();
      plan.batchRows = root.get("batch_rows").asInt();
      JsonNode arms = root.get("arms");
      plan.folders = new String[arms.size()];
      plan.numeric = new int[arms.size()][];
      plan.categorical = new int[arms.size()][];
      for (int a = 0; a < arms.size(); a++) {
        plan.folders[a] = arms.get(a).get("folder").asText();
        plan.numeric[a] = ints(arms.get(a).get("numeric"));
        plan.categorical[a] = ints(arms.get(a).get("categorical"));
      }
      return plan;
    }

    private static int[] ints(JsonNode values) {
      int[] out = new int[values.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = values.get(i).asInt();
      }
      return out;
    }
  }

  /** One arm's ONNX Runtime session (one intra-op thread: Spark's tasks are the parallelism) and lookups. */
  static final class Model {
    final OrtSession session;
    final List<Map<UTF8String, Long>> codes = new ArrayList<>();
    final boolean binary;
    final double threshold;

    private Model(String folder) throws IOException, OrtException {
      JsonNode spec = new ObjectMapper().readTree(new File(folder, SPEC_FILE));
      for (JsonNode categories : spec.get("categories")) {
        Map<UTF8String, Long> code = new HashMap<>();
        for (int i = 0; i < categories.size(); i++) {
          code.put(UTF8String.fromString(categories.get(i).asText()), (long) i + 1);  // 0: unseen or null
        }
        codes.add(code);
      }
      binary = "binary".equals(spec.get("task").asText());
      threshold = spec.get("threshold").asDouble();
      OrtSession.SessionOptions options = new OrtSession.SessionOptions();
      options.setIntraOpNumThreads(1);
      options.setInterOpNumThreads(1);
      session = OrtEnvironment.getEnvironment().createSession(new File(folder, MODEL_FILE).getPath(), options);
    }

    static Model of(String folder) {
      return MODELS.computeIfAbsent(folder, f -> {
        try {
          return new Model(f);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        } catch (OrtException e) {
          throw new IllegalStateException("ONNX Runtime cannot load the scorer in " + f + ": " + e.getMessage(), e);
        }
      });
    }

    long code(int column, UTF8String value) {
      return codes.get(column).getOrDefault(value, 0L);
    }

    /** The scores of the first `rows` rows of the arm's buffers. */
    float[] run(DoubleBuffer numeric, int numericWidth, LongBuffer categorical, int categoricalWidth, int rows)
        throws OrtException {
      OrtEnvironment env = OrtEnvironment.getEnvironment();
      Map<String, OnnxTensor> feed = new HashMap<>();
      try {
        if (numericWidth > 0) {
          numeric.clear().limit(rows * numericWidth);
          feed.put("numeric", OnnxTensor.createTensor(env, numeric, new long[] {rows, numericWidth}));
        }
        if (categoricalWidth > 0) {
          categorical.clear().limit(rows * categoricalWidth);
          feed.put("categories", OnnxTensor.createTensor(env, categorical, new long[] {rows, categoricalWidth}));
        }
        try (OrtSession.Result result = session.run(feed)) {
          FloatBuffer scores = ((OnnxTensor) result.get(0)).getFloatBuffer();
          float[] out = new float[rows];
          scores.get(out);
          return out;
        }
      } finally {
        feed.values().forEach(OnnxTensor::close);
      }
    }

    double label(double score) {
      return binary ? (score >= threshold ? 1.0 : 0.0) : score;
    }
  }

  /** A partition's scored rows, computed a batch at a time: every arm's output for one batch, then the next. */
  static final class Batches implements Iterator<InternalRow> {
    private final Iterator<InternalRow> rows;
    private final Plan plan;
    private final DataType[] carried;
    private final Model[] models;
    private final DoubleBuffer[] numeric;
    private final LongBuffer[] categorical;
    private final Object[][] kept;
    private InternalRow[] pending = new InternalRow[0];
    private int next;

    Batches(Iterator<InternalRow> rows, Plan plan, DataType[] carried) {
      this.rows = rows;
      this.plan = plan;
      this.carried = carried;
      int arms = plan.folders.length;
      models = new Model[arms];
      numeric = new DoubleBuffer[arms];
      categorical = new LongBuffer[arms];
      for (int a = 0; a < arms; a++) {
        models[a] = Model.of(plan.folders[a]);
        numeric[a] = direct(plan.batchRows * plan.numeric[a].length * 8L).asDoubleBuffer();
        categorical[a] = direct(plan.batchRows * plan.categorical[a].length * 8L).asLongBuffer();
      }
      kept = new Object[plan.batchRows][];
    }

    private static ByteBuffer direct(long bytes) {
      return ByteBuffer.allocateDirect((int) Math.max(bytes, 8)).order(ByteOrder.nativeOrder());
    }

    @Override
    public boolean hasNext() {
      while (next == pending.length) {
        if (!rows.hasNext()) {
          return false;
        }
        scoreBatch();
      }
      return true;
    }

    @Override
    public InternalRow next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return pending[next++];
    }

    private void scoreBatch() {
      int count = 0;
      while (count < plan.batchRows && rows.hasNext()) {
        read(rows.next(), count++);
      }
      pending = new InternalRow[count * models.length];
      next = 0;
      for (int a = 0; a < models.length; a++) {
        float[] scores;
        try {
          scores = models[a].run(numeric[a], plan.numeric[a].length, categorical[a], plan.categorical[a].length,
              count);
        } catch (OrtException e) {
          throw new IllegalStateException("scoring with " + plan.folders[a] + " failed: " + e.getMessage(), e);
        }
        for (int i = 0; i < count; i++) {
          Object[] values = new Object[plan.carry + 3];
          System.arraycopy(kept[i], 0, values, 0, plan.carry);
          double score = scores[i];
          values[plan.carry] = a;
          values[plan.carry + 1] = score;
          values[plan.carry + 2] = models[a].label(score);
          pending[a * count + i] = new GenericInternalRow(values);
        }
      }
    }

    /** Row `i` of the batch: its carried values copied (the input row is reused), its inputs into each arm's buffers. */
    private void read(InternalRow row, int i) {
      Object[] carry = new Object[plan.carry];
      for (int c = 0; c < plan.carry; c++) {
        carry[c] = row.isNullAt(c) ? null : InternalRow.copyValue(row.get(c, carried[c]));
      }
      kept[i] = carry;
      for (int a = 0; a < models.length; a++) {
        int[] at = plan.numeric[a];
        for (int j = 0; j < at.length; j++) {
          numeric[a].put(i * at.length + j, row.isNullAt(at[j]) ? Double.NaN : row.getDouble(at[j]));
        }
        at = plan.categorical[a];
        for (int j = 0; j < at.length; j++) {
          categorical[a].put(i * at.length + j, row.isNullAt(at[j]) ? 0L : models[a].code(j, row.getUTF8String(at[j])));
        }
      }
    }
  }
}
