"""The lora target: peft LoRA updates on the attention projections plus a linear head, the encoder frozen.

Fast tests on a tiny seeded BERT (tests/test_targets_setfit.py's folder); MiniLM in the slow tier.
"""

from __future__ import annotations

import numpy as np
import pytest

from enso.errors import ConfigError
from enso.features.model_folder import SourceModel
from enso.targets import make_target
from tests.test_targets_setfit import POS, NEG, sample, tiny_folder

FAST = {"source": "random-encoder", "random_state": 1, "epochs": 2, "min_steps": 4}


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory) -> SourceModel:
    root = tiny_folder(tmp_path_factory.mktemp("tiny-bert-lora"))
    return SourceModel(featurizer="random-encoder", root=str(root), transformer=str(root), files={},
                       settings={"pooling": "mean", "normalize": True, "max_length": 32}, random_seed=5)


@pytest.fixture(scope="module")
def fitted(tiny_source):
    texts, y = sample()
    return make_target("lora", FAST).fit(texts, y, source=tiny_source)


def frozen_encoder(source):
    from enso.targets import torch_train as tt

    with tt.seeded(0):
        return tt.load_encoder(source)


def test_lora_starts_where_the_frozen_encoder_is(tiny_source):
    from enso.targets import torch_train as tt

    texts, _ = sample()
    encoder, tokenizer = frozen_encoder(tiny_source)
    ids = tt.tokenize(tokenizer, texts)
    before = tt.embed(encoder, ids)
    with tt.seeded(3):
        wrapped = make_target("lora", FAST)._with_lora(encoder)
    assert np.allclose(tt.embed(wrapped, ids), before, atol=1e-6)  # B starts at zero


def test_only_the_updates_and_the_head_train(fitted, tiny_source):
    chosen = fitted.chosen_params_
    # r=8 on query and value of 2 blocks, 32 wide: 2 * 2 * (8*32 + 32*8); the head 32 * 2 + 2
    assert chosen["trainable_parameters"] == 2 * 2 * 512 + 66
    assert chosen["encoder_parameters"] > 100 * chosen["trainable_parameters"] / 10
    original, _ = frozen_encoder(tiny_source)
    tuned = dict(fitted.encoder_.model.named_parameters())
    for name, parameter in original.model.named_parameters():
        changed = not np.allclose(parameter.detach().numpy(), tuned[name].detach().numpy())
        if name.endswith(("query.weight", "value.weight")):
            assert changed, name  # the merged update
        else:
            assert not changed, name  # frozen: keys, feed-forward, embeddings, norms, biases
    assert "lora" not in " ".join(tuned)  # merged and unloaded: a plain encoder predicts


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_two_cpu_fits_give_identical_probabilities(fitted, tiny_source):
    texts, y = sample()
    again = make_target("lora", FAST).fit(texts, y, source=tiny_source)
    probe = [*texts, "something else entirely"]
    assert np.array_equal(fitted.predict_proba(probe), again.predict_proba(probe))
    other = make_target("lora", {**FAST, "random_state": 2}).fit(texts, y, source=tiny_source)
    assert not np.array_equal(fitted.predict_proba(probe), other.predict_proba(probe))
    kind, scores = fitted.scores(probe)
    assert kind == "proba" and np.allclose(scores.sum(axis=1), 1.0)
    assert list(fitted.classes_) == ["neg", "pos"]


# P(pos) of the sample's texts and one more, recorded before lora's fit became finetune's loop with hooks
# (and unchanged by it): a change that moves them bumps LoRA.version and records them anew.
GOLDEN = [0.634751, 0.57018, 0.452502, 0.646435, 0.603761, 0.619142, 0.358748, 0.436823, 0.385658, 0.362094,
          0.363527, 0.370117, 0.402839]


