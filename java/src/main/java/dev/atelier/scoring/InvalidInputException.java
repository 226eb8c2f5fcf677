package dev.atelier.scoring;

/** An input the model cannot score: a missing column, a value of the wrong type, or columns of unequal length. */
public final class InvalidInputException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String column;

    InvalidInputException(String column, String message) {
        super("column '" + column + "': " + message);
        this.column = column;
    }

    /** The column at fault. */
    public String column() {
        return column;
    }
}
