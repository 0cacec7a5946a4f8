"""Cross-encoding of sentence pairs (issue 13): ``pair_encoding = "cross"`` on a transformer featurizer encodes
each distinct (text_a, text_b) pair once, both texts as one sequence through the tokenizer's pair template.

Fast tests run a 2-block BERT of width 32 with MiniLM's tokenizer (``hf-encoder``) on a tiny pair dataset; the
real ones run all-MiniLM-L6-v2 on SICK's files. Checked: the features equal a hand computation with
transformers (tokenizer pair call, mean pooling, L2 normalisation), one unit per distinct pair, its own
artifact beside the per-text one, separate-encoding identities and cell keys unchanged, and the config errors
(a featurizer that cannot cross-encode, ``pair_features`` with cross, cross on a dataset without pairs) are
one ``error:`` line before any feature is written.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from enso.components import load_config
from enso.config import Spec
from enso.data import Dataset, load_dataset
from enso.engine import run_experiment
from enso.engine.plan import build_plan, resolve_featurizer_ids
from enso.errors import ConfigError
from enso.features import featurizer_id, load_features, make_featurizer
from enso.tasks import TASKS, distinct_pair_units
from enso.tasks.base import Layout
from enso.workspace import Workspace
from tests.cli import enso
from tests.tiny import write_config

TASK = TASKS.get("pair-classification")


# ---- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A real transformers folder: a 2-block BERT of width 32 (seeded random weights) with MiniLM's tokenizer."""
    from tests.features_helpers import write_tiny_bert

    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def pair_rows() -> list[dict[str, str]]:
    """Pairs of short sentences, some repeated, some reversed, one text on both sides of a pair."""
    subjects = ["a man", "a woman", "the dog", "two kids", "a chef", "the band"]
    actions = ["is playing a guitar", "is cutting an onion", "runs in the park", "is sleeping", "sings loudly"]
    rows = []
    rng = np.random.default_rng(0)
    for i in range(36):
        a = f"{subjects[i % 6]} {actions[i % 5]}"
        b = f"{subjects[int(rng.integers(6))]} {actions[int(rng.integers(5))]}"
        rows.append({"text_a": a, "text_b": b, "label": ["yes", "no", "maybe"][i % 3],
                     "split": "train" if i < 24 else "test"})
    rows += [dict(rows[0]), {**rows[1], "text_a": rows[1]["text_b"], "text_b": rows[1]["text_a"]},
             {"text_a": "the same words", "text_b": "the same words", "label": "yes", "split": "test"}]
    return rows


@pytest.fixture
def pair_workspace(tmp_path, monkeypatch):
    """A workspace holding ``TinyPairs`` (a local pair dataset) and ``Tiny`` (a classification one)."""
    from enso.data import import_local
    from tests.tiny import import_csv, tiny_csv

    workspace = Workspace(tmp_path / "ws")
    source = tmp_path / "pairs.csv"
    pd.DataFrame(pair_rows()).to_csv(source, index=False)
    import_local(source, workspace, name="TinyPairs", text_column="text_a", text_b_column="text_b",
                 split_column="split")
    import_csv(workspace, "Tiny", tiny_csv())
    monkeypatch.setenv("ENSO_ROOT", str(workspace.root))
    return workspace


