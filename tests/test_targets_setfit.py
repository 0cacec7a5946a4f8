"""The setfit target: pairs as the setfit library draws them, deterministic CPU fits, a logistic head on
fine-tuned embeddings, one-line errors for bad parameters, and cells in a sweep.

Fast tests use a tiny BERT (2 layers, 32 wide) initialised from a seed, with MiniLM's tokenizer;
tests on the real all-MiniLM-L6-v2 are marked slow.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from enso.errors import ConfigError
from enso.features.model_folder import SourceModel
from enso.targets import make_target
from enso.targets.setfit import SAMPLING_STRATEGIES, SetFit, contrastive_pairs

TINY_CONFIG = {
    "architectures": ["BertModel"], "model_type": "bert", "vocab_size": 30522, "hidden_size": 32,
    "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64,
    "type_vocab_size": 2, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "pad_token_id": 0,
}
POS = ["great lovely film", "a warm and kind story", "bright quick and tasty", "calm lovely great acting",
       "kind warm bright", "tasty great lovely"]
NEG = ["awful dull film", "a rude and noisy story", "cold bland and late", "broken dull awful acting",
       "rude noisy cold", "bland awful broken"]


def tiny_folder(root: Path, weights: bool = False) -> Path:
    """A tiny BERT folder with MiniLM's tokenizer; ``weights``: also a saved seeded init (hf-encoder loads it)."""
    from enso.features.transformer import minilm_folder

    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_folder() / name, root / name)
    if weights:
        import torch
        from transformers import AutoConfig, AutoModel

        torch.manual_seed(0)
        AutoModel.from_config(AutoConfig.from_pretrained(str(root))).save_pretrained(str(root))
    return root


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory) -> SourceModel:
    root = tiny_folder(tmp_path_factory.mktemp("tiny-bert"))
    return SourceModel(featurizer="random-encoder", root=str(root), transformer=str(root), files={},
                       settings={"pooling": "mean", "normalize": True, "max_length": 32}, random_seed=5)


def sample():
    texts = POS + NEG
    return texts, np.asarray(["pos"] * len(POS) + ["neg"] * len(NEG))


def fit(source, **params):
    texts, y = sample()
    return SetFit(source="random-encoder", **{"random_state": 3, **params}).fit(texts, y, source=source)


# -- pairs ------------------------------------------------------------------------------------

# setfit 1.2.0's ContrastiveDataset on labels [0, 0, 1, 1, 1] (its shuffle is always seeded 42):
# (sentence_1, sentence_2, label) in the order it yields them.
SETFIT_OVERSAMPLING = [(2, 2, 1), (1, 4, 0), (2, 4, 1), (0, 2, 0), (0, 0, 1), (0, 4, 0), (3, 4, 1), (1, 3, 0),
                       (1, 1, 1), (0, 3, 0), (0, 1, 1), (1, 2, 0), (4, 4, 1), (1, 4, 0), (2, 3, 1), (0, 2, 0),
                       (3, 3, 1), (0, 4, 0)]


def test_pairs_are_the_setfit_librarys_pairs_for_its_seed():
    pairs, targets = contrastive_pairs([0, 0, 1, 1, 1], seed=42)
    assert [(int(a), int(b), int(t)) for (a, b), t in zip(pairs, targets)] == SETFIT_OVERSAMPLING


@pytest.mark.parametrize(("kwargs", "n_positive", "n_negative"), [
    ({}, 9, 9),  # oversampling: 9 same-label pairs (self-pairs included), 6 negatives cycled up to 9
    ({"sampling_strategy": "undersampling"}, 6, 6),
    ({"sampling_strategy": "unique"}, 9, 6),
    ({"num_iterations": 3}, 15, 15),  # num_iterations per example, of each kind
    ({"max_pairs": 6}, 3, 3),
])
def test_pair_counts_and_balance(kwargs, n_positive, n_negative):
    labels = np.asarray([0, 0, 1, 1, 1])
    pairs, targets = contrastive_pairs(labels, seed=7, **kwargs)
    assert int(targets.sum()) == n_positive and int((targets == 0).sum()) == n_negative
    same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    assert np.array_equal(same, targets == 1.0)
    assert pairs.min() >= 0 and pairs.max() < len(labels)  # positions of the training sample only
    assert (pairs[:, 0] <= pairs[:, 1]).all()
    if kwargs.get("sampling_strategy") == "unique":
        assert len({tuple(p) for p in pairs}) == len(pairs) == 15  # every (i <= j) pair once


