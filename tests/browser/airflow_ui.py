"""Drive the Airflow UI in headless Chromium (Playwright, run by .venv-airflow's Python).

    python tests/browser/airflow_ui.py URL USER PASSWORD DAG_ID LOGICAL_DATE SCREENSHOT_DIR

Logs in, lists the DAGs, opens DAG_ID, triggers it for LOGICAL_DATE (unpausing it on trigger),
waits until the run USER triggered shows success or failure in the Runs tab, and saves screenshots
on the way.
Prints one JSON line: the DAG ids seen, the final state, the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = os.environ.get("ATELIER_CHROMIUM", "/usr/bin/chromium")
RELOAD_S = 30  # the Runs tab is reloaded when it showed no final state for this long


def login(page: Page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.get_by_label(re.compile("username", re.I)).fill(user)
    page.get_by_label(re.compile("password", re.I)).first.fill(password)
    page.get_by_role("button", name=re.compile("sign in|log in|login", re.I)).click()
    page.wait_for_url(re.compile(r"^(?!.*login).*$"), timeout=60_000)


def trigger(page: Page, logical_date: str) -> str:
    """Open the trigger dialog, pick a single run at LOGICAL_DATE 00:00 (unpause on trigger stays ticked), trigger.

    Returns what the dialog's date field showed before the click.
    """
    page.get_by_role("button", name=re.compile("^trigger", re.I)).first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Single Run", exact=True).click()
    page.get_by_test_id("datetime-input").click()
    page.get_by_placeholder("YYYY/MM/DD").fill(logical_date.replace("-", "/"))
    page.get_by_placeholder("HH:mm").fill("00:00")
    dialog.get_by_text("Logical Date", exact=True).click()  # closes the date picker
    shown = page.get_by_test_id("datetime-input").inner_text()
    unpause = dialog.get_by_role("checkbox")  # shown only while the DAG is paused
    if unpause.count() and not unpause.is_checked():
        unpause.check()
    dialog.get_by_role("button", name=re.compile("^trigger$", re.I)).click()
    return shown


def run_state(page: Page, url: str, dag_id: str, user: str, timeout_s: float) -> str:
    """Open the DAG's Runs tab and wait until the newest run USER triggered shows a final state.

    The tab refreshes itself while a run is active (Airflow's `auto_refresh_interval`); the page is
    reloaded only if it shows nothing new for RELOAD_S. (Loading the whole UI every 2 s kept a core
    busy in Chromium and the API server while the run's Spark jobs waited for it.)
    """
    deadline = time.monotonic() + timeout_s
    page.goto(f"{url}/dags/{dag_id}/runs")
    row = page.get_by_role("row").filter(has=page.get_by_text(user, exact=True)).first
    final = row.filter(has_text=re.compile(r"success|failed", re.I))
    while time.monotonic() < deadline:
        try:
            final.wait_for(timeout=RELOAD_S * 1000)
        except PlaywrightTimeout:  # not listed yet, still running, or the tab did not refresh
            page.reload()
            continue
        text = row.inner_text().lower()
        return next(state for state in ("success", "failed") if state in text)
    return "timeout"


def main(url: str, user: str, password: str, dag_id: str, logical_date: str, shots: str) -> None:
    out = Path(shots)
    out.mkdir(parents=True, exist_ok=True)
    seen: dict = {"screenshots": []}

    def shot(page: Page, name: str) -> None:
        path = out / f"airflow-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        seen["screenshots"].append(str(path))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            login(page, url, user, password)
            page.goto(f"{url}/dags")
            page.get_by_text(dag_id, exact=True).first.wait_for(timeout=60_000)
            seen["dags"] = sorted(set(re.findall(r"\b\w+_(?:daily|retrain)\b", page.inner_text("body"))))
            shot(page, "dags")
            page.goto(f"{url}/dags/{dag_id}")
            seen["date_field"] = trigger(page, logical_date)
            shot(page, "triggered")
            seen["state"] = run_state(page, url, dag_id, user, float(os.environ.get("ATELIER_UI_WAIT_S", 900)))
            page.goto(f"{url}/dags/{dag_id}")
            page.wait_for_timeout(3000)
            shot(page, f"{dag_id}-{logical_date}")
        except Exception as exc:  # the screenshot shows where it stopped
            seen["error"] = f"{type(exc).__name__}: {exc}"
            shot(page, "error")
        finally:
            browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:7])
