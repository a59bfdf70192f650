import pytest

from taskkit.errors import ComponentOptionError, DuplicateComponentError, UnknownComponentError
from taskkit.registry import Registry, registering_as


def make_registry():
    losses = Registry("loss", "losses")

    with registering_as("builtin"):

        @losses.register("focal", aliases=("focal-loss",))
        class Focal:
            """Focal loss.

            Longer description."""

            def __init__(self, gamma: float = 2.0, alpha=None):
                self.gamma, self.alpha = gamma, alpha

        @losses.register
        def mse(reduction: str = "mean"):
            """Mean squared error."""
            return ("mse", reduction)

    return losses


def test_register_get_build_and_metadata():
    losses = make_registry()
    assert losses.names() == ["focal", "mse"]
    built = losses.build("focal", gamma=0.5)
    assert built.gamma == 0.5 and built.alpha is None
    assert losses.build("mse") == ("mse", "mean")
    entry = losses.entry("focal-loss")
    assert entry.name == "focal" and entry.plugin == "builtin"
    assert entry.summary == "Focal loss."
    assert "Longer description." in entry.doc
    assert entry.options() == {"gamma": 2.0, "alpha": None}
    assert "focal-loss" in losses and "nope" not in losses and len(losses) == 2


def test_unknown_name_suggests_close_matches_only():
    losses = make_registry()
    with pytest.raises(UnknownComponentError) as info:
        losses.get("focl")
    message = str(info.value)
    assert message == "unknown loss 'focl'; did you mean 'focal'? see `tk list losses`"
    assert "mse" not in message
    with pytest.raises(UnknownComponentError, match=r"^unknown loss 'zzz'; see `tk list losses`$"):
        losses.get("zzz")


def test_wildcards_are_case_insensitive():
    losses = make_registry()
    assert losses.names("F*") == ["focal"]
    assert losses.names("*s*") == ["mse"]
    assert losses.names("x*") == []


def test_second_registration_names_both_plugins():
    losses = make_registry()
    with registering_as("tk-other"), pytest.raises(DuplicateComponentError) as info:
        losses.register("focal")(object)
    assert "'builtin'" in str(info.value) and "'tk-other'" in str(info.value)
    with registering_as("tk-other"), pytest.raises(DuplicateComponentError):
        losses.register("fresh", aliases=("focal-loss",))(object)  # an alias is taken too


def test_override_replaces_entry_and_its_aliases():
    losses = make_registry()
    with registering_as("tk-other"):
        losses.register("focal", override=True)(dict)
    assert losses.get("focal") is dict and losses.entry("focal").plugin == "tk-other"
    assert "focal-loss" not in losses


def test_build_rejects_unknown_options_with_the_known_ones():
    losses = make_registry()
    with pytest.raises(ComponentOptionError, match="gamma, alpha"):
        losses.build("focal", gama=1.0)


def test_fill_runs_once_on_first_read():
    calls = []

    def fill(registry):
        calls.append(1)
        registry.register("late")(object)

    heads = Registry("head", "heads", fill=fill)
    assert calls == []
    assert heads.names() == ["late"] and "late" in heads and heads.get("late") is object
    assert calls == [1]


def test_context_reaches_only_the_factories_that_name_it():
    nets = Registry("backbone", "backbones")
    nets.register("sized")(lambda in_channels=3, img_size=32: ("sized", in_channels, img_size))
    nets.register("plain")(lambda in_channels=3: ("plain", in_channels))
    nets.register("open")(lambda **options: ("open", options))
    context = {"img_size": 8}
    assert nets.build("sized", in_channels=1, context=context) == ("sized", 1, 8)
    assert nets.build("plain", in_channels=1, context=context) == ("plain", 1)
    assert nets.build("open", in_channels=1, context=context) == ("open", {"img_size": 8, "in_channels": 1})
    assert nets.build("sized", context=context, img_size=16) == ("sized", 3, 16)  # an option given wins
    with pytest.raises(ComponentOptionError, match="does not accept those options"):
        nets.build("plain", img_size=8)