def test_pairs_alternate_and_the_shuffle_follows_the_seed():
    labels = np.repeat([0, 1, 2], 4)
    pairs, targets = contrastive_pairs(labels, seed=1)
    assert np.array_equal(targets[:20], np.tile([1.0, 0.0], 10))
    again, _ = contrastive_pairs(labels, seed=1)
    other, _ = contrastive_pairs(labels, seed=2)
    assert np.array_equal(pairs, again) and not np.array_equal(pairs, other)
    # every example takes part
    assert set(np.unique(pairs)) == set(range(len(labels)))


def test_pairs_need_two_classes():
    with pytest.raises(ValueError, match="two classes"):
        contrastive_pairs([1, 1, 1])


# -- fitting ----------------------------------------------------------------------------------

@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_fit_counts_pairs_from_the_training_sample_and_ignores_a_validation_set(tiny_source):
    texts, y = sample()
    model = fit(tiny_source)
    expected, targets = contrastive_pairs(np.unique(y, return_inverse=True)[1], seed=3)
    chosen = model.chosen_params_
    assert chosen["pairs"] == len(expected) and chosen["positive_pairs"] == int(targets.sum())
    assert chosen["steps"] == -(-len(expected) // 16) and chosen["warmup_steps"] == int(np.ceil(0.1 * chosen["steps"]))
    assert model.n_fit_ == len(texts)
    assert (chosen["pooling"], chosen["normalize"], chosen["max_length"]) == ("mean", True, 32)
    short = fit(tiny_source, num_iterations=1)
    with_validation = SetFit(source="random-encoder", random_state=3, num_iterations=1).fit(
        texts, y, validation=(["unrelated text"] * 4, np.asarray(["pos", "neg"] * 2)), source=tiny_source)
    assert np.array_equal(short.predict_proba(texts), with_validation.predict_proba(texts))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_two_cpu_fits_give_identical_probabilities_and_another_seed_others(tiny_source):
    texts, _ = sample()
    probe = [*texts, "an unseen sentence about nothing"]
    first, second = fit(tiny_source, num_iterations=2), fit(tiny_source, num_iterations=2)
    assert np.array_equal(first.predict_proba(probe), second.predict_proba(probe))
    assert first.chosen_params_ == second.chosen_params_
    other = fit(tiny_source, num_iterations=2, random_state=4)
    assert not np.array_equal(first.transform(probe), other.transform(probe))


def test_the_head_is_logistic_regression_on_the_fine_tuned_embeddings(tiny_source):
    from sklearn.linear_model import LogisticRegression

    from enso.targets import torch_train as tt

    texts, y = sample()
    model = fit(tiny_source, num_iterations=4)
    assert isinstance(model.head_, LogisticRegression) and model.head_.C == 1.0
    embedded = model.transform(texts)
    codes = np.unique(y, return_inverse=True)[1]
    refit = LogisticRegression(random_state=3).fit(embedded, codes)
    probe = ["lovely warm story", "dull rude acting"]
    assert np.allclose(refit.predict_proba(model.transform(probe)), model.predict_proba(probe))
    kind, scores = model.scores(probe)
    assert kind == "proba" and np.allclose(scores.sum(axis=1), 1.0)
    assert list(model.classes_) == ["neg", "pos"] and set(model.predict(probe)) <= {"neg", "pos"}
    # the body did move: the frozen encoder embeds the same texts otherwise
    with tt.seeded(0):
        frozen, tokenizer = tt.load_encoder(tiny_source)
        before = tt.embed(frozen, tt.tokenize(tokenizer, texts))
    assert np.allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)  # the featurizer's normalisation
    assert np.abs(before - embedded).max() > 1e-4


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_training_changes_with_the_learning_rate_and_epochs(tiny_source):
    base = fit(tiny_source, num_iterations=2)
    longer = fit(tiny_source, num_iterations=2, num_epochs=2)
    assert longer.chosen_params_["steps"] == 2 * base.chosen_params_["steps"]
    capped = fit(tiny_source, max_steps=1)
    assert capped.chosen_params_["steps"] == 1 and capped.chosen_params_["pairs"] <= 16


def test_a_resampler_acts_on_the_training_sample(tiny_source):
    texts, y = POS + NEG[:2], np.asarray(["pos"] * 6 + ["neg"] * 2)
    model = SetFit(source="random-encoder", resampler="oversample", random_state=0, max_steps=1)
    model.fit(texts, y, source=tiny_source)
    assert model.n_fit_ == 12


