package dev.atelier.scoring;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Feature rows written by the Python side ({@code atelier.tracking.onnx_export.write_rows}): JSON with
 * {@code columns}, {@code data} (rows of values, null for missing) and the Python model's {@code score} per row.
 */
record Rows(List<String> names, List<List<Object>> data, double[] score) {

    @SuppressWarnings("unchecked")
    static Rows read(Path file) throws IOException {
        Map<String, Object> json = new ObjectMapper().readValue(file.toFile(), Map.class);
        List<Number> score = (List<Number>) json.get("score");
        return new Rows((List<String>) json.get("columns"), (List<List<Object>>) json.get("data"),
                score.stream().mapToDouble(Number::doubleValue).toArray());
    }

    int size() {
        return data.size();
    }

    /** Row {@code i} as column name to value (Double, Integer, String or null, as JSON gave them). */
    Map<String, Object> row(int i) {
        Map<String, Object> row = new LinkedHashMap<>();
        for (int j = 0; j < names.size(); j++) {
            row.put(names.get(j), data.get(i).get(j));
        }
        return row;
    }

    /** The rows column by column, as a service would hold them: double[] (NaN for null) or String[]. */
    Map<String, Object> columns(AtelierModel model) {
        Map<String, Object> columns = new LinkedHashMap<>();
        for (Input input : model.inputs()) {
            int j = names.indexOf(input.name());
            if (input.type() == Input.Type.NUMBER) {
                columns.put(input.name(), data.stream()
                        .mapToDouble(r -> r.get(j) == null ? Double.NaN : ((Number) r.get(j)).doubleValue()).toArray());
            } else {
                columns.put(input.name(), data.stream().map(r -> (String) r.get(j)).toArray(String[]::new));
            }
        }
        return columns;
    }
}
