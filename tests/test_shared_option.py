"""An option added to the shared declaration alone reaches every task: its `--help`, its config.yaml,
a config file it reads, and a plain Python call.

The option is added in a fresh process before the app is built, as a change to
`taskkit.options.SHARED` would add it, and nothing else is changed.
"""

import json
import subprocess
import sys

import pytest
import yaml

ADD = ("import sys, json\n"
       "from taskkit.options import RUN, SHARED, Option\n"
       "SHARED.add(Option('note', 'none', 'A note kept with the run.', RUN))\n")


def _python(script, tmp_path, *args):
    """Run `script` in a fresh interpreter, in `tmp_path`, after adding `--note` to the shared options."""
    done = subprocess.run([sys.executable, "-c", ADD + script, *args], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def task_names():
    from taskkit.registries import TASKS

    names = [name for name in TASKS.names() if hasattr(TASKS.get(name), "declaration")]
    assert {"classify", "finetune", "segment", "text", "tag"} <= set(names)
    return names


def test_every_task_shows_it_in_help_and_takes_it_from_a_config_file_and_python(tmp_path, task_names):
    config = tmp_path / "config.yaml"
    config.write_text("note: from the file\n", encoding="utf-8")
    script = (
        "from typer.testing import CliRunner\n"
        "from taskkit.cli.app import build_app\n"
        "from taskkit.registries import TASKS\n"
        "app, seen = build_app(), {}\n"
        "for name in sys.argv[1:]:\n"
        "    task = TASKS.get(name)\n"
        "    help_text = CliRunner().invoke(app, [name, '--help'], terminal_width=200).output\n"
        "    task.run = classmethod(lambda cls, call: call.options)\n"
        "    task.show = classmethod(lambda cls, outcome, as_json: None)\n"
        "    from_file = CliRunner().invoke(app, [name, '--config', 'config.yaml'], catch_exceptions=False)\n"
        "    assert from_file.exit_code == 0, from_file.output\n"
        "    seen[name] = {'help': '--note' in help_text, 'default': task.declaration().defaults()['note'],\n"
        "                  'python': task.call(note='from python')['note'],\n"
        "                  'file': task.call(config='config.yaml')['note']}\n"
        "print(json.dumps(seen))\n")
    seen = json.loads(_python(script, tmp_path, *task_names))
    assert seen == {name: {"help": True, "default": "none", "python": "from python", "file": "from the file"}
                    for name in task_names}


def test_a_run_records_it_in_config_yaml_from_the_command_line_and_from_python(tmp_path):
    script = (
        "from taskkit.cli.app import main\n"
        "from taskkit.registries import TASKS\n"
        "finished = TASKS.get('classify').call(data='digits', classes='0,1', epochs=1, quiet=True, out='runs',\n"
        "                                      name='py', note='from python')\n"
        "print(json.dumps({'run': str(finished.run_dir), 'accuracy': finished.report['accuracy']}))\n"
        "try:\n"
        "    main(['classify', '--data', 'digits', '--classes', '0,1', '--epochs', '1', '--quiet', '--json',\n"
        "          '--out', 'runs', '--name', 'cli', '--note', 'from the command line'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n")
    python_line = _python(script, tmp_path).splitlines()[0]
    finished = json.loads(python_line)
    assert finished["run"] == "runs/py" and finished["accuracy"] > 0.9
    notes = {name: yaml.safe_load((tmp_path / "runs" / name / "config.yaml").read_text(encoding="utf-8"))["note"]
             for name in ("py", "cli")}
    assert notes == {"py": "from python", "cli": "from the command line"}


def test_the_cli_reference_documents_it_for_every_task(tmp_path, task_names):
    script = ("import typer\n"
              "from taskkit.cli.app import build_app\n"
              "from taskkit.cli.reference import render\n"
              "print(render(typer.main.get_command(build_app())))\n")
    sections = _python(script, tmp_path).split("\n## ")
    for name in task_names:
        (section,) = [s for s in sections if s.startswith(f"`tk {name}`")]
        assert "`--note <str>`" in section, name
