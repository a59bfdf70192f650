"""Plugins cannot take `tk` down: `sys.exit` at import or in a hook, a component under a name
that is not one, prints on stdout and a command named like a core one each fail that plugin
alone, and every other command, plugin and `--json` answer carries on."""

import json
import logging

import pytest
import typer
from typer.testing import CliRunner

from conftest import PLUGIN_DATA, run_tk
from taskkit.plugin_manager import PluginManager
from taskkit.registry import Registry, RegistrationError, check_name, registering_as

MISBEHAVING = ["exit_at_import", "exit_in_hook", "bad_name", "noisy", "steals_eval"]
NAME_RULE = "a name is letters, digits, '_', '.', '+' and '-'"


def plugins_env(*names):
    return {"TK_PLUGINS": ",".join(str(PLUGIN_DATA / f"{name}.py") for name in names)}


def warnings_about(stderr, plugin):
    return [line for line in stderr.splitlines() if line.startswith(f"warning: plugin '{plugin}' ")]


# What `tk plugins --json` says of each: its status, the start of each of its errors, what it kept.
EXPECTED = {
    "exit_at_import": ("failed", ["import: called sys.exit(3)"], []),
    "exit_in_hook": ("failed", ["tk_register_tasks: called sys.exit()", "tk_register_losses: called sys.exit(7)"],
                     ["loss:exit-loss"]),
    "bad_name": ("failed", ["tk_register_backbones: RegistrationError: backbone name 42 (int, not str) from plugin "
                            "'bad_name' is refused", "tk_register_losses: RegistrationError: loss name 'my loss' "
                            "from plugin 'bad_name' is refused"], ["backbone:tidy_net"]),
    "noisy": ("loaded", [], ["loss:noisy-loss"]),
    "steals_eval": ("failed", ["tk_add_commands: CommandTakenError: tk already has the command names 'classify', "
                               "'eval', 'list'; the plugin's commands of those names are refused"], []),
}


def check_plugin_rows(rows, names):
    by_name = {row["name"]: row for row in rows}
    for name in names:
        status, errors, registered = EXPECTED[name]
        row = by_name[name]
        assert row["status"] == status, row
        assert row["registered"] == registered, row
        if errors:
            assert all(e in row["error"] for e in errors), row["error"]
        else:
            assert row["error"] is None
    assert by_name["losses"]["status"] == "loaded" and "loss:focal" in by_name["losses"]["registered"]
    assert all(row["status"] == "loaded" for row in rows if row["distribution"] == "taskkit")


# Names, checked by the registry itself.

@pytest.mark.parametrize("name", [42, None, 3.5, b"bytes", "", " ", "my loss", "tab\tname", "new\nline", "a/b/c",
                                  "/abs", "timm/", "../up", "back\\slash", ".hidden", "-flag", "+plus", "a//b"])
def test_a_name_that_is_not_one_is_refused_and_nothing_is_stored(name):
    losses = Registry("loss", "losses")
    with registering_as("tk-bad"), pytest.raises(RegistrationError) as info:
        losses.register(name)(lambda: None)  # None: the lambda's own name, '<lambda>'
    message = str(info.value)
    assert "from plugin 'tk-bad' is refused" in message and NAME_RULE in message
    assert "\n" not in message
    assert losses.names() == [] and len(losses) == 0


def test_bad_aliases_and_uncallable_factories_are_refused_too():
    losses = Registry("loss", "losses")
    with registering_as("tk-bad"):
        with pytest.raises(RegistrationError, match=r"^loss name 'two words' from plugin 'tk-bad' is refused"):
            losses.register("fine", aliases=("ok", "two words"))(dict)
        with pytest.raises(RegistrationError, match=r"^loss 'number' from plugin 'tk-bad' is refused: 7 cannot be called"):
            losses.register("number")(7)
        losses.register("single", aliases="one")(dict)  # one alias given as a string is that alias
    assert losses.names() == ["single"] and "one" in losses and "fine" not in losses and "ok" not in losses


