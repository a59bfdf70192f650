import pytest

from taskkit.options import merge_options
from taskkit.storage.config import read_config, write_config
from taskkit.errors import BadInputError

DEFAULTS = {"lr": 0.003, "epochs": 15, "backbone": "lenet", "img_size": None, "amp": True}


def test_command_line_beats_file_beats_defaults(tmp_path):
    path = tmp_path / "config.yaml"
    write_config(path, {"lr": 0.1, "epochs": 3, "img-size": 32})
    merged = merge_options(DEFAULTS, {"epochs": 5}, read_config(path))
    assert merged == {"lr": 0.1, "epochs": 5, "backbone": "lenet", "img_size": 32, "amp": True}


def test_ints_count_as_floats_but_not_the_other_way(tmp_path):
    assert merge_options(DEFAULTS, {}, {"lr": 1})["lr"] == 1.0
    with pytest.raises(BadInputError, match=r"option 'epochs' in config should be int, got float 2.5"):
        merge_options(DEFAULTS, {}, {"epochs": 2.5})
    with pytest.raises(BadInputError, match="should be bool"):
        merge_options(DEFAULTS, {}, {"amp": "yes"})


def test_unknown_key_suggests_the_closest(tmp_path):
    with pytest.raises(BadInputError, match=r"unknown option 'backbon' in config; did you mean 'backbone'\?"):
        merge_options(DEFAULTS, {}, {"backbon": "x"})


def test_python_tags_and_bad_yaml_are_refused(tmp_path):
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("lr: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(BadInputError, match="not valid YAML"):
        read_config(tagged)
    broken = tmp_path / "broken.yaml"
    broken.write_text("lr: [1, 2\n")
    with pytest.raises(BadInputError, match="not valid YAML at line"):
        read_config(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(BadInputError, match="must be a mapping"):
        read_config(listing)
