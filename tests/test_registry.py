import pytest

from enso.errors import ConfigError, UnknownNameError
from enso.registry import Registry, build


class Widget:
    def __init__(self, size: int = 1, color: str = "red"):
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.color = color


def test_lookup_is_case_insensitive_and_knows_aliases():
    registry = Registry("widget")
    registry.register("CustomerReviews", Widget, aliases=("CR",))
    assert registry.get("customerreviews") is Widget
    assert registry.canonical("cr") == "CustomerReviews"
    assert "CR" in registry and "nope" not in registry
    assert registry.names() == ["CustomerReviews"]
    assert registry.aliases_of("CustomerReviews") == ["cr"]


def test_duplicate_names_and_aliases_are_rejected():
    registry = Registry("widget")
    registry.register("alpha", Widget, aliases=("a",))
    with pytest.raises(ValueError, match="already registered"):
        registry.register("ALPHA", Widget)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("beta", Widget, aliases=("A",))


def test_unknown_name_lists_valid_ones_and_closest_match():
    registry = Registry("featurizer")
    for name in ("tfidf", "minilm", "glove-6b-50d"):
        registry.register(name, Widget)
    with pytest.raises(UnknownNameError) as info:
        registry.get("minilmm")
    message = str(info.value)
    assert "unknown featurizer 'minilmm'" in message
    assert "did you mean 'minilm'" in message
    assert "glove-6b-50d, minilm, tfidf" in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_a_typo_of_an_alias_suggests_the_registered_name():
    registry = Registry("dataset")
    registry.register("Subjectivity", Widget, aliases=("SUBJ",))
    registry.register("TREC", Widget)
    with pytest.raises(UnknownNameError, match="did you mean 'Subjectivity'"):
        registry.get("subjj")


def test_build_rejects_unknown_and_bad_parameters_before_work():
    registry = Registry("target")
    registry.register("widget", Widget)
    assert build(registry, "WIDGET", {"size": 3}).size == 3
    with pytest.raises(UnknownNameError, match="did you mean 'size'"):
        build(registry, "widget", {"sise": 3})
    with pytest.raises(ConfigError, match="size must be at least 1"):
        build(registry, "widget", {"size": 0})


def test_entry_point_plugins_are_loaded(monkeypatch):
    from importlib import metadata

    class FakeEntryPoint:
        name = "plugin-widget"
        value = "somewhere:Widget"

        def load(self):
            return Widget

    monkeypatch.setattr(metadata, "entry_points", lambda group: [FakeEntryPoint()] if group == "enso.test" else [])
    registry = Registry("widget", "enso.test")
    registry.register("builtin", Widget)
    assert registry.names() == ["builtin", "plugin-widget"]
    assert registry.get("plugin-widget") is Widget


def test_an_unknown_name_of_any_length_gives_a_short_line():
    registry = Registry("dataset")
    registry.register("TREC", Widget)
    with pytest.raises(UnknownNameError) as info:
        registry.get("T" * 100_000 + "\n")
    message = str(info.value)
    assert "(100001 characters)" in message and len(message) < 200 and "\n" not in message
