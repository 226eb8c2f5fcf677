"""Configuration: pydantic schema and the YAML loader (base + env overlay + --set overrides)."""

from __future__ import annotations

from atelier.config.loader import load_platform, load_use_case
from atelier.config.platform import PlatformConfig
from atelier.config.use_case import UseCaseConfig

__all__ = ["PlatformConfig", "UseCaseConfig", "load_platform", "load_use_case"]
