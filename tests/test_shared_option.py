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


def test_a_run_of_every_task_records_it_in_config_yaml(tmp_path):
    """One short run of each built-in task, from Python, and one of classify from the command line:
    every config.yaml holds the new option with the value given."""
    from taskkit.segmentation.shapes import write_shapes
    from test_tag import write_conll
    from test_text import write_reviews

    write_reviews(tmp_path / "reviews.csv", count=200)
    write_conll(tmp_path / "ner.conll", count=120)
    write_shapes(tmp_path / "shapes", count=24, size=32, seed=1)
    script = (
        "from taskkit.cli.app import main\n"
        "from taskkit.registries import TASKS\n"
        "quick = dict(epochs=1, quiet=True, out='runs', device='cpu')\n"
        "runs = {'classify': dict(data='digits', classes='0,1', backbone='lenet'),\n"
        "        'finetune': dict(data='digits', classes='0,1', weights='runs/classify'),\n"
        "        'segment': dict(data='shapes', backbone='segnet_small', head='segnet', batch_size=8),\n"
        "        'text': dict(data='reviews.csv', hidden=16),\n"
        "        'tag': dict(data='ner.conll', hidden=16)}\n"
        "done = {name: TASKS.get(name).call(name=name, note=f'{name} from python', **quick, **options)\n"
        "        for name, options in runs.items()}\n"
        "print(json.dumps({name: str(finished.run_dir) for name, finished in done.items()}))\n"
        "print(json.dumps(done['classify'].report['accuracy']))\n"
        "try:\n"
        "    main(['classify', '--data', 'digits', '--classes', '0,1', '--epochs', '1', '--quiet', '--json',\n"
        "          '--out', 'runs', '--name', 'cli', '--note', 'from the command line'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n")
    printed = _python(script, tmp_path).splitlines()
    run_dirs, accuracy = json.loads(printed[0]), json.loads(printed[1])
    assert accuracy > 0.9  # the Python call trained for real: 0 against 1 in one epoch
    assert run_dirs == {name: f"runs/{name}" for name in ("classify", "finetune", "segment", "text", "tag")}
    notes = {name: yaml.safe_load((tmp_path / "runs" / name / "config.yaml").read_text(encoding="utf-8"))["note"]
             for name in (*run_dirs, "cli")}
    assert notes == {**{name: f"{name} from python" for name in run_dirs}, "cli": "from the command line"}


def test_the_cli_reference_documents_it_for_every_task(tmp_path, task_names):
    script = ("import typer\n"
              "from taskkit.cli.app import build_app\n"
              "from taskkit.cli.reference import render\n"
              "print(render(typer.main.get_command(build_app())))\n")
    sections = _python(script, tmp_path).split("\n## ")
    for name in task_names:
        (section,) = [s for s in sections if s.startswith(f"`tk {name}`")]
        assert "`--note <str>`" in section, name