def test_the_training_loop_gives_the_recorded_probabilities(fitted):
    from enso.targets.lora import LoRA

    texts, _ = sample()
    chosen = fitted.chosen_params_
    assert (chosen["epochs_run"], chosen["best_epoch"]) == (3, 1), "the first epoch's updates restored, then merged"
    np.testing.assert_allclose(fitted.predict_proba([*texts, "something else entirely"])[:, 1], GOLDEN, atol=1e-5)
    assert LoRA.version == 1, "new numbers come with a new version: record GOLDEN anew"


def test_early_stopping_holds_out_part_of_the_training_sample(fitted):
    chosen = fitted.chosen_params_
    assert chosen["validation"] == "inner" and chosen["n_validation"] == 2  # 20% of 6 per class, rounded
    assert fitted.n_fit_ == len(POS) + len(NEG) - 2
    # 10 training rows: one step an epoch; min_steps=4 plans 4 epochs, early stopping may end sooner
    assert chosen["epochs_planned"] == 4 and chosen["steps"] == chosen["epochs_run"] <= 4
    assert 1 <= chosen["best_epoch"] <= chosen["epochs_run"]
    assert chosen["r"] == 8 and chosen["target_modules"] == ["query", "value"]


def test_a_module_the_encoder_lacks_is_named(tiny_source):
    texts, y = sample()
    with pytest.raises(ValueError, match=r"target_modules \['qkv'\] are not modules of BertModel.*query"):
        make_target("lora", {**FAST, "target_modules": ["qkv"]}).fit(texts, y, source=tiny_source)


@pytest.mark.parametrize(("params", "words"), [
    ({"r": 0}, "r must be an integer >= 1"),
    ({"alpha": -1}, "alpha must be a positive number"),
    ({"dropout": 1.0}, "dropout must be in [0.0, 1.0)"),
    ({"target_modules": []}, "target_modules must be a non-empty list"),
    ({"target_modules": ["query", 3]}, "each entry of target_modules must be a module name"),
    ({"lr": -1e-4}, "lr must be a positive number"),
    ({"source": "tfidf"}, "has no model folder"),
    ({"gradual_unfreeze": True}, "unknown parameter"),
    ({"head_init": "zeros"}, "head_init must be one of"),
])
def test_bad_parameters_are_one_line_config_errors(params, words):
    with pytest.raises(ConfigError) as error:
        make_target("lora", params)
    assert words in str(error.value) and "\n" not in str(error.value)


def test_tags_and_defaults():
    target = make_target("lora", {})
    assert target.tags.input == "texts" and target.tags.tasks == ("classification",)
    params = target.get_params()
    assert (params["r"], params["alpha"], params["dropout"]) == (8, 16.0, 0.1)
    assert tuple(params["target_modules"]) == ("query", "value") and params["lr"] == 5e-4
    assert params["head_init"] == "probe"
    from enso.targets.lora import LoRA

    assert LoRA.estimate_seconds({}, 32, 400) > LoRA.estimate_seconds({}, 16, 400) > 0  # --dry-run


def test_a_random_head_start_differs_from_the_probe(fitted, tiny_source):
    texts, y = sample()
    random_start = make_target("lora", {**FAST, "head_init": "random"}).fit(texts, y, source=tiny_source)
    assert not np.allclose(random_start.predict_proba(texts), fitted.predict_proba(texts))


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow
def test_minilm_lora_learns_a_few_shot_task_and_repeats_exactly():
    from enso.features import make_featurizer

    source = make_featurizer("minilm", {}).source_model_folder()
    texts, y = sample()
    probe = ["what a lovely, warm film", "dull and rude from start to end", "great acting", "an awful bore"]
    first = make_target("lora", {"random_state": 0}).fit(texts, y, source=source)
    second = make_target("lora", {"random_state": 0}).fit(texts, y, source=source)
    assert np.array_equal(first.predict_proba(probe), second.predict_proba(probe))
    assert list(first.predict(probe)) == ["pos", "neg", "pos", "neg"]
    assert first.chosen_params_["trainable_parameters"] < 0.01 * first.chosen_params_["encoder_parameters"]
