"""The documentation that is generated from the code stays the code's."""

import os
import re
import subprocess
import sys
from pathlib import Path

import typer

from taskkit.cli.app import build_app
from taskkit.cli.reference import commands, render

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_cli_reference_is_what_the_app_renders():
    env = {**os.environ, "TK_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("TK_PLUGINS", None)
    fresh = subprocess.run([sys.executable, "-m", "taskkit.cli.reference"], capture_output=True, text=True, env=env,
                           check=True).stdout
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == fresh, \
        "docs/cli.md is stale: run `make docs` (or python -m taskkit.cli.reference docs/cli.md)"


def test_every_command_and_option_is_in_its_section_of_the_reference():
    app = typer.main.get_command(build_app())
    page = render(app)
    sections = dict(re.findall(r"^## `([^`]+)`\n(.*?)(?=^## `|\Z)", page, flags=re.S | re.M))
    listed = commands(app)
    assert {"tk classify", "tk finetune", "tk text", "tk tag", "tk segment", "tk predict", "tk plugin new",
            "tk data check"} <= {name for name, _ in listed}
    assert set(sections) == {"tk"} | {name for name, _ in listed}
    for name, command in [("tk", app), *listed]:
        section = sections[name]
        assert (command.help or "").split("\n")[0].strip() in section, name
        for param in command.params:
            if param.param_type_name == "argument":
                shown = (param.metavar or param.name).lower()
                assert f"| `{shown}" in section.lower(), (name, param.name)
            else:
                for flag in [*param.opts, *param.secondary_opts]:
                    assert re.search(rf"`[^`]*{re.escape(flag)}\b", section), (name, flag)


def test_every_tutorial_has_the_script_that_regenerates_its_figures_and_numbers():
    tutorials = ROOT / "docs" / "tutorials"
    pages = sorted(p for p in tutorials.glob("*.md") if p.name != "index.md")
    assert len(pages) == 10
    index = (tutorials / "index.md").read_text(encoding="utf-8")
    for page in pages:
        slug = page.stem
        assert (tutorials / f"{slug}.py").is_file(), slug
        assert (tutorials / slug / "numbers.json").is_file(), slug
        text = page.read_text(encoding="utf-8")
        assert f"python docs/tutorials/{slug}.py" in text, slug
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
            assert (tutorials / image).is_file(), (slug, image)
        assert f"]({slug}.md)" in index, slug
