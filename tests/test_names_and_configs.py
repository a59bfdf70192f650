"""Run names, `--out` folders and config files are checked before any work is done.

Each refusal is exit 2 and one line starting `error: `, and every file under the test's folder
(the config, the out folder's contents) has the same bytes afterwards, with nothing added: no
run directory inside `--out` or outside it. A config's size, nesting and YAML anchors are
refused before the file is expanded, so an alias bomb costs neither memory nor time.
"""

import hashlib
import os
import resource
import subprocess
import sys
import time

import pytest

from conftest import one_line_error
from taskkit.errors import BadInputError
from taskkit.storage.config import MAX_CONFIG_BYTES, read_config
from taskkit.storage.runs import claim_run_dir

BASE = ["classify", "--data", "digits", "--backbone", "linear", "--epochs", "1", "--quiet", "--device", "cpu"]

# 9 levels of 9 aliases: a few hundred bytes that stand for 9**9 strings once expanded.
BOMB = "epochs: [" + ", ".join(
    ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"&{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]) + "]\n"

# A fresh interpreter that runs `tk ARGS` and then says whether torch was imported on the way.
SAY_IF_TORCH_CAME = ("import sys\nfrom taskkit.cli.app import main\ncode = 0\n"
                     "try:\n    main(sys.argv[1:])\nexcept SystemExit as exit:\n    code = exit.code\n"
                     "print('torch imported' if 'torch' in sys.modules else 'no torch')\nsys.exit(code)\n")
ADDRESS_SPACE = 2 << 30


