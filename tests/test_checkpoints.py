import errno

import pytest
import torch

from taskkit.storage import checkpoints
from taskkit.storage.atomic import atomic_write
from taskkit.errors import BadInputError, WriteError


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    checkpoints.save_state({"epoch": 1, "w": torch.arange(4.0)}, path)
    before = path.read_bytes()

    def crash(obj, target):
        with open(target, "wb") as handle:
            handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", crash)
    with pytest.raises(WriteError, match=r"could not write .*last.ckpt \(No space left on device\); its previous"):
        checkpoints.save_state({"epoch": 2, "w": torch.zeros(4)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind
    assert checkpoints.load_state(path)["epoch"] == 1


def test_atomic_write_is_all_or_nothing_for_text(tmp_path):
    target = tmp_path / "metrics.csv"
    atomic_write(target, lambda tmp: tmp.write_text("epoch\n1\n"))

    def interrupted(tmp):
        tmp.write_text("epo")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, interrupted)
    assert target.read_text() == "epoch\n1\n"


def test_weights_round_trip_and_state_loads_without_code(tmp_path):
    model = torch.nn.Linear(3, 2)
    checkpoints.save_weights(model.state_dict(), tmp_path / "model.safetensors")
    loaded = checkpoints.load_weights(tmp_path / "model.safetensors")
    assert torch.equal(loaded["weight"], model.weight.detach())
    evil = tmp_path / "evil.ckpt"
    torch.save({"f": print}, evil)  # a pickled callable: weights_only refuses it
    with pytest.raises(BadInputError, match="is not a readable checkpoint"):
        checkpoints.load_state(evil)


def test_rng_state_round_trip(tmp_path):
    import random

    import numpy as np

    torch.manual_seed(3)
    state = checkpoints.rng_state()
    checkpoints.save_state({"rng": state}, tmp_path / "s.ckpt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    checkpoints.restore_rng_state(checkpoints.load_state(tmp_path / "s.ckpt")["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_atomic_writes_get_the_permissions_of_a_plain_file(tmp_path):
    import os

    plain, atomic = tmp_path / "plain.txt", tmp_path / "atomic.txt"
    plain.write_text("x")
    atomic_write(atomic, lambda tmp: tmp.write_text("x"))
    assert os.stat(atomic).st_mode & 0o777 == os.stat(plain).st_mode & 0o777
