package dev.atelier.scoring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The library against a real export and the Python model's scores on the same rows (golden rows). Run from
 * tests/integration/test_onnx_export.py, which exports a model and passes {@code -Datelier.export=DIR} and
 * {@code -Datelier.golden=FILE}; without them the tests are skipped.
 */
class AtelierModelTest {
    private static final double TOLERANCE = 1e-5;

    private static AtelierModel model;
    private static Rows golden;
    private static Input number;
    private static Input category;

    @BeforeAll
    static void load() throws IOException {
        String export = System.getProperty("atelier.export");
        String rows = System.getProperty("atelier.golden");
        assumeTrue(export != null && rows != null, "needs -Datelier.export and -Datelier.golden");
        model = AtelierModel.load(Path.of(export));
        golden = Rows.read(Path.of(rows));
        number = first(Input.Type.NUMBER);
        category = first(Input.Type.STRING);
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void aBatchScoresLikeThePythonModel() {
        assertClose(golden.score(), model.predictBatch(golden.columns(model)), "batch");
    }

    @Test
    void rowByRowScoresLikeThePythonModel() {
        double[] scores = IntStream.range(0, golden.size()).mapToDouble(i -> model.predict(golden.row(i))).toArray();
        assertClose(golden.score(), scores, "row by row");
    }

    @Test
    void theGoldenRowsHoldNullsOfBothTypes() {
        int n = golden.names().indexOf(number.name());
        int c = golden.names().indexOf(category.name());
        assertTrue(golden.data().stream().anyMatch(r -> r.get(n) == null), "a null number");
        assertTrue(golden.data().stream().anyMatch(r -> r.get(c) == null), "a null category");
    }

    @Test
    void listsOfBoxedValuesScoreLikeArrays() {
        Map<String, Object> columns = new LinkedHashMap<>();
        for (Input input : model.inputs()) {
            int at = golden.names().indexOf(input.name());
            columns.put(input.name(), golden.data().stream().limit(50).map(r -> r.get(at)).toList());
        }
        double[] expected = new double[50];
        System.arraycopy(golden.score(), 0, expected, 0, 50);
        assertClose(expected, model.predictBatch(columns), "lists");
    }

    @Test
    void anIntegerScoresLikeTheSameDouble() {
        Map<String, Object> row = golden.row(0);
        row.put(number.name(), 3.0);
        double asDouble = model.predict(row);
        row.put(number.name(), 3);
        assertEquals(asDouble, model.predict(row));
    }

    @Test
    void aMissingColumnIsNamed() {
        Map<String, Object> row = golden.row(0);
        row.remove(number.name());
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predict(row));
        assertEquals(number.name(), e.column());
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
        Map<String, Object> columns = golden.columns(model);
        columns.remove(category.name());
        assertEquals(category.name(),
                assertThrows(InvalidInputException.class, () -> model.predictBatch(columns)).column());
    }

    @Test
    void wrongTypesAreRefused() {
        Map<String, Object> row = golden.row(0);
        row.put(number.name(), "12.5");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predict(row));
        assertTrue(e.getMessage().contains("expected a number or null, got String 12.5"), e.getMessage());
        Map<String, Object> other = golden.row(0);
        other.put(category.name(), 7);
        assertEquals(category.name(), assertThrows(InvalidInputException.class, () -> model.predict(other)).column());
        Map<String, Object> columns = golden.columns(model);
        columns.put(number.name(), new int[golden.size()]);
        e = assertThrows(InvalidInputException.class, () -> model.predictBatch(columns));
        assertTrue(e.getMessage().contains("got int[]"), e.getMessage());
    }

    @Test
    void nullWhereNoneIsAllowedIsRefused() {
        assertThrows(NullPointerException.class, () -> model.predict(null));
        assertThrows(NullPointerException.class, () -> model.predictBatch(null));
        Map<String, Object> columns = golden.columns(model);
        columns.put(category.name(), null);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predictBatch(columns));
        assertTrue(e.getMessage().contains("the column is null"), e.getMessage());
    }

    @Test
    void columnsOfUnequalLengthAreRefused() {
        Map<String, Object> columns = golden.columns(model);
        columns.put(number.name(), new double[3]);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.predictBatch(columns));
        assertTrue(e.getMessage().contains("3 rows"), e.getMessage());
    }

    @Test
    void anEmptyBatchHasNoScores() {
        Map<String, Object> columns = new LinkedHashMap<>();
        for (Input input : model.inputs()) {
            columns.put(input.name(), input.type() == Input.Type.NUMBER ? new double[0] : new String[0]);
        }
        assertEquals(0, model.predictBatch(columns).length);
    }

    @Test
    void concurrentCallersGetTheSameAnswersAsOne() throws Exception {
        int rows = Math.min(400, golden.size());
        double[] alone = IntStream.range(0, rows).mapToDouble(i -> model.predict(golden.row(i))).toArray();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<double[]>> runs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                runs.add(pool.submit(() -> IntStream.range(0, rows).mapToDouble(i -> model.predict(golden.row(i)))
                        .toArray()));
            }
            for (Future<double[]> run : runs) {
                assertArrayEquals(alone, run.get());
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void theModelSaysWhatItIs() {
        assertTrue(!model.name().isEmpty() && !model.version().isEmpty() && !model.trainingRunId().isEmpty());
        assertEquals(golden.names().size(), model.inputs().size());
        double cut = model.threshold().orElseThrow();
        assertEquals(1, model.label(cut));
        assertEquals(0, model.label(Math.nextDown(cut)));
    }

    @Test
    void aFolderWithoutAModelIsNamed(@TempDir Path empty) {
        NoSuchFileException e = assertThrows(NoSuchFileException.class, () -> AtelierModel.load(empty));
        assertTrue(e.getMessage().contains("model.onnx"), e.getMessage());
    }

    private static Input first(Input.Type type) {
        return model.inputs().stream().filter(i -> i.type() == type).findFirst().orElseThrow();
    }

    private static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length);
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            worst = Math.max(worst, Math.abs(expected[i] - actual[i]));
        }
        System.out.printf("%s: %d rows, max |java - python| = %.3g%n", what, expected.length, worst);
        assertTrue(worst <= TOLERANCE, what + ": max |java - python| = " + worst);
    }
}