def test_one_class_is_a_clear_error(tiny_source):
    with pytest.raises(ValueError, match="at least two classes"):
        SetFit(source="random-encoder").fit(POS, np.asarray(["pos"] * len(POS)), source=tiny_source)


# -- parameters -------------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "words"), [
    ({"body_learning_rate": -1e-5}, "body_learning_rate must be a positive number"),
    ({"source": "tfidf"}, "featurizer 'tfidf' has no model folder"),
    ({"source": "no-such"}, "unknown featurizer 'no-such'"),
    ({"sampling_strategy": "random"}, "sampling_strategy must be one of"),
    ({"num_iterations": 0}, "num_iterations must be an integer >= 1"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ({"warmup_proportion": 1.5}, "warmup_proportion must be a number in"),
    ({"head_C": 0}, "head_C must be a positive number"),
    ({"device": "tpu"}, "device must be one of"),
    ({"lr": 1e-5}, "lr"),
])
def test_bad_parameters_are_one_line_config_errors(params, words):
    with pytest.raises(ConfigError) as error:
        make_target("setfit", params)
    message = str(error.value)
    assert words in message and "\n" not in message


def test_defaults_are_the_setfit_librarys():
    target = make_target("setfit", {})
    params = target.get_params()
    assert params["batch_size"] == 16 and params["num_epochs"] == 1 and params["num_iterations"] is None
    assert params["body_learning_rate"] == 2e-5 and params["l2_weight"] == 0.01
    assert params["warmup_proportion"] == 0.1 and params["sampling_strategy"] == "oversampling"
    assert params["max_length"] is None and params["head_C"] == 1.0 and params["head_max_iter"] == 100
    assert target.tags.input == "texts" and target.tags.tasks == ("classification",)


def test_the_dry_run_estimate_follows_the_pairs_the_steps_and_the_texts():
    estimate = SetFit.estimate_seconds
    base = {"num_iterations": 5}
    assert estimate(base, 64, 100) > estimate(base, 16, 100) > estimate(base, 8, 100) > 0, "n_train: more pairs"
    assert estimate({**base, "num_epochs": 2}, 16, 100) > estimate(base, 16, 100), "epochs"
    assert estimate({"num_iterations": 10}, 16, 100) > estimate(base, 16, 100), "pairs per example"
    assert estimate(base, 16, 400) > estimate(base, 16, 100), "test rows encoded"
    capped = {**base, "max_steps": 8}
    assert estimate(capped, 64, 100) < estimate(base, 64, 100), "max_steps caps the steps"
    # past the cap only the texts encoded grow (the head's training embeddings)
    assert estimate(capped, 200, 100) - estimate(capped, 64, 100) == pytest.approx(136 * SetFit.TEXT_SECONDS)
    # a step trains on both texts of its pairs: twice finetune's step at the same batch size
    one_step = estimate({"num_iterations": 1, "batch_size": 16}, 8, 0) - estimate({"num_iterations": 1}, 0, 8)
    assert one_step == pytest.approx(2 * SetFit.STEP_SECONDS)
    # setfit's defaults (oversampling, no cap): the pairs, and so the steps, grow with n_train squared
    assert estimate({}, 64, 0) - estimate({}, 32, 0) > 2 * (estimate({}, 32, 0) - estimate({}, 16, 0))


@pytest.mark.parametrize("n", [8, 9, 16])
def test_the_planned_pairs_are_the_pairs_fit_draws_from_two_balanced_classes(n):
    labels = np.arange(n) % 2
    for strategy in SAMPLING_STRATEGIES:
        for max_steps in (None, 2):
            pairs, _ = contrastive_pairs(labels, sampling_strategy=strategy,
                                         max_pairs=None if max_steps is None else max_steps * 16)
            assert SetFit.planned_pairs({"sampling_strategy": strategy, "max_steps": max_steps}, n) == len(pairs)
    assert SetFit.planned_pairs({"num_iterations": 3}, n) == len(contrastive_pairs(labels, num_iterations=3)[0])


