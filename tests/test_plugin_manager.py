import logging

from taskkit.plugin_manager import PluginManager
from taskkit.registry import Registry


def registries_for(manager):
    losses = Registry("loss", "losses", fill=manager.fill)
    backbones = Registry("backbone", "backbones", fill=manager.fill)
    tasks = Registry("task", "tasks", fill=manager.fill)
    return losses, backbones, tasks


def test_builtins_load_before_local_modules_and_are_attributed(plugin_data):
    manager = PluginManager([str(plugin_data / "local_task.py")])
    losses, _, tasks = registries_for(manager)
    assert losses.entry("focal").plugin == "losses"
    assert tasks.entry("greet").plugin == "local_task"
    names = [r.name for r in manager.records]
    assert names.index("losses") < names.index("local_task")
    assert all(r.status == "loaded" for r in manager.records)


def test_duplicate_from_a_plugin_fails_that_plugin_only(plugin_data, caplog):
    manager = PluginManager([str(plugin_data / "dup_focal.py")])
    losses, _, _ = registries_for(manager)
    with caplog.at_level(logging.WARNING, logger="taskkit"):
        assert losses.entry("focal").plugin == "losses"  # the built-in stays
    record = next(r for r in manager.records if r.name == "dup_focal")
    assert record.status == "failed"
    assert "'losses'" in record.error and "'dup_focal'" in record.error
    assert len(caplog.records) == 1 and "dup_focal" in caplog.records[0].getMessage()


def test_failed_import_and_misspelt_hook_are_reported(plugin_data, tmp_path):
    missing = str(tmp_path / "nowhere.py")
    manager = PluginManager([missing, str(plugin_data / "hook_typo.py")])
    _, backbones, _ = registries_for(manager)
    assert "never" not in backbones
    by_name = {r.name: r for r in manager.records}
    assert by_name["nowhere"].status == "failed" and "no plugin file" in by_name["nowhere"].error
    assert by_name["hook_typo"].status == "failed"
    assert "tk_register_backbone" in by_name["hook_typo"].error
    assert by_name["losses"].status == "loaded"


def test_disabling_autoload_keeps_builtins_and_local_modules(plugin_data, monkeypatch):
    monkeypatch.setenv("TK_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("TK_PLUGINS", str(plugin_data / "local_task.py"))
    manager = PluginManager.from_environment()
    manager.load()
    assert {r.distribution for r in manager.records} == {"taskkit", "(local)"}
    assert [r.name for r in manager.records][-1] == "local_task"


def test_a_hook_that_raises_is_contained(tmp_path):
    plugin = tmp_path / "raising.py"
    plugin.write_text(
        "from taskkit import hookimpl\n"
        "@hookimpl\n"
        "def tk_register_losses(losses):\n"
        "    losses.register('half')(float)\n"
        "    raise ValueError('bad config')\n"
    )
    manager = PluginManager([str(plugin)])
    losses, _, _ = registries_for(manager)
    assert "cross-entropy" in losses and "half" in losses
    record = manager.records[-1]
    assert record.status == "failed" and "tk_register_losses: ValueError: bad config" in record.error
