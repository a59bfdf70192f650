import json
import subprocess
import sys


def test_help_imports_no_torch():
    probe = (
        "import sys\n"
        "from taskkit.cli.app import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm'))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "list" in result.stdout and "HEAVY []" in result.stdout
    importtime = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import taskkit.cli.app"], capture_output=True, text=True
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in importtime.stderr.splitlines()]
    assert "taskkit.cli.app" in imported and "torch" not in imported


def test_version(tk_here):
    result = tk_here("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("taskkit 0.1.0 (torch ")


def test_info_with_a_typo_exits_2_with_one_line_suggestion(tk_here):
    result = tk_here("info", "focl")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["error: unknown component 'focl'; did you mean 'focal'? see `tk list`"]
    assert result.stdout == ""


def test_unknown_kind_and_debug_traceback(tk):
    result = tk("list", "lossse")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown kind 'lossse'; did you mean 'losses'? kinds are: "
        "backbones, heads, losses, augmentations, tokenizers, tasks, formats"
    )
    debug = tk("--debug", "list", "lossse")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_list_filters_by_kind_and_pattern(tk_here):
    rows = json.loads(tk_here("list", "losses", "*focal", "--json").stdout)
    assert [(r["name"], r["plugin"]) for r in rows] == [("binary-focal", "losses"), ("focal", "losses")]
    anywhere = json.loads(tk_here("list", "cross*", "--json").stdout)
    assert [r["kind"] for r in anywhere] == ["loss"]
    table = tk_here("list", "losses")
    assert table.returncode == 0
    assert "label-smoothing" in table.stdout and "Cross-entropy against targets" in table.stdout


def test_info_shows_doc_plugin_and_options(tk_here):
    result = tk_here("info", "focal")
    assert result.returncode == 0
    assert result.stdout.startswith("focal (loss) from plugin 'losses' (taskkit 0.1.0)")
    assert "gamma = 2.0" in result.stdout and "alpha = None" in result.stdout
    assert "(1 - p_t)^gamma" in result.stdout
    via_alias = json.loads(tk_here("info", "ce", "--json").stdout)
    assert via_alias[0]["name"] == "cross-entropy" and via_alias[0]["aliases"] == ["ce"]


def test_local_plugin_task_gets_a_command(tk, plugin_data):
    path = str(plugin_data / "local_task.py")
    result = tk("--plugin", path, "greet", "--name", "Ada")
    assert result.returncode == 0 and result.stdout == "hello, Ada\n"
    listed = tk("--help", env={"TK_PLUGINS": path})
    assert "greet" in listed.stdout
    without = tk("greet")
    assert without.returncode == 2 and "No such command 'greet'" in without.stderr


def test_duplicate_plugin_is_reported_and_cli_keeps_working(tk, plugin_data):
    env = {"TK_PLUGINS": str(plugin_data / "dup_focal.py")}
    listed = tk("list", "losses", "--json", env=env)
    assert listed.returncode == 0
    assert {r["name"]: r["plugin"] for r in json.loads(listed.stdout)}["focal"] == "losses"
    warnings = [line for line in listed.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "dup_focal" in warnings[0]
    plugins = {p["name"]: p for p in json.loads(tk("plugins", "--json", env=env).stdout)}
    assert plugins["dup_focal"]["status"] == "failed"
    assert "'losses'" in plugins["dup_focal"]["error"] and "'dup_focal'" in plugins["dup_focal"]["error"]
    assert plugins["losses"]["status"] == "loaded" and "loss:focal" in plugins["losses"]["registered"]
