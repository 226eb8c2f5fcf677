package dev.atelier.scoring;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;

import java.io.IOException;
import java.lang.reflect.Array;
import java.nio.DoubleBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * A model exported by {@code atelier export --format onnx}: one ONNX graph that takes the raw feature columns and
 * does the whole prediction path (standardization, category lookups, the network), run by ONNX Runtime.
 *
 * <p>Every input column must be present; a value may be null (a number is then imputed to the training mean, a
 * category takes the out-of-vocabulary bucket, as in the Python model). Columns the model does not take are ignored.
 *
 * <p>Thread-safe: load once and share the instance; calls may run concurrently. Close it to free the native session.
 */
public final class AtelierModel implements AutoCloseable {
    static final String MODEL_FILE = "model.onnx";
    private static final String OUTPUT = "score";

    private final OrtEnvironment env;
    private final OrtSession session;
    private final List<Input> inputs;
    private final Map<String, String> metadata;
    private final String nullCategory;
    private final OptionalDouble threshold;

    private AtelierModel(OrtEnvironment env, OrtSession session, Path file) throws OrtException, IOException {
        this.env = env;
        this.session = session;
        this.metadata = Map.copyOf(session.getMetadata().getCustomMetadata());
        for (String key : List.of("model", "version", "training_run_id", "task", "threshold", "null_category")) {
            if (!metadata.containsKey(key)) {
                throw new IOException(file + " is not an atelier export: its metadata lacks '" + key + "'");
            }
        }
        this.nullCategory = metadata.get("null_category");
        String cut = metadata.get("threshold");
        this.threshold = cut.isEmpty() ? OptionalDouble.empty() : OptionalDouble.of(Double.parseDouble(cut));
        Map<String, NodeInfo> info = session.getInputInfo();
        List<Input> found = new ArrayList<>();
        for (String name : session.getInputNames()) {
            OnnxJavaType type = ((TensorInfo) info.get(name).getInfo()).type;
            if (type != OnnxJavaType.DOUBLE && type != OnnxJavaType.STRING) {
                throw new IOException(file + ": input '" + name + "' is " + type + ", not double or string");
            }
            found.add(new Input(name, type == OnnxJavaType.DOUBLE ? Input.Type.NUMBER : Input.Type.STRING));
        }
        this.inputs = List.copyOf(found);
    }

    /** Loads {@code dir/model.onnx} with ONNX Runtime's default threads per call. */
    public static AtelierModel load(Path dir) throws IOException {
        return load(dir, 0);
    }

