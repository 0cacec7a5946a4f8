"""Span metrics (span_f1/precision/recall, per type) and token accuracy: equal to seqeval's conlleval mode.

seqeval's default mode is conlleval's chunking (``I-X`` after ``O`` begins a chunk, a type change
ends one); on well-formed IOB2 and IOBES sequences its strict mode agrees, and so do enso's.
The real check (real tier) runs on CoNLL-2003's test file (``eng.testb``) with perturbed
predictions; the random and edge-case checks are fast.
"""

from __future__ import annotations

import itertools
import math
import time
import warnings

import numpy as np
import pytest
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, IOBES

from enso.engine.assemble import metric_rows
from enso.metrics import METRICS, span_counts

NAMES = ("span_f1", "span_precision", "span_recall")
SEQEVAL = {"span_f1": f1_score, "span_precision": precision_score, "span_recall": recall_score}
REPORT_KEY = {"span_f1": "f1-score", "span_precision": "precision", "span_recall": "recall"}


def flat(sentences):
    tags = np.asarray([t for s in sentences for t in s], dtype=object)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    return tags, offsets


def ours(name, true, pred):
    y_true, offsets = flat(true)
    y_pred, _ = flat(pred)
    return METRICS.get(name)(y_true, y_pred, offsets=offsets)


def ours_per_type(name, true, pred):
    y_true, offsets = flat(true)
    y_pred, _ = flat(pred)
    return METRICS.get(name).per_type(y_true, y_pred, offsets=offsets)


