"""atelier: a Spark-centric batch ML platform driven by YAML use cases."""

from __future__ import annotations

__version__ = "0.1.0"
