"""Two tiers in one pytest run (docs/testing.md): the fast tier (unit tests, then the in-process Spark
tests), then the end-to-end tier (marker `e2e`: tests that start processes of their own).

One process runs both, so the session's expensive fixtures (the SparkSession, the training lake, the
trained champion and challenger) are built once for the two tiers. A failure in the fast tier stops
the run before the end-to-end tier starts: a broken unit shows in minutes, not at the end. The
terminal summary gives each tier's minutes.
"""

from __future__ import annotations

import time

import pytest

E2E = "e2e"


def is_e2e(item: pytest.Item) -> bool:
    return item.get_closest_marker(E2E) is not None


class Tiers:
    """Orders the tiers, stops after a failed fast tier, and times both."""

    def __init__(self) -> None:
        self.fast_failures: list[str] = []
        self.started = time.monotonic()
        self.e2e_started: float | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        items.sort(key=is_e2e)  # stable: collection order within each tier

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and E2E not in report.keywords:
            self.fast_failures.append(report.nodeid)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        if self.e2e_started is None and is_e2e(item):
            self.e2e_started = time.monotonic()
        result = yield
        if self.fast_failures and not is_e2e(item) and nextitem is not None and is_e2e(nextitem):
            item.session.shouldstop = (
                f"the fast tier failed ({len(self.fast_failures)} test(s)): the end-to-end tier did not run"
            )
        return result

    def pytest_terminal_summary(self, terminalreporter) -> None:
        now = time.monotonic()
        split = self.e2e_started or now
        terminalreporter.write_line(
            f"tiers: fast {(split - self.started) / 60:.1f} min, end-to-end {(now - split) / 60:.1f} min"
        )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Tiers(), "atelier-tiers")
