"""Component flags: declared once, read through one accessor, and documented as declared."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from taskkit.components import FLAGS, KINDS, UnknownFlagError, flag
from taskkit.registries import AUGMENTATIONS, BACKBONES, HEADS, LOSSES, REGISTRIES
from taskkit.task import Task

ROOT = Path(__file__).resolve().parent.parent
CODE_FOLDERS = ("core", "tasks", "plugins")
DECLARATION = ROOT / "core" / "components.py"


def test_every_flag_is_declared_with_kinds_a_default_and_a_meaning():
    assert len(FLAGS) >= 18
    for name, declared in FLAGS.items():
        assert declared.name == name and name.isidentifier()
        assert declared.kinds and set(declared.kinds) <= set(KINDS), name
        assert len(declared.meaning.split()) >= 5 and declared.meaning.rstrip().endswith("."), name
        assert "|" not in declared.meaning, f"{name}: a '|' would split its row of the docs table"


def test_the_accessor_reads_a_class_and_an_instance_or_answers_the_default():
    class Plain:
        pass

    class Small:
        min_img_size = 32
        modality = "sequence"

    built = Small()
    built.small_input = True
    assert flag(Plain, "min_img_size") == 1 and flag(Plain(), "min_img_size") == 1
    assert flag(Plain, "modality") == "image" and flag(Plain, "takes_soft_targets") is True
    assert flag(Small, "min_img_size") == 32 and flag(built, "min_img_size") == 32
    assert flag(Small, "modality") == flag(built, "modality") == "sequence"
    assert flag(Small, "small_input") is False and flag(built, "small_input") is True


def test_the_accessor_reads_what_built_in_components_set():
    assert flag(BACKBONES.get("segnet_small"), "records_pool_indices") is True
    assert flag(BACKBONES.get("resnet18"), "records_pool_indices") is False
    assert flag(BACKBONES.get("resnet18"), "published_weights") == "resnet18"
    assert flag(HEADS.get("segnet"), "needs_pool_indices") is True
    assert flag(HEADS.get("linear"), "needs_pool_indices") is False
    assert flag(LOSSES.get("mse"), "takes_soft_targets") is False
    assert flag(LOSSES.build("cross-entropy"), "takes_soft_targets") is True
    assert flag(AUGMENTATIONS.entry("color-jitter").factory, "needs_colour") is True
    assert flag(AUGMENTATIONS.entry("hflip").factory, "geometric") is True
    assert flag(AUGMENTATIONS.entry("blur").factory, "geometric") is False


def test_an_undeclared_name_is_refused_even_where_the_component_has_it():
    class Misspelt:
        min_img_sise = 32

    with pytest.raises(UnknownFlagError, match="did you mean 'min_img_size'") as raised:
        flag(Misspelt, "min_img_sise")
    assert isinstance(raised.value, KeyError)
    with pytest.raises(KeyError):
        flag(object(), "no_such_flag")


def test_the_task_base_class_answers_the_declared_defaults():
    for name in ("inputs", "outputs", "test_time_augmentation"):
        assert "task" in FLAGS[name].kinds
        assert getattr(Task, name) == FLAGS[name].default, name


def test_built_in_components_set_only_the_flags_of_their_kind():
    for registry in REGISTRIES.values():
        for entry in registry.entries():
            if entry.name.startswith(("timm/", "tv/")):
                continue
            for name, declared in FLAGS.items():
                if registry.kind not in declared.kinds:
                    assert not hasattr(entry.factory, name), f"{registry.kind} '{entry.name}' sets {name}"


def _literal_reads(path: Path, root: Path = ROOT) -> list[str]:
    """`getattr(x, "name", ...)` and `hasattr(x, "name")` calls in a file naming a declared flag."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant) and node.args[1].value in FLAGS):
            found.append(f"{path.relative_to(root)}:{node.lineno} {node.func.id}(..., {node.args[1].value!r})")
    return found


def test_flags_are_read_only_through_the_accessor():
    files = [p for folder in CODE_FOLDERS for p in sorted((ROOT / folder).rglob("*.py")) if p != DECLARATION]
    assert len(files) > 50
    reads = [read for path in files for read in _literal_reads(path)]
    assert reads == [], "read these through taskkit.components.flag:\n" + "\n".join(reads)


def test_the_scan_sees_a_literal_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('a = getattr(x, "min_img_size", 1)\nb = hasattr(x, "geometric")\nc = getattr(x, "other", 0)\n')
    assert _literal_reads(sample, tmp_path) == ["sample.py:1 getattr(..., 'min_img_size')", "sample.py:2 hasattr(..., 'geometric')"]


def _expected_rows() -> list[tuple[str, ...]]:
    return [(f"`{f.name}`", ", ".join(f.kinds), f"`{f.default!r}`", f.meaning) for f in FLAGS.values()]


def _documented_rows() -> list[tuple[str, ...]]:
    page = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = re.search(r"^## Optional flags\n(.*?)(?=^## |\Z)", page, flags=re.S | re.M)
    assert section, "docs/plugins.md has no '## Optional flags' section"
    assert "core/components.py" in section.group(1)
    lines = [line for line in section.group(1).splitlines() if line.startswith("|")]
    assert lines[:2] == ["| flag | who sets it | default | meaning |", "| --- | --- | --- | --- |"]
    return [tuple(cell.strip() for cell in line.strip("|").split("|")) for line in lines[2:]]


def test_the_docs_table_is_the_declaration():
    expected = _expected_rows()
    table = "\n".join("| " + " | ".join(row) + " |" for row in expected)
    assert _documented_rows() == expected, "docs/plugins.md's Optional flags table differs; it should read:\n" + table


def test_the_docs_name_every_declared_flag():
    documented = {row[0].strip("`") for row in _documented_rows()}
    assert documented == set(FLAGS)


def test_reading_flags_imports_no_torch():
    code = "import sys, taskkit.components; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
