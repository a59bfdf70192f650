import json
import os
import shutil
import subprocess
import sys
import time
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


@pytest.fixture
def tk_here(capsys):
    """`tk ARGS` run in this process, answering like `run_tk` (returncode, stdout, stderr) without
    a new interpreter's seconds of imports; for tests that need no environment of their own."""
    def run(*args):
        code, out, err = tk_in_process(capsys, *args)
        return subprocess.CompletedProcess(["tk", *args], code, out, err)

    return run


def tk_in_process(capsys, *args):
    """Run `tk ARGS` in this process; returns (exit code, stdout, stderr)."""
    from taskkit.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def one_line_error(capsys, *args):
    """Run `tk ARGS` in this process, check it is bad input told in one line, and return that line."""
    code, out, err = tk_in_process(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def wait_for(path, process, timeout=120):
    """Wait until `path` exists while `process` is still running (to kill it at a known point)."""
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.time() < deadline
        time.sleep(0.005)


def kill_at_a_random_step_then_resume(task, args, out, epochs=3):
    """Run `tk TASK ARGS` whole; run it again, SIGKILL it at a random moment of its second epoch and
    `--resume` it. Returns the two run directories and the delay, for comparing what they wrote."""
    import csv
    import random
    import signal

    command = [sys.executable, "-m", "taskkit", task, *args, "--epochs", str(epochs), "--out", str(out)]
    subprocess.run([*command, "--name", "whole"], check=True, capture_output=True)
    victim = subprocess.Popen([*command, "--name", "killed"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(out / "killed" / "metrics.csv", victim)
    first_epoch = float(next(csv.DictReader(open(out / "whole" / "metrics.csv")))["time"])
    delay = random.uniform(0.0, 0.8 * first_epoch)
    time.sleep(delay)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done = len(list(csv.DictReader(open(out / "killed" / "metrics.csv"))))
    assert done < epochs, f"the run finished before it was killed ({delay:.2f} s into epoch 2)"
    resumed = subprocess.run([sys.executable, "-m", "taskkit", task, "--resume", str(out / "killed"), "--quiet"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(csv.DictReader(open(out / "killed" / "metrics.csv")))) == epochs
    return out / "whole", out / "killed", delay


def pip_install_plugins(tmp_path_factory, *packages):
    """Install the plugin packages of tests/data/plugins with pip into a fresh folder, as a user's
    `pip install` would; returns the environment in which `tk` finds them."""
    target, sources = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("src")
    for package in packages:
        source = shutil.copytree(PLUGIN_DATA / package, sources / package)  # builds write in-tree
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
             "--no-build-isolation", "--target", str(target), str(source)],
            check=True, capture_output=True, text=True,
        )
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


PREDICT_AND_SAY_IF_TORCH_CAME = (
    "import json, sys\nfrom taskkit.cli.app import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
    "print(json.dumps({'torch_imported': 'torch' in sys.modules}))\n")


def predict_without_torch(model, *args):
    """`tk predict MODEL ARGS... --json` in a fresh interpreter: its answers, once it is checked
    that answering from an exported file imported no torch."""
    done = subprocess.run([sys.executable, "-c", PREDICT_AND_SAY_IF_TORCH_CAME, "predict", str(model), *args,
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers, flag = done.stdout.rsplit("\n{", 1)
    assert json.loads("{" + flag) == {"torch_imported": False}
    return json.loads(answers)
