package dev.atelier.scoring;

/**
 * One raw feature column the model takes.
 *
 * @param name the column name, as in the feature table
 * @param type what its values are
 */
public record Input(String name, Type type) {

    /** The value type of a column. */
    public enum Type {
        /** Any {@link Number}; null (or NaN) is imputed to the training mean. */
        NUMBER,
        /** A {@link String}; null, and any value not seen in training, take the out-of-vocabulary bucket. */
        STRING
    }
}
