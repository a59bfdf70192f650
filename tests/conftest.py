import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DATA = Path(__file__).resolve().parent / "data" / "plugins"


def run_tk(*args, env=None, cwd=None, timeout=120):
    """Run `python -m taskkit` in a fresh process, as a user's shell would run `tk`."""
    full_env = {**os.environ, **(env or {})}
    for key in ("TK_PLUGINS", "TK_DISABLE_PLUGIN_AUTOLOAD"):
        if env is None or key not in env:
            full_env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "taskkit", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )


@pytest.fixture
def tk():
    return run_tk


@pytest.fixture
def plugin_data():
    return PLUGIN_DATA
