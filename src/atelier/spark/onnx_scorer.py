"""The JVM side of the `jvm` scoring engine: `OnnxScorer` (java/atelier/scoring/OnnxScorer.java),
compiled against Spark's own jars and ONNX Runtime's Java package (`java_build`)."""

from __future__ import annotations

from pathlib import Path

from atelier.spark.java_build import SOURCES, compiled_jar

SOURCE = SOURCES / "atelier" / "scoring" / "OnnxScorer.java"
CLASS = "atelier.scoring.OnnxScorer"
# The newest ONNX Runtime on Maven Central (as java/pom.xml); its jar carries the native libraries.
ONNXRUNTIME_VERSION = "1.29.0"
ONNXRUNTIME = f"com.microsoft.onnxruntime:onnxruntime:{ONNXRUNTIME_VERSION}"
ONNXRUNTIME_JAR = f"com.microsoft.onnxruntime_onnxruntime-{ONNXRUNTIME_VERSION}.jar"  # its name in the Ivy cache


def scorer_jar(spark_jars: Path, onnxruntime: Path) -> Path:
    """The jar of OnnxScorer compiled against the jars of `spark_jars` (Spark's) and ONNX Runtime's."""
    return compiled_jar("atelier-onnx-scorer", [SOURCE], [*sorted(spark_jars.glob("*.jar")), onnxruntime])