def hand_cross(folder: Path, pairs, max_length: int, normalize: bool) -> np.ndarray:
    """Cross-encoded pair vectors written out with transformers alone: the tokenizer's pair call, the model on
    input ids, attention mask and token types, mean pooling over the mask, L2 normalisation."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
    rows = []
    with torch.inference_mode():
        for a, b in pairs:
            batch = tokenizer(a, b, truncation="longest_first", max_length=max_length, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
            rows.append(pooled[0].numpy())
    return np.stack(rows).astype(np.float32)


def tiny_spec(tiny_bert: Path, **params) -> Spec:
    return Spec("hf-encoder", {"path": str(tiny_bert), "pooling": "mean", "normalize": True, "max_length": 24,
                               "device": "cpu", "precision": "fp32", **params})


# ---- fast: units, layout, target input ---------------------------------------------------------------


def test_cross_units_are_the_distinct_ordered_pairs_in_order_of_first_appearance():
    frame = pd.DataFrame(pair_rows())
    units = TASK.cross_units(frame)
    pairs = list(zip(frame["text_a"], frame["text_b"]))
    expected = list(dict.fromkeys(pairs))
    assert units.kind == "pair" and units.items == expected
    assert len(units) == len(set(pairs)) < len(pairs)  # the repeated row is one unit
    assert (pairs[1][1], pairs[1][0]) in units.items and pairs[1] in units.items  # order matters
    assert units.layout.kind == "pair" and units.layout.index.shape == (len(frame),)
    assert [units.items[i] for i in units.layout.index] == pairs
    assert units.feature_rows == len(units)
    # what an in-domain fit on rows would see: their pairs, each once
    assert units.for_rows(np.array([0, len(frame) - 3, 2])) == [pairs[0], pairs[2]]
    # a task with one text per row has nothing to cross-encode
    assert TASKS.get("classification").cross_units(pd.DataFrame({"text": ["x"], "label": ["a"],
                                                                  "split": ["train"]})) is None
    empty = distinct_pair_units(frame.iloc[:0])
    assert len(empty) == 0 and empty.layout.index.shape == (0,)


def test_the_target_input_of_cross_features_is_the_rows_pair_vectors_dense_and_per_layer():
    rng = np.random.default_rng(0)
    index = np.array([2, 0, 1, 2, 3])
    layout = Layout("pair", 5, index)
    rows = np.array([4, 0, 3])
    dense = rng.normal(size=(4, 6)).astype(np.float32)
    got = TASK.target_input(dense, layout, rows)
    assert got.dtype == np.float32 and got.shape == (3, 6)
    np.testing.assert_array_equal(got, dense[[3, 2, 2]])
    # pair_features does not apply to one vector per pair: any setting gives the vectors as stored
    np.testing.assert_array_equal(TASK.target_input(dense, layout, rows, {"pair_features": ["a", "b"]}), got)
    layered = rng.normal(size=(4, 3, 6)).astype(np.float32)
    np.testing.assert_array_equal(TASK.target_input(layered, layout, rows), layered[[3, 2, 2]])
    with pytest.raises(ValueError, match=r"\(n_rows,\) index"):
        TASK.target_input(dense, Layout("pair", 5, np.zeros((5, 2), dtype=np.int64)), rows)


@pytest.mark.slow  # hashes MiniLM's files
def test_separate_encoding_identities_are_unchanged_and_cross_has_its_own():
    # the ids every earlier run was keyed by (tests/test_features_identity.py pins the same)
    assert featurizer_id(make_featurizer("minilm", {"device": "cpu"})) == "minilm-c8048f7b9aea"
    assert featurizer_id(make_featurizer("minilm", {"device": "cpu", "pair_encoding": "separate"})) == \
        "minilm-c8048f7b9aea"
    cross = make_featurizer("minilm", {"device": "cpu", "pair_encoding": "cross"})
    assert cross.identity()["params"]["pair_encoding"] == "cross"
    assert "pair_encoding" not in make_featurizer("minilm", {"device": "cpu"}).identity()["params"]
    assert featurizer_id(cross) not in ("minilm-c8048f7b9aea",)
    assert featurizer_id(make_featurizer("minilm", {"device": "cpu", "layers": "all"})) == "minilm-f88f2c08ee8b"


def test_a_featurizer_that_cannot_cross_encode_refuses_pair_encoding_naming_those_that_can():
    for name in ("tfidf", "glove-6b-50d", "word-shape", "random-encoder", "word2vec"):
        with pytest.raises(ConfigError, match=rf"featurizer '{name}' takes no pair_encoding: .*drop pair_encoding "
                                              r"from its entry, or cross-encode with a transformer encoder "
                                              r"\(minilm, hf-encoder"):
            make_featurizer(name, {"pair_encoding": "cross"})
    with pytest.raises(ConfigError, match="pair_encoding must be one of 'separate', 'cross'"):
        make_featurizer("minilm", {"pair_encoding": "together"})


@pytest.mark.slow  # builds the tiny model (imports torch)
def test_a_tokenizer_without_a_pair_template_cannot_cross_encode(tiny_bert, tmp_path):
    folder = tmp_path / "no-template"
    shutil.copytree(tiny_bert, folder)
    raw = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    raw["post_processor"] = None
    (folder / "tokenizer.json").write_text(json.dumps(raw), encoding="utf-8")
    make_featurizer("hf-encoder", {"path": str(folder)})  # separate encoding needs no template
    with pytest.raises(ConfigError, match="has no template for two texts"):
        make_featurizer("hf-encoder", {"path": str(folder), "pair_encoding": "cross"})


# ---- fast: the tiny encoder, end to end ---------------------------------------------------------------


@pytest.mark.slow
def test_tiny_cross_features_equal_a_hand_computation_and_are_their_own_artifact(pair_workspace, tiny_bert):
    workspace = pair_workspace
    pairs = load_dataset("TinyPairs", workspace)
    features = load_features(tiny_spec(tiny_bert, pair_encoding="cross"), pairs, workspace, progress=False)
    units = TASK.cross_units(pairs.frame)
    assert features.units == "pair" and features.shape == (len(units), 32)
    assert features.manifest["meta"]["units"] == "pair" and features.manifest["meta"]["rows"] == len(units)
    np.testing.assert_allclose(np.asarray(features.X), hand_cross(tiny_bert, units.items, 24, True), atol=2e-6)
    # the per-text artifact is another folder, with one row per distinct text, and its id is unchanged
    separate = load_features(tiny_spec(tiny_bert), pairs, workspace, progress=False)
    assert separate.units == "text" and separate.shape == (len(pairs.units), 32)
    assert separate.featurizer_id == featurizer_id(make_featurizer("hf-encoder", tiny_spec(tiny_bert).params))
    assert separate.featurizer_id != features.featurizer_id and separate.path.parent != features.path.parent
    assert load_features(tiny_spec(tiny_bert, pair_encoding="cross"), pairs, workspace, progress=False).cached
    # segment ids matter: the same pairs with every token type 0 give other vectors (the check above can fail)
    from enso.features import encoder

    model = encoder.load_model(tiny_bert, "cpu", "fp32")
    assert encoder.takes_token_types(model)
    model.forward_types = model.forward

    def no_types(*args, token_type_ids=None, **kwargs):
        return model.forward_types(*args, token_type_ids=None, **kwargs)

    tokenizer = encoder.load_tokenizer(tiny_bert, 24)
    with_types, _ = encoder.encode(units.items[:4], model, tokenizer, pooling="mean", normalize=True)
    np.testing.assert_allclose(with_types, np.asarray(features.X)[:4], atol=1e-6)
    model.forward = no_types
    without, _ = encoder.encode(units.items[:4], model, tokenizer, pooling="mean", normalize=True)
    assert np.abs(without - with_types).max() > 1e-3


CROSS_CURVE = """
datasets = ["TinyPairs"]
featurizers = [
    {{ name = "hf-encoder", path = "{path}", max_length = 24, precision = "fp32" }},
{extra}]
targets = [{{ name = "logreg", C = 1.0 }}]
train_sizes = [12]
resamples = 2
metrics = ["accuracy"]
seed = 0
"""


@pytest.mark.slow
def test_a_sweep_with_a_cross_encoded_entry_keeps_the_separate_entrys_cell_keys(pair_workspace, tiny_bert):
    workspace = pair_workspace
    cross = f'    {{ name = "hf-encoder", path = "{tiny_bert}", max_length = 24, precision = "fp32", ' \
            'pair_encoding = "cross", label = "tiny cross" },\n'
    write_config(workspace, "alone", CROSS_CURVE.format(path=tiny_bert, extra=""))
    write_config(workspace, "both", CROSS_CURVE.format(path=tiny_bert, extra=cross))
    dataset = load_dataset("TinyPairs", workspace)

    def keys(name):
        config = load_config(name, workspace)
        plan = build_plan(config, {"TinyPairs": dataset}, featurizer_ids=resolve_featurizer_ids(config, "cpu"))
        return {cell.featurizer.label: {c.key for c in plan.cells if c.featurizer.label == cell.featurizer.label}
                for cell in plan.cells}

    alone, both = keys("alone"), keys("both")
    (label,) = alone
    assert both[label] == alone[label]  # adding a cross entry changes no separate cell
    assert both["tiny cross"].isdisjoint(alone[label]) and len(both["tiny cross"]) == 2
    table = run_experiment(load_config("both", workspace), workspace, device="cpu")
    assert set(table["featurizer"]) == {label, "tiny cross"}
    assert table.groupby("featurizer")["featurizer_id"].nunique().eq(1).all()
    assert table["featurizer_id"].nunique() == 2 and table["n_test"].nunique() == 1  # the same test pairs
    stored = sorted(p.parent.parent.name for p in workspace.featurizers.glob("*/*/manifest.json"))
    assert len(stored) == 2 and set(stored) == set(table["featurizer_id"])
    manifests = [json.loads(p.read_text(encoding="utf-8")) for p in workspace.featurizers.glob("*/*/manifest.json")]
    assert sorted(m["meta"].get("units", "text") for m in manifests) == ["pair", "text"]


# ---- config errors: one line, before any work ----------------------------------------------------------


def _refused(workspace: Workspace, name: str, body: str, message: str) -> None:
    write_config(workspace, name, body)
    ran = enso("run", name, root=workspace.root)
    assert ran.code == 2, ran.output
    assert len(ran.errors) == 1 and ran.errors[0].startswith("error: "), ran.output
    assert message in ran.errors[0], ran.errors[0]
    written = list(workspace.featurizers.rglob("*")) if workspace.featurizers.exists() else []
    assert written == [], written


def test_cross_on_a_featurizer_that_cannot_is_one_config_error_line_before_any_work(pair_workspace):
    _refused(pair_workspace, "bad", """
        datasets = ["TinyPairs"]
        featurizers = [{ name = "tfidf", pair_encoding = "cross" }]
        targets = ["logreg"]
        train_sizes = [12]
        resamples = 1
        """, "featurizer 'tfidf' takes no pair_encoding")


def test_pair_features_with_cross_is_one_config_error_line_before_any_work(pair_workspace):
    _refused(pair_workspace, "bad", """
        datasets = ["TinyPairs"]
        featurizers = [{ name = "minilm", pair_encoding = "cross", pair_features = ["absdiff"] }]
        targets = ["logreg"]
        train_sizes = [12]
        resamples = 1
        """, "pair_features combines two separately encoded texts, but pair_encoding = 'cross'")


@pytest.mark.slow
def test_cross_on_a_dataset_without_pairs_is_one_config_error_line_before_any_work(pair_workspace, tiny_bert):
    _refused(pair_workspace, "bad", f"""
        datasets = ["TinyPairs", "Tiny"]
        featurizers = [{{ name = "hf-encoder", path = "{tiny_bert}", pair_encoding = "cross" }}]
        targets = ["logreg"]
        train_sizes = [12]
        resamples = 1
        """, "sets pair_encoding = 'cross', but dataset Tiny is a classification task with one text per row")
    dry = enso("experiment", "bad", "--dry-run", root=pair_workspace.root)  # the plan's checks catch it too
    assert dry.code == 2 and "nothing to encode together" in dry.errors[0], dry.output
    with pytest.raises(ConfigError, match="nothing to encode together"):
        from enso.features import featurize_config

        featurize_config(load_config("bad", pair_workspace), pair_workspace)
    assert not list(pair_workspace.featurizers.glob("*/*"))


# ---- real: SICK and all-MiniLM-L6-v2 -------------------------------------------------------------------


def test_sick_has_one_cross_unit_per_distinct_pair(sick_workspace):
    sick = load_dataset("SICK", sick_workspace)
    units = TASK.cross_units(sick.frame)
    distinct = sick.frame[["text_a", "text_b"]].drop_duplicates()
    assert len(units) == len(distinct) == len(sick) - sick.card["duplicated_pairs"]
    assert len(sick) == 9927 and len(units) < len(sick)
    assert units.items == list(distinct.itertuples(index=False, name=None))


@pytest.mark.slow
def test_minilm_cross_features_of_sick_pairs_equal_a_hand_computation(sick_workspace):
    from enso.features.transformer import minilm_folder

    sick = load_dataset("SICK", sick_workspace, max_examples=60)
    spec = Spec("minilm", {"pair_encoding": "cross", "precision": "fp32", "device": "cpu"})
    features = load_features(spec, sick, sick_workspace, progress=False)
    units = TASK.cross_units(sick.frame)
    assert features.shape == (len(units), 384) and features.units == "pair"
    picked = np.arange(len(units))[::7]
    expected = hand_cross(minilm_folder(), [units.items[i] for i in picked], 256, True)
    np.testing.assert_allclose(np.asarray(features.X)[picked], expected, atol=2e-5)
    # a cell's rows get their pairs' vectors
    rows = np.array([5, 0, 17])
    got = TASK.target_input(features.X, units.layout, rows)
    np.testing.assert_array_equal(got, np.asarray(features.X)[units.layout.index[rows]])
    # and they differ from the separate texts' combination: one vector of the pair, 384-d, not 4 x 384
    assert got.shape == (3, 384)


# ---- samplers that look at features see one row per pair ----------------------------------------------


@pytest.mark.slow
def test_a_feature_sampler_on_pairs_sees_each_training_pairs_target_input(pair_workspace, monkeypatch):
    """kcenter on a pair dataset: the pool's features are the pairs' combined rows, not feature rows
    ``pool`` of the per-text matrix (which hold other texts)."""
    from enso.sampling import SAMPLERS

    workspace = pair_workspace
    sampler = type(SAMPLERS.get("kcenter"))
    seen = []
    sample = sampler.sample

    def spy(self, labels, size, rng, features=None):
        seen.append(features)
        return sample(self, labels, size, rng, features)

    monkeypatch.setattr(sampler, "sample", spy)
    write_config(workspace, "kc", """
        datasets = ["TinyPairs"]
        featurizers = ["tfidf", { name = "tfidf", pair_features = ["absdiff"] }]
        targets = [{ name = "logreg", C = 1.0 }]
        samplers = ["kcenter"]
        train_sizes = [9]
        resamples = 1
        metrics = ["accuracy"]
        seed = 0
        """)
    run_experiment(load_config("kc", workspace), workspace)
    pairs = load_dataset("TinyPairs", workspace)
    features = load_features(Spec("tfidf"), pairs, workspace, progress=False)
    pool = pairs.split_index("train")
    assert len(seen) == 2
    widths = sorted(X.shape[1] for X in seen)
    assert widths == [features.shape[1], 4 * features.shape[1]]
    for X in seen:
        parts = ["a", "b", "absdiff", "product"] if X.shape[1] == widths[1] else ["absdiff"]
        expected = TASK.target_input(features.X, pairs.layout, pool, {"pair_features": parts})
        assert X.shape[0] == len(pool)
        np.testing.assert_allclose(X.toarray(), expected.toarray())


def test_feature_sampler_cells_on_pairs_are_keyed_apart_from_cells_drawn_before_that_fix(pair_workspace, monkeypatch):
    """e112f22 changed what kcenter sees on pairs without changing its cells' keys, so a stored cell drawn
    the old way would have been reused: such cells now carry ``sampler_input``; random-sampler cells and
    classification cells keep their keys."""
    import enso.engine.plan as plan_module

    hashed = []
    real = plan_module.stable_hash

    def spy(parts):
        hashed.append(parts)
        return real(parts)

    monkeypatch.setattr(plan_module, "stable_hash", spy)
    write_config(pair_workspace, "kc-key", """
        datasets = ["TinyPairs"]
        featurizers = ["tfidf"]
        targets = [{ name = "logreg", C = 1.0 }]
        samplers = ["kcenter", "random"]
        train_sizes = [9]
        resamples = 1
        metrics = ["accuracy"]
        seed = 0
        """)
    config = load_config("kc-key", pair_workspace)
    build_plan(config, {"TinyPairs": load_dataset("TinyPairs", pair_workspace)})
    cells = [p for p in hashed if isinstance(p, dict) and "sampler" in p]
    assert {p["sampler"]: p.get("sampler_input") for p in cells} == {"kcenter": "row target input", "random": None}