@pytest.mark.slow  # over a second: resolving the hf-encoder featurizer imports transformers
def test_a_dry_run_estimates_setfit_cells_from_their_parameters(tiny_workspace, tmp_path):
    from enso.components import load_config
    from enso.engine import run_experiment
    from tests.tiny import write_config

    folder = tiny_folder(tmp_path / "tiny")
    config = load_config(write_config(tiny_workspace, "setfit-plan", SWEEP.format(path=folder)), tiny_workspace)
    plan = run_experiment(config, tiny_workspace, dry_run=True)
    tuned = plan[plan.target.str.startswith("setfit")]
    assert tuned.estimate_seconds.sum() == pytest.approx(2 * SetFit.estimate_seconds({"num_iterations": 1}, 8, 16))
    assert not list((tiny_workspace.root / "results").rglob("cell.json")), "nothing fitted"


# -- in a sweep -------------------------------------------------------------------------------

SWEEP = """\
datasets = ["Tiny"]
featurizers = [{{ name = "hf-encoder", path = "{path}", max_length = 32 }}]
targets = ["logreg", {{ name = "setfit", source = "hf-encoder", num_iterations = 1 }}]
train_sizes = [8]
resamples = 2
metrics = ["accuracy"]
seed = 0
"""


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_setfit_cells_see_the_frozen_targets_training_rows(tiny_workspace, tmp_path):
    from enso.components import load_config
    from enso.engine import run_experiment
    from tests.tiny import write_config

    folder = tiny_folder(tmp_path / "tiny-weights", weights=True)
    config = load_config(write_config(tiny_workspace, "setfit-sweep", SWEEP.format(path=folder)), tiny_workspace)
    table = run_experiment(config, tiny_workspace, jobs=1)
    assert len(set(table["target"])) == 2
    assert len(table) == 4 and table["value"].between(0, 1).all()
    cells = {}
    for path in (tiny_workspace.root / "results" / "setfit-sweep" / "cells").rglob("cell.json"):
        cell = json.loads(path.read_text())
        cells.setdefault(cell["meta"]["resample"], set()).add(cell["sample"])
    assert len(cells) == 2 and all(len(samples) == 1 for samples in cells.values())  # same rows per resample
    setfit_rows = table[table["target"].str.startswith("setfit")]
    assert json.loads(setfit_rows["chosen_params"].iloc[0])["pairs"] == 2 * 8  # num_iterations=1: 8 + 8
    again = run_experiment(config, tiny_workspace, jobs=1)
    assert np.array_equal(again.sort_values(["target", "resample"])["value"].to_numpy(),
                          table.sort_values(["target", "resample"])["value"].to_numpy())


# -- the real model (slow) --------------------------------------------------------------------

@pytest.mark.slow
def test_minilm_setfit_learns_a_few_shot_task_and_repeats_exactly():
    from enso.features import make_featurizer

    source = make_featurizer("minilm", {}).source_model_folder()
    texts, y = sample()
    probe = ["what a lovely, warm film", "dull and rude from start to end", "great acting", "an awful bore"]
    first = SetFit(random_state=0).fit(texts, y, source=source)
    second = SetFit(random_state=0).fit(texts, y, source=source)
    assert np.array_equal(first.predict_proba(probe), second.predict_proba(probe))
    assert list(first.predict(probe)) == ["pos", "neg", "pos", "neg"]
    assert first.chosen_params_["max_length"] == 256 and first.chosen_params_["normalize"] is True


@pytest.mark.slow
def test_pairs_match_the_installed_setfit_library():
    sampler = pytest.importorskip("setfit.sampler", reason="setfit (the bench extra) is not installed")
    rng = np.random.default_rng(0)
    for labels in (rng.integers(0, 2, 11), rng.integers(0, 4, 17), np.repeat([0, 1], [2, 9])):
        sentences = [f"s{i}" for i in range(len(labels))]
        for kwargs in ({}, {"sampling_strategy": "undersampling"}, {"sampling_strategy": "unique"},
                       {"num_iterations": 3}, {"max_pairs": 10}):
            library = sampler.ContrastiveDataset(sentences, list(labels), False, kwargs.get("num_iterations"),
                                                 kwargs.get("sampling_strategy", "oversampling"),
                                                 max_pairs=kwargs.get("max_pairs", -1))
            pairs, targets = contrastive_pairs(labels, seed=42, **kwargs)
            ours = [(f"s{a}", f"s{b}", float(t)) for (a, b), t in zip(pairs, targets)]
            assert ours == [(p["sentence_1"], p["sentence_2"], p["label"]) for p in library]
    assert Counter(t for *_, t in ours)  # the loop ran
