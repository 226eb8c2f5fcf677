"""docs/config-reference.md is what scripts/config_reference.py writes from the current schema."""

from __future__ import annotations

import importlib.util

from tests.conftest import REPO


def test_the_committed_config_reference_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("config_reference", REPO / "scripts" / "config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (REPO / "docs" / "config-reference.md").read_text()
    assert committed == module.render(), (
        "docs/config-reference.md is out of date: run .venv/bin/python scripts/config_reference.py"
    )
