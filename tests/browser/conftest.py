"""Fixtures for tests in a real browser: a private JupyterLab on loopback and headless Chromium with no internet.

Every test here is marked `browser` (run them alone with `pytest -m browser`, or `pytest tests/browser`).

- JupyterLab starts on 127.0.0.1 with a random token, with fresh config / data / runtime / settings /
  workspace directories (environment variables), a temporary root directory holding copies of the
  notebooks under test, and the notebook setting `windowingMode: none` (otherwise cells scrolled out of
  view are not in the page). It runs as root when the tests do (`--allow-root`).
- Chromium is found at $GPTLAB_CHROMIUM, then on PATH (chromium, chromium-browser, google-chrome). Where
  there is none (a learner's laptop) the tests are skipped and the reason is printed at the end of the run;
  with CI=true a missing browser or a missing Playwright fails them instead.
- Every request the page makes outside 127.0.0.1 is aborted and recorded; `lab.outside_requests` lists them
  and the tests assert it is empty. Nothing is injected into the page.
- Screenshots go to test-artifacts/browser/ at the repository root (git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SETTINGS = {  # JupyterLab user settings for the run: every cell in the DOM, no news pop-up, no update check
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}
_skip_reasons: list[str] = []


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs JupyterLab and headless Chromium (about a minute; skipped without a browser)")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter):
    for reason in dict.fromkeys(_skip_reasons):
        terminalreporter.write_line(f"browser tests skipped: {reason}", yellow=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"CI=true but the browser tests cannot run: {reason}", pytrace=False)
    _skip_reasons.append(reason)
    pytest.skip(reason)


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable to drive, or None."""
    explicit = os.environ.get("GPTLAB_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab: its base URL, token, root directory and log file."""

    url: str
    token: str
    root: Path
    log: Path
    gptlab_cache: str
    process: subprocess.Popen = field(repr=False)

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        _unavailable("no Chromium found (install chromium, or set GPTLAB_CHROMIUM to a Chromium/Chrome executable)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the Python package playwright is not installed (pip install playwright)")
    return path


def notebooks_to_serve() -> dict[str, Path]:
    """name in the temporary root -> source notebook."""
    return {"09_looking_inside.ipynb": ROOT / "lessons" / "09_looking_inside.ipynb",
            "09_looking_inside_solution.ipynb": ROOT / "solutions" / "09_looking_inside.ipynb"}


@pytest.fixture(scope="session")
def lab(chromium_path, tmp_path_factory) -> Lab:
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    root.mkdir()
    for name, source in notebooks_to_serve().items():
        if not source.is_file():
            pytest.fail(f"{source} is missing: run `gptlab lessons` (and execute the solution) first", pytrace=False)
        shutil.copy(source, root / name)
    settings = base / "settings"
    for name, values in SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"), "JUPYTER_PLATFORM_DIRS": "1",
        "GPTLAB_CACHE": env.get("GPTLAB_CACHE", str(base / "gptlab-cache")),
        "PYTHONUNBUFFERED": "1",
    })
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = base / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    server = Lab(f"http://127.0.0.1:{port}", token, root, log, env["GPTLAB_CACHE"], process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{server.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 60 s:\n{server.log_tail()}", pytrace=False)
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Browser:
    """A Chromium page that may reach only 127.0.0.1; what it tried to reach elsewhere, and its errors."""

    page: object
    outside_requests: list[str]
    page_errors: list[str]
    console_errors: list[str]


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about"):
        return True
    return parsed.hostname in ("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="session")
def browser_context(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()
            browser.close()


def guarded_page(context) -> Browser:
    """A new page whose requests outside loopback are aborted and listed; its page and console errors recorded."""
    page = context.new_page()
    state = Browser(page, [], [], [])

    def route(route):
        url = route.request.url
        if _is_loopback(url):
            route.continue_()
        else:
            state.outside_requests.append(url)
            route.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda error: state.page_errors.append(str(error)))
    page.on("console", lambda message: state.console_errors.append(message.text) if message.type == "error" else None)
    return state


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS



@pytest.fixture(scope="session")
def new_page(browser_context):
    """Call it to get a fresh guarded page (a `Browser`); the caller closes `.page`."""
    return lambda: guarded_page(browser_context)