def snapshot(root):
    """Every path under `root`, with the sha256 of each file's bytes (None for a folder)."""
    found = {}
    for path in sorted(root.rglob("*")):
        found[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest()
                                              if path.is_file() else None)
    return found


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A folder with an out folder holding an earlier file, a config, a plain file; cwd is inside it,
    so a default `runs/` would show up in the snapshot too."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "earlier.txt").write_text("an earlier run's notes\n")
    (tmp_path / "plain.yaml").write_text("epochs: 1\n")
    (tmp_path / "afile").write_text("not a folder\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refused(capsys, root, *args):
    """`tk ARGS` in this process: one line, exit 2, and every file under `root` as it was."""
    before = snapshot(root)
    line = one_line_error(capsys, *args)
    assert snapshot(root) == before
    return line


def in_a_fresh_process(*args, cwd, address_space=None):
    """`tk ARGS` in a new interpreter, optionally with its address space capped: (result, seconds)."""
    limit = None
    if address_space is not None:
        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    env = {k: v for k, v in os.environ.items() if k not in ("TK_PLUGINS", "TK_DISABLE_PLUGIN_AUTOLOAD")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SAY_IF_TORCH_CAME, *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, preexec_fn=limit)
    return done, time.perf_counter() - start


def only_error_line(done):
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    return lines[0]


# Run names

NAMES = {
    "parent": ("../x", "run name '../x' is a path, not a name (it has '/' or '\\')"),
    "absolute": ("{root}/elsewhere/run", "is a path, not a name (it has '/' or '\\')"),
    "nested": ("a/b", "run name 'a/b' is a path, not a name"),
    "backslash": ("a\\b", "is a path, not a name"),
    "dot-dot": ("..", "run name '..' is not a folder name ('.' and '..' point at folders that exist)"),
    "dot": (".", "run name '.' is not a folder name"),
    "control": ("a\tb", "run name 'a\\tb' has a control character"),
    "too long": ("n" * 300, "is 300 characters long; at most 100 are allowed"),
    "too many bytes": ("名" * 80, "takes 240 bytes; at most 200 are allowed"),
}


@pytest.mark.parametrize("case", NAMES)
def test_a_run_name_that_is_not_one_folder_name_is_one_line(capsys, place, case):
    name, expected = NAMES[case]
    line = refused(capsys, place, *BASE, "--out", str(place / "out"), "--name", name.format(root=place))
    assert expected in line
    assert "a run name is one folder name under --out, e.g. --name my-run" in line
    assert len(line) < 300


def test_a_long_name_is_cut_in_the_message(capsys, place):
    line = refused(capsys, place, *BASE, "--out", str(place / "out"), "--name", "n" * 300)
    assert "…" in line and "n" * 61 not in line


def test_a_name_from_a_config_file_is_checked_alike(capsys, place):
    config = place / "named.yaml"
    config.write_text("name: ../escaped\n")
    line = refused(capsys, place, *BASE, "--out", str(place / "out"), "--config", str(config))
    assert "run name '../escaped' is a path, not a name" in line
    config.write_text("name: 2024\n")
    assert "run name 2024 is a int, not text; put it in quotes" in refused(capsys, place, *BASE, "--config",
                                                                         str(config))


def test_a_name_of_100_characters_makes_its_run(tk_here, place):
    done = tk_here(*BASE, "--out", str(place / "out"), "--name", "n" * 100)
    assert done.returncode == 0, done.stderr
    assert (place / "out" / ("n" * 100) / "model.safetensors").is_file()


def test_the_name_is_refused_before_torch_is_imported(place):
    done, _ = in_a_fresh_process(*BASE, "--out", str(place / "out"), "--name", "../x", cwd=place)
    assert only_error_line(done).startswith("error: run name '../x' is a path")
    assert done.stdout.strip() == "no torch"
    assert not (place / "x").exists()


def test_a_task_called_from_python_checks_the_name_before_its_run(place):
    from taskkit.task import Task

    class Elsewhere(Task):
        @classmethod
        def run(cls, call):
            raise AssertionError("run was reached with a bad name")

    with pytest.raises(BadInputError, match="run name '../x' is a path"):
        Elsewhere.call(name="../x", out=str(place / "out"))


@pytest.mark.parametrize("name", ["../x", "/abs/x", "a/b", "..", "", "n" * 300])
def test_claiming_a_run_directory_checks_the_name_again(place, name):
    before = snapshot(place)
    with pytest.raises(BadInputError) as refusal:
        claim_run_dir(place / "new-out", name)
    assert "\n" not in str(refusal.value) and len(str(refusal.value)) < 300
    assert snapshot(place) == before


# --out

def test_out_naming_a_file_is_one_line(capsys, place):
    line = refused(capsys, place, *BASE, "--out", "afile")
    assert line == "error: --out afile is a file, not a folder; pass a folder you can write to"


def test_out_under_a_file_is_one_line(capsys, place):
    line = refused(capsys, place, *BASE, "--out", "afile/sub")
    assert line == "error: --out afile/sub cannot be created: afile is not a folder; pass a folder you can write to"


def test_out_on_a_read_only_folder_is_one_line(capsys, place):
    locked = place / "locked"
    locked.mkdir()
    (locked / "kept.txt").write_text("kept\n")
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user (root) can write into a folder whatever its mode")
        line = refused(capsys, place, *BASE, "--out", str(locked))
        assert line == f"error: --out {locked} is a folder you cannot write to; pass a folder you can write to"
        line = refused(capsys, place, *BASE, "--out", str(locked / "new" / "deeper"))
        assert f"cannot be created: {locked} is a folder you cannot write to" in line
    finally:
        locked.chmod(0o700)


def test_out_the_system_says_is_not_writable_is_one_line(capsys, place, monkeypatch):
    """The same refusal with `os.access` answering as it does for a non-root user or a read-only
    mount, so it is proven where the tests run as root too."""
    locked, real_access = place / "locked", os.access
    locked.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: (
        not mode & os.W_OK if os.fspath(path) == str(locked) else real_access(path, mode, **kw)))
    line = refused(capsys, place, *BASE, "--out", str(locked))
    assert line == f"error: --out {locked} is a folder you cannot write to; pass a folder you can write to"
    line = refused(capsys, place, *BASE, "--out", str(locked / "sub"))
    assert line == (f"error: --out {locked / 'sub'} cannot be created: {locked} is a folder you cannot write to; "
                    f"pass a folder you can write to")


def test_out_from_a_config_file_is_checked_alike(capsys, place):
    config = place / "out.yaml"
    config.write_text("out: afile\n")
    line = refused(capsys, place, *BASE, "--config", str(config))
    assert line == "error: --out afile is a file, not a folder; pass a folder you can write to"
    config.write_text("out: null\n")
    line = refused(capsys, place, *BASE, "--config", str(config))
    assert line == "error: --out None is not a folder path; pass a folder for run directories"


def test_an_out_folder_that_does_not_exist_yet_is_made(tk_here, place):
    done = tk_here(*BASE, "--out", str(place / "new" / "deeper"), "--name", "r")
    assert done.returncode == 0, done.stderr
    assert (place / "new" / "deeper" / "r" / "run.json").is_file()


# Config files

def test_an_alias_bomb_is_refused_at_once_without_expanding(place):
    bomb = place / "bomb.yaml"
    bomb.write_text(BOMB)
    assert len(BOMB) < 450
    helped, _ = in_a_fresh_process("classify", "--help", cwd=place, address_space=ADDRESS_SPACE)
    assert helped.returncode == 0, helped.stderr  # the cap leaves room for an ordinary command
    before = snapshot(place)
    done, seconds = in_a_fresh_process(*BASE, "--config", str(bomb), "--out", str(place / "out"), cwd=place,
                                       address_space=ADDRESS_SPACE)
    line = only_error_line(done)
    assert line == (f"error: {bomb} line 1 uses a YAML anchor (&a); a config takes no anchors or aliases, "
                    f"so write each value out in full")
    assert done.stdout.strip() == "no torch"
    # The address-space cap is the guard; expanding the bomb would run for minutes, so this bound
    # only has to tell "refused at once" from that on a loaded machine, not time the refusal.
    assert seconds < 20.0, f"refusing the bomb took {seconds:.2f} s"
    assert snapshot(place) == before