def reference(name, true, pred, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns on 0/0 and prints 0, as conlleval does
        return SEQEVAL[name](true, pred, **kwargs)


def reference_per_type(name, true, pred, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(true, pred, output_dict=True, **kwargs)
    return {k: v[REPORT_KEY[name]] for k, v in report.items() if not k.endswith(" avg")}


def assert_equal_to_seqeval(true, pred, **kwargs):
    for name in NAMES:
        assert ours(name, true, pred) == pytest.approx(reference(name, true, pred, **kwargs), abs=1e-12), name
        assert ours_per_type(name, true, pred) == pytest.approx(reference_per_type(name, true, pred, **kwargs),
                                                                abs=1e-12), name


def iob1_to_iob2(sentence):
    out, prev = [], "O"
    for tag in sentence:
        if tag.startswith("I-") and (prev == "O" or prev[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def iob2_to_iobes(sentence):
    out = []
    for i, tag in enumerate(sentence):
        following = sentence[i + 1] if i + 1 < len(sentence) else "O"
        continues = following == "I-" + tag[2:]
        if tag.startswith("B-"):
            out.append(tag if continues else "S-" + tag[2:])
        elif tag.startswith("I-"):
            out.append(tag if continues else "E-" + tag[2:])
        else:
            out.append(tag)
    return out


def read_conll(path: Path) -> list[list[str]]:
    sentences, current = [], []
    for line in path.read_text(encoding="utf-8").split("\n"):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if current:
                sentences.append(current)
            current = []
            continue
        current.append(fields[-1])
    if current:
        sentences.append(current)
    return sentences


@pytest.fixture(scope="module")
def conll_test(shared_datasets):
    """CoNLL-2003's test file (eng.testb, IOB1 tags), through the real-file fixture (the real tier)."""
    return read_conll(shared_datasets / "eng.testb")


def perturb(sentences, rng, rate=0.15, valid=False):
    """Predictions a tagger might make: wrong types, missed and invented entities, shifted boundaries.

    ``valid``: only IOB2-valid sequences (an entity is B- then I- of its type), for strict mode.
    """
    types = ["PER", "LOC", "ORG", "MISC"]
    out = []
    for sentence in sentences:
        tags = list(sentence)
        for i in range(len(tags)):
            if rng.random() >= rate:
                continue
            move = rng.integers(0, 6 if not valid else 3)
            if move == 0:  # drop a token's tag
                tags[i] = "O"
            elif move == 1:  # a wrong type for a whole entity
                if tags[i] != "O":
                    kind, new = tags[i][2:], types[rng.integers(0, 4)]
                    j = i
                    while j > 0 and tags[j][2:] == kind and not tags[j].startswith("B-"):
                        j -= 1
                    k = i + 1
                    while k < len(tags) and tags[k] == "I-" + kind:
                        k += 1
                    tags[j:k] = ["B-" + new] + ["I-" + new] * (k - j - 1)
            elif move == 2:  # an invented one-token entity
                tags[i] = "B-" + types[rng.integers(0, 4)]
            elif move == 3:  # I- after O or where a B- was: conlleval starts a chunk
                tags[i] = "I-" + types[rng.integers(0, 4)]
            elif move == 4:  # a type change mid chunk
                if tags[i].startswith("I-"):
                    tags[i] = "I-" + types[rng.integers(0, 4)]
            else:  # a random tag
                tags[i] = rng.choice(["O", *(p + t for p in ("B-", "I-") for t in types)])
        if valid:
            tags = iob1_to_iob2(tags)
            for i in range(len(tags)):  # an I- that continues nothing: B-
                if tags[i].startswith("I-") and (i == 0 or tags[i - 1][2:] != tags[i][2:]):
                    tags[i] = "B-" + tags[i][2:]
        out.append(tags)
    return out


# -- real CoNLL-2003 tags ------------------------------------------------------------------------------


def test_conll2003_test_file_counts_its_entities(conll_test):
    true = [iob1_to_iob2(s) for s in conll_test]
    assert len(true) == 3453 and sum(map(len, true)) == 46435
    names, counts = span_counts(*flat(true)[:1], flat(true)[0], flat(true)[1])
    # eng.testb's published entity counts: LOC 1,668, MISC 702, ORG 1,661, PER 1,617 (5,648 in all)
    assert dict(zip(names, counts[:, 0].tolist(), strict=True)) == {"LOC": 1668, "MISC": 702, "ORG": 1661,
                                                                     "PER": 1617}
    assert (counts[:, 0] == counts[:, 2]).all()
    assert ours("span_f1", true, true) == 1.0


@pytest.mark.parametrize("rate", [0.03, 0.15, 0.5])
def test_span_scores_on_perturbed_conll2003_predictions_equal_seqeval(conll_test, rate):
    rng = np.random.default_rng(int(rate * 100))
    true = [iob1_to_iob2(s) for s in conll_test]
    pred = perturb(true, rng, rate)
    assert_equal_to_seqeval(true, pred)
    value = ours("span_f1", true, pred)
    assert 0.0 < value < 1.0


def test_the_raw_iob1_file_chunks_as_conlleval_does(conll_test):
    """eng.testb is IOB1: entities start with I-, which conlleval (and seqeval's default mode) chunk."""
    raw = conll_test
    iob2 = [iob1_to_iob2(s) for s in raw]
    assert ours("span_f1", raw, iob2) == 1.0  # the same entities, however they begin
    pred = perturb(raw, np.random.default_rng(5), 0.2)
    assert_equal_to_seqeval(raw, pred)


def test_strict_mode_agrees_on_valid_iob2_and_iobes(conll_test):
    rng = np.random.default_rng(9)
    true = [iob1_to_iob2(s) for s in conll_test]
    pred = perturb(true, rng, 0.2, valid=True)
    for name in NAMES:
        strict = reference(name, true, pred, mode="strict", scheme=IOB2)
        assert ours(name, true, pred) == pytest.approx(strict, abs=1e-12)
    true_es, pred_es = [iob2_to_iobes(s) for s in true], [iob2_to_iobes(s) for s in pred]
    assert_equal_to_seqeval(true_es, pred_es)
    for name in NAMES:
        strict = reference(name, true_es, pred_es, mode="strict", scheme=IOBES)
        assert ours(name, true_es, pred_es) == pytest.approx(strict, abs=1e-12)
        assert ours(name, true_es, pred_es) == pytest.approx(ours(name, true, pred), abs=1e-12)  # scheme-free


def test_span_scores_of_a_conll_sized_set_are_fast(conll_test):
    true = [iob1_to_iob2(s) for s in conll_test] * 4  # ~186k tokens, a CoNLL-2003 training set's size
    pred = perturb(true, np.random.default_rng(2), 0.1)
    y_true, offsets = flat(true)
    y_pred, _ = flat(pred)
    started = time.perf_counter()
    METRICS.get("span_f1")(y_true, y_pred, offsets=offsets)
    METRICS.get("span_f1").per_type(y_true, y_pred, offsets=offsets)
    assert time.perf_counter() - started < 2.0


# -- random sequences and edge cases ----------------------------------------------------------------------


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_random_tag_sequences_equal_seqeval():
    rng = np.random.default_rng(0)
    tags = ["O", "B-X", "I-X", "B-Y", "I-Y", "E-X", "S-Y"]
    for trial in range(300):
        n_sentences = int(rng.integers(1, 6))
        lengths = rng.integers(0, 8, size=n_sentences)
        pool = tags if trial % 2 else tags[:5]
        true = [list(rng.choice(pool, size=n)) for n in lengths]
        pred = [[t if rng.random() < 0.6 else str(rng.choice(pool)) for t in s] for s in true]
        if sum(lengths) == 0:
            continue  # seqeval cannot score no tokens at all; see the empty-input test
        assert_equal_to_seqeval(true, pred), trial


@pytest.mark.parametrize(("true", "pred", "expected"), [
    # I- after O begins a chunk (conlleval), equal to the B- form
    ([["O", "I-PER", "I-PER", "O"]], [["O", "B-PER", "I-PER", "O"]], 1.0),
    # a type change mid chunk ends it: B-PER I-LOC is two chunks, PER(1) and LOC(1)
    ([["B-PER", "I-PER"]], [["B-PER", "I-LOC"]], 0.0),
    ([["B-PER", "I-LOC"]], [["B-PER", "B-LOC"]], 1.0),
    # a sentence boundary ends a chunk: I-PER at the start of sentence 2 is a new one
    ([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]], 1.0),
    # B- after B- of the same type: two chunks
    ([["B-ORG", "B-ORG"]], [["B-ORG", "I-ORG"]], 0.0),
    # empty sentences between others hold nothing and break nothing
    ([[], ["B-LOC", "I-LOC"], [], ["O"]], [[], ["B-LOC", "I-LOC"], [], ["O"]], 1.0),
])
def test_chunk_rules(true, pred, expected):
    assert ours("span_f1", true, pred) == pytest.approx(expected)
    assert_equal_to_seqeval(true, pred)


def test_no_entities_and_all_o_predictions_score_zero_as_conlleval_prints():
    true = [["B-PER", "O"], ["B-LOC", "I-LOC"]]
    none = [["O", "O"], ["O", "O"]]
    for name in NAMES:
        assert ours(name, true, none) == 0.0 == reference(name, true, none)
        assert ours(name, none, none) == 0.0 == reference(name, none, none)
    assert ours_per_type("span_recall", true, none) == {"LOC": 0.0, "PER": 0.0}
    assert ours_per_type("span_f1", none, none) == {}
    assert ours_per_type("span_precision", none, true) == {"LOC": 0.0, "PER": 0.0}


def test_empty_input_and_bad_input():
    empty = np.zeros(0, dtype=object)
    assert METRICS.get("span_f1")(empty, empty, offsets=np.array([0])) == 0.0
    assert METRICS.get("span_f1")(empty, empty, offsets=np.array([0, 0, 0])) == 0.0
    assert METRICS.get("span_f1").per_type(empty, empty, offsets=np.array([0])) == {}
    tags = np.array(["B-PER", "I-PER", "O"], dtype=object)
    assert METRICS.get("span_f1")(tags, tags) == 1.0  # no offsets: one sentence
    with pytest.raises(ValueError, match="offsets must run"):
        METRICS.get("span_f1")(tags, tags, offsets=np.array([0, 2]))
    with pytest.raises(ValueError, match="neither O nor"):
        METRICS.get("span_f1")(np.array(["PER", "O"]), np.array(["O", "O"]))


def test_hand_counts_precision_recall_and_per_type():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-PER"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG", "B-PER"]]
    # true: PER(0,2) LOC(3) ORG(4) PER(6); predicted: PER(0,2) ORG(3) ORG(4,6) PER(6): correct PER, PER
    assert ours("span_precision", true, pred) == pytest.approx(2 / 4)
    assert ours("span_recall", true, pred) == pytest.approx(2 / 4)
    assert ours("span_f1", true, pred) == pytest.approx(0.5)
    assert ours_per_type("span_f1", true, pred) == {"LOC": 0.0, "ORG": 0.0, "PER": 1.0}
    assert ours_per_type("span_precision", true, pred)["ORG"] == 0.0


def test_metric_table():
    for name in (*NAMES, "token_accuracy"):
        metric = METRICS.get(name)
        assert metric.tasks == ("sequence-labelling",)
    assert all(METRICS.get(name).needs == "spans" and callable(METRICS.get(name).per_type) for name in NAMES)
    assert METRICS.get("token_accuracy").from_confusion is not None and METRICS.get("token_accuracy").per_type is None
    assert METRICS.get("entity_f1").name == "span_f1"


def test_assembled_rows_of_a_sequence_cell(conll_test):
    """From stored per-token codes with offsets: span rows, per-type rows, token accuracy, the all-O baseline."""
    true = [iob1_to_iob2(s) for s in conll_test[:400]]
    pred = perturb(true, np.random.default_rng(4), 0.1)
    train = [iob1_to_iob2(s) for s in conll_test[400:500]]
    y_true, offsets = flat(true)
    y_pred, _ = flat(pred)
    y_train, train_offsets = flat(train)
    classes = np.unique(np.concatenate([y_true, y_pred, y_train]).astype(str))
    code = {c: i for i, c in enumerate(classes)}
    codes = lambda tags: np.array([code[t] for t in tags], dtype=np.int32)  # noqa: E731
    predictions = {"classes": classes, "unseen_labels": np.array([], dtype=str), "y_test": codes(y_true),
                   "test_pred": codes(y_pred), "test_offsets": offsets, "y_train": codes(y_train),
                   "train_pred": codes(y_train), "train_offsets": train_offsets}
    info = {"meta": {}, "chosen_params": "{}", "timings": {}, "n_train": 100, "n_test": 400, "key": "b" * 64}
    rows = {r["metric"]: r for r in metric_rows(info, predictions, ["token_accuracy", *NAMES])}
    assert set(rows) == {"token_accuracy", *NAMES, *(f"{n}:{t}" for n in NAMES for t in ("LOC", "MISC", "ORG", "PER"))}
    for name in NAMES:
        assert rows[name]["value"] == pytest.approx(reference(name, true, pred))
        assert rows[name]["train_value"] == 1.0
        assert rows[name]["baseline_value"] == 0.0  # the majority tag is O: no entity
        assert math.isnan(rows[name]["test_ci_low"])
        for kind, value in reference_per_type(name, true, pred).items():
            assert rows[f"{name}:{kind}"]["value"] == pytest.approx(value)
    accuracy = float(np.mean(y_true == y_pred))
    assert rows["token_accuracy"]["value"] == pytest.approx(accuracy)
    assert rows["token_accuracy"]["test_ci_low"] < accuracy < rows["token_accuracy"]["test_ci_high"]


def test_pairs_of_sentences_do_not_join_across_the_boundary():
    a = [["B-PER", "I-PER"], ["I-PER", "O"]]
    joined = [["B-PER", "I-PER", "I-PER", "O"]]
    assert ours("span_f1", a, a) == 1.0
    names, counts = span_counts(*flat(a)[:1], flat(a)[0], flat(a)[1])
    assert counts[:, 0].tolist() == [2]
    names, counts = span_counts(*flat(joined)[:1], flat(joined)[0], flat(joined)[1])
    assert counts[:, 0].tolist() == [1]
    assert list(itertools.chain(*a)) == joined[0]
