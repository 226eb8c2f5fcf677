"""The training features' reference profile: summary statistics and binned distributions.

Numeric features are binned at their training deciles (open-ended first and last bins, nulls apart),
categorical features by their most frequent values plus `<other>`. The same bins applied to later
data give the drift statistics (PSI) that monitoring compares with this reference. Three Spark
jobs in all, whatever the number of features.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

OTHER, NULL = "<other>", "<null>"


def reference_profile(df: DataFrame, numeric: list[str], categorical: list[str], top: int = 20) -> dict:
    """{"rows": n, "features": {name: {type, bins, shares, null_share, ...stats}}} for `df`."""
    rows = df.count()
    features: dict[str, dict] = {}
    if numeric:
        stats = df.agg(*[f(c).alias(f"{n}_{i}") for i, c in enumerate(numeric) for n, f in
                         (("mean", F.mean), ("std", F.stddev_pop), ("min", F.min), ("max", F.max),
                          ("nulls", lambda c: F.sum(F.col(c).isNull().cast("int"))))]).collect()[0]
        quantiles = df.approxQuantile(numeric, [i / 10 for i in range(1, 10)], 0.001)
        for i, c in enumerate(numeric):
            edges = sorted(set(quantiles[i]))
            features[c] = {
                "type": "numeric", "edges": edges,
                "bins": [f"<= {edges[0]:.4g}"] + [f"({a:.4g}, {b:.4g}]" for a, b in zip(edges, edges[1:])]
                + [f"> {edges[-1]:.4g}"] if edges else [NULL],
                **{k: _float(stats[f"{k}_{i}"]) for k in ("mean", "std", "min", "max")},
                "null_share": (stats[f"nulls_{i}"] or 0) / rows if rows else 0.0,
            }
    counts = _bucket_counts(df, numeric, categorical, features, top)
    for c in categorical:
        found = counts.setdefault(c, {})
        ranked = sorted((k for k in found if k not in (OTHER, NULL)), key=lambda k: (-found[k], k))[:top]
        features[c] = {"type": "categorical", "bins": ranked + [OTHER], "null_share": found.get(NULL, 0) / rows if rows else 0.0}
        found[OTHER] = sum(v for k, v in found.items() if k not in ranked and k != NULL)
    for name, feat in features.items():
        found = counts.get(name, {})
        feat["shares"] = [found.get(b if feat["type"] == "categorical" else str(i), 0) / rows if rows else 0.0
                          for i, b in enumerate(feat["bins"])]
    return {"rows": rows, "features": {c: features[c] for c in numeric + categorical if c in features}}


def numeric_bucket(column: str, edges: list[float]) -> F.Column:
    """The index of the decile bin a value falls in (0..len(edges)); null stays null."""
    index = sum((F.col(column) > F.lit(e)).cast("int") for e in edges) if edges else F.lit(0)
    return F.when(F.col(column).isNotNull(), index)


def _bucket_counts(df: DataFrame, numeric: list[str], categorical: list[str], features: dict, top: int) -> dict:
    pairs = [F.struct(F.lit(c).alias("f"), F.coalesce(numeric_bucket(c, features[c]["edges"]).cast("string"),
                                                      F.lit(NULL)).alias("b")) for c in numeric]
    pairs += [F.struct(F.lit(c).alias("f"), F.coalesce(F.col(c).cast("string"), F.lit(NULL)).alias("b"))
              for c in categorical]
    if not pairs:
        return {}
    counted = df.select(F.explode(F.array(*pairs)).alias("p")).groupBy("p.f", "p.b").count().collect()
    out: dict[str, dict[str, int]] = {}
    for row in counted:
        out.setdefault(row["f"], {})[row["b"]] = int(row["count"])
    return out


def _float(value) -> float | None:
    return None if value is None else float(value)
