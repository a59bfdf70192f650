"""The project's layout and its declarations stay in step."""

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FOLDERS = {"core": "taskkit", "plugins": "taskkit.plugins", "tasks": "taskkit.tasks"}


def top_level_modules(folder: str) -> set[str]:
    """Public modules and packages directly inside a folder, as import names."""
    found = set()
    for child in (ROOT / folder).iterdir():
        if child.name.startswith("_"):
            continue
        if child.suffix == ".py" or (child / "__init__.py").is_file():
            found.add(f"{FOLDERS[folder]}.{child.stem}")
    return found


def test_every_plugin_and_task_module_has_an_entry_point():
    declared = set(PYPROJECT["project"]["entry-points"]["taskkit"].values())
    expected = top_level_modules("plugins") | top_level_modules("tasks")
    assert expected, "plugins/ should hold at least one plugin"
    assert expected - declared == set(), "modules without an entry point"
    assert declared - expected == set(), "entry points without a module"


def test_installed_metadata_matches_pyproject():
    installed = {ep.name: ep.value for ep in metadata.distribution("taskkit").entry_points
                 if ep.group == "taskkit"}
    assert installed == PYPROJECT["project"]["entry-points"]["taskkit"]


def test_package_list_covers_every_folder_with_code():
    declared = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = set()
    for folder, name in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((name, *relative)))
    assert declared == on_disk


def test_plugin_guide_example_is_the_tested_package():
    """Every file the guide shows under tk-mynet/ is, byte for byte, the package the tests install."""
    guide = (ROOT / "docs" / "plugins.md").read_text()
    blocks = re.findall(r'```\w+ title="(tk-mynet/[^"]+)"\n(.*?)```', guide, flags=re.S)
    package = ROOT / "tests" / "data" / "plugins"
    files = {str(p.relative_to(package)) for p in (package / "tk-mynet").rglob("*") if p.is_file()
             and "__pycache__" not in p.parts and ".egg-info" not in str(p)}
    assert {title for title, _ in blocks} == files
    for title, body in blocks:
        assert body == (package / title).read_text(), title