def test_a_config_with_an_anchor_or_alias_is_refused_naming_the_file(capsys, place):
    config = place / "anchored.yaml"
    config.write_text("epochs: 2\nlr: &rate 0.1\n")
    line = refused(capsys, place, *BASE, "--config", str(config))
    assert line == (f"error: {config} line 2 uses a YAML anchor (&rate); a config takes no anchors or aliases, "
                    f"so write each value out in full")
    config.write_text("lr: *rate\n")
    assert f"{config} line 1 uses a YAML alias (*rate)" in refused(capsys, place, *BASE, "--config", str(config))
    config.write_text("base: &b {lr: 0.1}\n<<: *b\n")
    assert f"{config} line 1 uses a YAML anchor (&b)" in refused(capsys, place, *BASE, "--config", str(config))


def test_a_config_over_the_size_limit_is_refused_naming_the_file(capsys, place):
    config = place / "huge.yaml"
    config.write_text("epochs: 1\n" + "# padding\n" * (MAX_CONFIG_BYTES // 10))
    line = refused(capsys, place, *BASE, "--config", str(config))
    assert line == f"error: {config} is larger than 1 MiB, the most tk reads from such a file"


def test_a_config_nested_too_deep_is_one_line(capsys, place):
    config = place / "deep.yaml"
    config.write_text("epochs: " + "[" * 50_000 + "]" * 50_000 + "\n")
    line = refused(capsys, place, *BASE, "--config", str(config))
    assert line.startswith(f"error: {config} line 1 nests lists or mappings more than 20 deep")


def test_a_config_that_is_a_directory_says_so(capsys, place):
    line = refused(capsys, place, *BASE, "--config", str(place / "out"))
    assert line == f"error: config file {place / 'out'} is a directory; pass a YAML file"
    (place / "out" / "config.yaml").write_text("epochs: 1\n")
    line = refused(capsys, place, *BASE, "--config", str(place / "out"))
    assert line.endswith(f"is a directory; pass a YAML file, e.g. {place / 'out' / 'config.yaml'}")


def test_a_long_value_in_a_config_gives_a_short_line(capsys, place):
    config = place / "long.yaml"
    config.write_text(f"epochs: '{'9' * 100_000}'\n")
    line = refused(capsys, place, *BASE, "--config", str(config))
    assert line.startswith(f"error: option 'epochs' in {config} should be int, got str '999") and len(line) < 320


def test_resume_refuses_an_anchored_config_yaml(capsys, place):
    run = place / "out" / "stopped"
    run.mkdir()
    (run / "config.yaml").write_text(BOMB)
    line = refused(capsys, place, "classify", "--resume", str(run))
    assert line.startswith(f"error: {run / 'config.yaml'} line 1 uses a YAML anchor (&a)")


def test_read_config_checks_the_file_before_reading(tmp_path):
    with pytest.raises(BadInputError, match="is a directory"):
        read_config(tmp_path)
    with pytest.raises(BadInputError, match="does not exist"):
        read_config(tmp_path / "missing.yaml")
    with pytest.raises(BadInputError, match="is not a regular file"):
        read_config("/dev/zero")


def test_a_plain_config_and_a_resume_still_read(tk_here, place):
    first = tk_here(*BASE, "--out", str(place / "out"), "--name", "a")
    assert first.returncode == 0, first.stderr
    again = tk_here("classify", "--config", str(place / "out" / "a" / "config.yaml"))
    assert again.returncode == 0, again.stderr
    assert (place / "out" / "a-2" / "model.safetensors").is_file()
    resumed = tk_here("classify", "--resume", str(place / "out" / "a"), "--epochs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert len((place / "out" / "a" / "metrics.csv").read_text().splitlines()) == 3  # header and 2 epochs
    assert read_config(place / "plain.yaml") == {"epochs": 1}


@pytest.mark.parametrize("command", [["cv", "classify"], ["tune", "classify", "--param", "lr=loguniform(1e-4,1e-1)"],
                                     ["lr-find", "classify"]])
def test_driving_commands_hold_their_name_to_the_same_rule(capsys, tmp_path, command):
    line = one_line_error(capsys, *command, "--name", "../escaped", "--out", str(tmp_path / "runs"))
    assert "run name '../escaped' is a path, not a name" in line
    assert list(tmp_path.iterdir()) == []
