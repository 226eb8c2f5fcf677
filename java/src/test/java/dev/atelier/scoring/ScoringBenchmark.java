package dev.atelier.scoring;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Rows/s of {@link AtelierModel#predictBatch} on one thread (ONNX Runtime intra-op threads 1), all rows in one call,
 * best of the repeats after warm-up, and of {@link AtelierModel#predict} row by row on the first rows. Driven by
 * bench/java_scoring.py; prints one JSON line.
 *
 * <p>Arguments: export folder, rows file (with the Python model's scores), repeats.
 */
public final class ScoringBenchmark {
    private ScoringBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path export = Path.of(args[0]);
        Rows rows = Rows.read(Path.of(args[1]));
        int repeats = Integer.parseInt(args[2]);
        try (AtelierModel model = AtelierModel.load(export, 1)) {
            Map<String, Object> columns = rows.columns(model);
            double[] scores = model.predictBatch(columns);
            double best = Double.MAX_VALUE;
            for (int r = 0; r < repeats; r++) {
                long start = System.nanoTime();
                model.predictBatch(columns);
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
            }
            double worst = 0;
            for (int i = 0; i < scores.length; i++) {
                worst = Math.max(worst, Math.abs(scores[i] - rows.score()[i]));
            }
            List<Map<String, Object>> single = IntStream.range(0, Math.min(20_000, rows.size())).mapToObj(rows::row)
                    .toList();
            single.forEach(model::predict);  // warm-up
            long start = System.nanoTime();
            single.forEach(model::predict);
            double rowByRow = single.size() / ((System.nanoTime() - start) / 1e9);
            System.out.printf(Locale.ROOT, "{\"rows\": %d, \"batch_rows_per_s\": %.1f, \"row_rows_per_s\": %.1f, "
                    + "\"max_abs_diff\": %.6g}%n", rows.size(), rows.size() / best, rowByRow, worst);
        }
    }
}