def test_the_names_taskkit_uses_stay_valid():
    for label in ["resnet18", "timm/convnext_tiny", "tv/resnet50", "ce+dice", "cross-entropy", "shufflenet_v2",
                  "vgg11_bn", "mnasnet0_5", "timm/vit_base_patch16_224.augreg_in21k", "MyNet", "_private"]:
        assert check_name(label, "backbone", "p") == label
    from taskkit.plugin_manager import get_manager
    from taskkit.registries import REGISTRIES

    for registry in REGISTRIES.values():
        for label in [*registry.names(), *registry._aliases]:
            assert check_name(label, registry.kind, "p") == label
    assert sum(len(r) for r in REGISTRIES.values()) > 30
    assert [r.name for r in get_manager().records if r.builtin and r.status != "loaded"] == []


# The plugin manager, in this process.

def test_sys_exit_at_import_and_in_hooks_fails_only_that_plugin(caplog):
    manager = PluginManager([str(PLUGIN_DATA / "exit_at_import.py"), str(PLUGIN_DATA / "exit_in_hook.py")])
    losses = Registry("loss", "losses", fill=manager.fill)
    tasks = Registry("task", "tasks", fill=manager.fill)
    with caplog.at_level(logging.WARNING, logger="taskkit"):
        assert "focal" in losses and "exit-loss" in losses and "never-imported" not in losses
        assert "classify" in tasks
    by_name = {r.name: r for r in manager.records}
    assert by_name["exit_at_import"].error == "import: called sys.exit(3)"
    assert by_name["exit_in_hook"].error == "tk_register_losses: called sys.exit(7); tk_register_tasks: called sys.exit()"
    assert [m.getMessage() for m in caplog.records] == [
        "plugin 'exit_at_import' failed in import: called sys.exit(3); see `tk plugins`",
        "plugin 'exit_in_hook' failed in tk_register_losses: called sys.exit(7); see `tk plugins`",
        "plugin 'exit_in_hook' failed in tk_register_tasks: called sys.exit(); see `tk plugins`",
    ]


def test_ctrl_c_inside_a_plugin_still_stops_tk(tmp_path):
    plugin = tmp_path / "interrupted.py"
    plugin.write_text("from taskkit import hookimpl\n@hookimpl\ndef tk_register_losses(losses):\n"
                      "    raise KeyboardInterrupt\n")
    losses = Registry("loss", "losses", fill=PluginManager([str(plugin)]).fill)
    with pytest.raises(KeyboardInterrupt):
        losses.names()


def test_what_a_plugin_prints_goes_to_stderr(capsys):
    manager = PluginManager([str(PLUGIN_DATA / "noisy.py")])
    losses = Registry("loss", "losses", fill=manager.fill)
    assert losses.entry("noisy-loss").plugin == "noisy"
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "noisy: imported\n" in captured.err and "noisy: registering losses\n" in captured.err
    print("after")  # stdout is the command's again once the plugin is done
    assert capsys.readouterr().out == "after\n"


def test_a_plugin_command_never_replaces_one_tk_has():
    from taskkit.cli.app import _commands_kept

    def core(name):
        def command():
            typer.echo(f"core {name}")
        return command

    app = typer.Typer()
    for name in ("eval", "list", "classify"):
        app.command(name)(core(name))
    manager = PluginManager([str(PLUGIN_DATA / "steals_eval.py")])
    manager.call_each("tk_add_commands", guard=lambda: _commands_kept(app), app=app)
    runner = CliRunner()
    for name in ("eval", "list", "classify"):
        assert runner.invoke(app, [name]).output == f"core {name}\n"
    assert runner.invoke(app, ["steal-ok"]).output == "own command\n"
    record = manager.records[-1]
    assert record.status == "failed" and "'classify', 'eval', 'list'" in record.error


# Real `tk` processes.