    /**
     * Loads {@code dir/model.onnx}.
     *
     * @param intraOpThreads threads ONNX Runtime uses inside one call (0: its default, one per core)
     */
    public static AtelierModel load(Path dir, int intraOpThreads) throws IOException {
        Path file = dir.resolve(MODEL_FILE);
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no model here (atelier export --format onnx)");
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(intraOpThreads);
            OrtSession session = env.createSession(file.toString(), options);
            try {
                return new AtelierModel(env, session, file);
            } catch (IOException | OrtException | RuntimeException e) {
                session.close();
                throw e;
            }
        } catch (OrtException e) {
            throw new IOException("ONNX Runtime cannot load " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The score of one row: the probability of the positive class (binary), or the predicted value (regression).
     *
     * @param row column name to value: a {@link Number} or null for a number column, a {@link String} or null for a
     *            category column
     * @throws InvalidInputException a column is missing or a value has the wrong type
     */
    public double predict(Map<String, ?> row) {
        Objects.requireNonNull(row, "row");
        Map<String, Object> prepared = new LinkedHashMap<>();
        for (Input input : inputs) {
            if (!row.containsKey(input.name())) {
                throw missing(input);
            }
            Object value = row.get(input.name());
            prepared.put(input.name(), input.type() == Input.Type.NUMBER
                    ? new double[] {number(input, value, -1)} : new String[] {category(input, value, -1)});
        }
        return run(prepared, 1)[0];
    }

    /**
     * The scores of a batch given column by column, in row order.
     *
     * @param columns column name to its values: a number column as {@code double[]} (NaN for null), or an array or
     *                {@link List} of {@link Number} and null; a category column as {@code String[]} or a List of
     *                String and null. All of equal length.
     * @throws InvalidInputException a column is missing or null, a value has the wrong type, or lengths differ
     */
    public double[] predictBatch(Map<String, ?> columns) {
        Objects.requireNonNull(columns, "columns");
        Map<String, Object> prepared = new LinkedHashMap<>();
        int rows = -1;
        String first = null;
        for (Input input : inputs) {
            Object column = columns.get(input.name());
            if (column == null) {
                throw columns.containsKey(input.name())
                        ? new InvalidInputException(input.name(), "the column is null (put nulls inside it)")
                        : missing(input);
            }
            Object values = input.type() == Input.Type.NUMBER ? numbers(input, column) : categories(input, column);
            int length = Array.getLength(values);
            if (first == null) {
                rows = length;
                first = input.name();
            } else if (length != rows) {
                throw new InvalidInputException(input.name(), length + " rows, but '" + first + "' has " + rows);
            }
            prepared.put(input.name(), values);
        }
        return run(prepared, rows);
    }

    /** The label at the stored threshold (1 if {@code score >= threshold}); binary models only. */
    public int label(double score) {
        double cut = threshold.orElseThrow(() -> new IllegalStateException(name() + " is a regression model"));
        return score >= cut ? 1 : 0;
    }

    /** The input columns, in the model's order. */
    public List<Input> inputs() {
        return inputs;
    }

    /** The registered model's name. */
    public String name() {
        return metadata.get("model");
    }

    /** The registered version. */
    public String version() {
        return metadata.get("version");
    }

    /** The MLflow run that trained it. */
    public String trainingRunId() {
        return metadata.get("training_run_id");
    }

    /** {@code binary} or {@code regression}. */
    public String task() {
        return metadata.get("task");
    }

    /** The decision threshold of a binary model; empty for regression. */
    public OptionalDouble threshold() {
        return threshold;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("closing " + this + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return name() + " version " + version();
    }

    private double[] run(Map<String, Object> prepared, int rows) {
        if (rows == 0) {
            return new double[0];
        }
        long[] shape = {rows};
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            for (Map.Entry<String, Object> column : prepared.entrySet()) {
                feed.put(column.getKey(), column.getValue() instanceof double[] values
                        ? OnnxTensor.createTensor(env, DoubleBuffer.wrap(values), shape)
                        : OnnxTensor.createTensor(env, (String[]) column.getValue(), shape));
            }
            try (OrtSession.Result result = session.run(feed)) {
                float[] scores = (float[]) result.get(OUTPUT).orElseThrow().getValue();
                double[] out = new double[rows];
                for (int i = 0; i < rows; i++) {
                    out[i] = scores[i];
                }
                return out;
            }
        } catch (OrtException e) {
            throw new IllegalStateException(this + ": ONNX Runtime failed on " + rows + " rows: " + e.getMessage(), e);
        } finally {
            OnnxValue.close(feed);
        }
    }

    private InvalidInputException missing(Input input) {
        return new InvalidInputException(input.name(), "missing (the model takes "
                + inputs.stream().map(Input::name).toList() + ")");
    }

    private static double[] numbers(Input input, Object column) {
        if (column instanceof double[] values) {
            return values;
        }
        List<?> values = list(input, column, "double[], an array or a List of numbers");
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = number(input, values.get(i), i);
        }
        return out;
    }

    private String[] categories(Input input, Object column) {
        List<?> values = list(input, column, "String[] or a List of strings");
        String[] out = new String[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = category(input, values.get(i), i);
        }
        return out;
    }

    private static List<?> list(Input input, Object column, String expected) {
        if (column instanceof List<?> values) {
            return values;
        }
        if (column instanceof Object[] values) {
            return Arrays.asList(values);
        }
        throw new InvalidInputException(input.name(),
                "expected " + expected + ", got " + column.getClass().getSimpleName());
    }

    private static double number(Input input, Object value, int row) {
        if (value == null) {
            return Double.NaN;
        }
        if (value instanceof Number number) {
            return number.doubleValue();
        }
        throw wrongType(input, value, row, "a number or null");
    }

    private String category(Input input, Object value, int row) {
        if (value == null) {
            return nullCategory;
        }
        if (value instanceof String text) {
            return text;
        }
        throw wrongType(input, value, row, "a string or null");
    }

    private static InvalidInputException wrongType(Input input, Object value, int row, String expected) {
        return new InvalidInputException(input.name(), (row >= 0 ? "row " + row + ": " : "") + "expected " + expected
                + ", got " + value.getClass().getSimpleName() + " " + value);
    }
}