def test_list_and_plugins_work_beside_every_misbehaving_plugin():
    env = plugins_env(*MISBEHAVING)
    listed = run_tk("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)  # the noisy plugin's prints went to stderr
    plugin_of = {(r["kind"], r["name"]): r["plugin"] for r in rows}
    assert plugin_of[("loss", "noisy-loss")] == "noisy" and plugin_of[("loss", "focal")] == "losses"
    assert plugin_of[("backbone", "tidy_net")] == "bad_name" and plugin_of[("task", "classify")] == "classify"
    assert all(isinstance(r["name"], str) and " " not in r["name"] for r in rows)
    assert "noisy: imported" in listed.stderr and "noisy: registering losses" in listed.stderr
    for name in ("exit_at_import", "exit_in_hook", "bad_name", "steals_eval"):
        assert warnings_about(listed.stderr, name), listed.stderr
    assert "Traceback" not in listed.stderr
    plugins = run_tk("plugins", "--json", env=env)
    assert plugins.returncode == 0, plugins.stderr
    check_plugin_rows(json.loads(plugins.stdout), MISBEHAVING)


def test_core_commands_stay_the_core_ones():
    env = plugins_env("steals_eval")
    for command, text in [("eval", "Evaluate a trained run"), ("list", "List registered components"),
                          ("classify", "--backbone")]:
        shown = run_tk(command, "--help", env=env)
        assert shown.returncode == 0, shown.stderr
        assert text in shown.stdout and "Stolen" not in shown.stdout
        warning = warnings_about(shown.stderr, "steals_eval")
        assert len(warning) == 1 and "tk already has the command names 'classify', 'eval', 'list'" in warning[0]
    own = run_tk("steal-ok", env=env)
    assert (own.returncode, own.stdout) == (0, "own command\n")


def test_a_command_added_to_the_app_at_import_cannot_replace_eval_either():
    shown = run_tk("eval", "--help", env=plugins_env("steals_at_import"))
    assert shown.returncode == 0, shown.stderr
    assert "Evaluate a trained run" in shown.stdout and "Stolen" not in shown.stdout
    assert shown.stderr.splitlines() == [
        "warning: while plugins loaded, outside tk_add_commands: tk already has the command names 'eval'; the "
        "plugin's commands of those names are refused and tk's stay: give them other names"]


def test_classify_trains_beside_every_misbehaving_plugin(tmp_path):
    trained = run_tk("classify", "--data", "digits", "--classes", "0,1", "--epochs", "1", "--quiet", "--json",
                     "--out", str(tmp_path), env=plugins_env(*MISBEHAVING))
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout)["test"]["accuracy"] > 0.8
    assert (tmp_path / "classify" / "run.json").is_file()
    for name in ("exit_at_import", "exit_in_hook", "bad_name", "steals_eval"):
        assert warnings_about(trained.stderr, name), trained.stderr


@pytest.mark.slow  # four fresh processes, one of them training, for each plugin alone
@pytest.mark.parametrize("plugin", MISBEHAVING)
def test_each_misbehaving_plugin_alone_leaves_list_plugins_and_classify_working(plugin, tmp_path):
    env = plugins_env(plugin)
    listed = run_tk("list", env=env)
    assert listed.returncode == 0 and " focal " in listed.stdout, listed.stderr
    plugins = run_tk("plugins", "--json", env=env)
    assert plugins.returncode == 0, plugins.stderr
    check_plugin_rows(json.loads(plugins.stdout), [plugin])
    table = run_tk("plugins", env=env)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.split()[:1] == [plugin])
    assert row.split()[1:3] == ["(local)", EXPECTED[plugin][0]]
    if plugin == "exit_at_import":
        assert row.split()[-4:] == ["-", "import:", "called", "sys.exit(3)"]
    trained = run_tk("classify", "--data", "digits", "--classes", "0,1", "--epochs", "1", "--quiet",
                     "--out", str(tmp_path), env=env)
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "classify" / "run.json").is_file()
