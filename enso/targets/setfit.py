"""SetFit: contrastive fine-tuning of a sentence encoder on pairs from the training sample, then a logistic head.

The recipe of the setfit library (Tunstall et al. 2022), written in torch, with the defaults of
setfit 1.2.0's ``TrainingArguments`` unless a parameter says otherwise:

1. **Pairs.** Every pair of training examples (with replacement: ``(i, j)`` for ``i <= j``,
   self-pairs included), in a shuffled order, split into positive pairs (same label, target
   cosine 1) and negative ones (different labels, target 0). ``num_iterations`` set: that many
   positive and that many negative pairs per example; else ``sampling_strategy``:
   ``oversampling`` (the default: the smaller kind cycled up to the larger's count),
   ``undersampling`` (the larger cut down), ``unique`` (each pair once). Positives and
   negatives alternate. ``max_steps`` caps the pairs drawn as setfit does. The shuffle is seeded
   from ``random_state`` (setfit always uses 42: the same permutation for every sample).
2. **Body.** The encoder of the featurizer ``source`` names (its ``SourceModel``: folder,
   pooling, normalisation and ``max_length``, so a sentence is embedded as the frozen
   featurizer embeds it), trained with dropout on the cosine-similarity loss (the mean squared
   error between the cosine of the two embeddings and the pair's target), ``num_epochs`` passes
   over the pairs reshuffled each epoch in batches of ``batch_size`` pairs, AdamW
   (``body_learning_rate``, ``l2_weight`` weight decay except on biases and LayerNorm weights),
   linear warm-up over ``warmup_proportion`` of the steps then linear decay to 0, gradients
   clipped to norm ``max_grad_norm`` (what the Hugging Face trainer under setfit does).
3. **Head.** ``LogisticRegression(C=head_C, max_iter=head_max_iter)`` (scikit-learn's defaults,
   as setfit's) on the fine-tuned embeddings of the training texts.

Deterministic on CPU: the pair shuffle, the batch order, dropout and the head are seeded from
``random_state`` (``enso.targets.torch_train.seeded``, the shared fine-tuning utilities), and torch
runs with the thread count the engine gives the cell. On CUDA the forward passes run under
autocast (bf16, or fp16 with a gradient scaler). torch and transformers are imported inside ``fit``.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from itertools import zip_longest
from typing import ClassVar

import numpy as np

from enso.params import Choice, Integer, Number, Positive
from enso.targets.base import COMMON_CONSTRAINTS, SourceFeaturizer, Target, TargetTags
from enso.targets.search import FINAL_STREAM, resample_rows
from enso.targets.torch_train import LOAD_SECONDS, STEP_SECONDS, TEXT_SECONDS, planned_params

SAMPLING_STRATEGIES = ("oversampling", "undersampling", "unique")
DEVICES = ("auto", "cpu", "cuda")
_EMBED_CACHE = 4


# -- pairs ------------------------------------------------------------------------------------

def contrastive_pairs(labels, *, num_iterations: int | None = None, sampling_strategy: str = "oversampling",
                      max_pairs: int | None = None, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of positions into ``labels`` and their targets (1.0 same label, 0.0 different), as setfit draws them.

    Returns ``(pairs, targets)``: ``pairs`` an ``(n_pairs, 2)`` int64 array of positions,
    ``targets`` float32. See the module docstring for the strategies; ``max_pairs`` stops the
    draw once half of it is reached for each kind (setfit's ``max_steps * batch_size``).
    """
    labels = np.asarray(labels)
    n = len(labels)
    if sampling_strategy not in SAMPLING_STRATEGIES:
        raise ValueError(f"sampling_strategy must be one of {', '.join(SAMPLING_STRATEGIES)}, got {sampling_strategy!r}")
    cap = None if max_pairs is None else max_pairs // 2
    candidates = np.stack(np.triu_indices(n, 0), axis=-1)
    positive, negative = [], []
    for k in np.random.RandomState(seed).permutation(len(candidates)):
        i, j = candidates[k]
        positive_full = cap is not None and len(positive) >= cap
        negative_full = cap is not None and len(negative) >= cap
        if labels[i] == labels[j]:
            if not positive_full:
                positive.append((i, j))
        elif not negative_full:
            negative.append((i, j))
        if positive_full and negative_full:
            break
    if num_iterations:
        n_positive = n_negative = num_iterations * n
    elif sampling_strategy == "unique":
        n_positive, n_negative = len(positive), len(negative)
    elif sampling_strategy == "undersampling":
        n_positive = n_negative = min(len(positive), len(negative))
    else:
        n_positive = n_negative = max(len(positive), len(negative))
    if (n_positive and not positive) or (n_negative and not negative):
        raise ValueError("contrastive pairs need at least two classes in the training sample")
    chosen_positive = [positive[k % len(positive)] for k in range(n_positive)]
    chosen_negative = [negative[k % len(negative)] for k in range(n_negative)]
    pairs, targets = [], []
    for pos, neg in zip_longest(chosen_positive, chosen_negative):
        if pos is not None:
            pairs.append(pos)
            targets.append(1.0)
        if neg is not None:
            pairs.append(neg)
            targets.append(0.0)
    return (np.asarray(pairs, dtype=np.int64).reshape(-1, 2), np.asarray(targets, dtype=np.float32))


# -- training pieces particular to setfit's trainer -------------------------------------------------

@contextlib.contextmanager
def torch_session(random_state: int | None, device: str = "cpu") -> Iterator[int]:
    """One fit or predict at a time per process (torch's RNG is process-wide), seeded (``torch_train.seeded``)."""
    from enso.targets.neural import _TORCH_LOCK
    from enso.targets.torch_train import seeded

    with _TORCH_LOCK, seeded(random_state, device=device) as seed:
        yield seed


def hf_linear_schedule(optimizer, warmup_steps: int, total_steps: int):
    """transformers' ``linear`` schedule, as setfit's trainer runs it: ``step / warmup`` up, then linear to 0.

    (``torch_train``'s ``linear`` schedule counts its warm-up from ``(step + 1) / (warmup + 1)``; this is
    the Hugging Face one, ``warmup_steps = ceil(warmup_proportion * total)``, so the peer is matched.)
    """
    import torch

    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def texts_digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


# -- the target -------------------------------------------------------------------------------

class SetFit(Target):
    """Contrastive fine-tuning of the source featurizer's encoder on pairs of training examples, then logistic regression."""

    name = "setfit"
    #: Part of every fine-tuning cell's key: bump when a change to the training loop changes predictions.
    version: ClassVar[int] = 1
    tags: ClassVar[TargetTags] = TargetTags(input="texts", accepts_sparse=False, tasks=("classification",))
    #: ``a + b * n_train + c * n_test`` seconds on a 2-core CPU with MiniLM: a reader's rough line through 16..64
    #: examples (the default pairs grow with n_train squared). ``--dry-run`` uses ``estimate_seconds``, which
    #: follows the parameters, until stored cells give timings.
    cost: ClassVar[tuple[float, float, float]] = (15.0, 1.0, 0.01)
    _parameter_constraints: ClassVar[dict] = {
        **COMMON_CONSTRAINTS,
        "source": SourceFeaturizer(),
        "num_iterations": Integer(1, allow_none=True),
        "sampling_strategy": Choice(*SAMPLING_STRATEGIES),
        "batch_size": Integer(1),
        "num_epochs": Integer(1),
        "max_steps": Integer(1, allow_none=True),
        "body_learning_rate": Positive(),
        "l2_weight": Number(0, float("inf")),
        "warmup_proportion": Number(0, 1),
        "max_grad_norm": Number(0, float("inf")),
        "max_length": Integer(2, allow_none=True),
        "head_C": Positive(),
        "head_max_iter": Integer(1),
        "device": Choice(*DEVICES),
    }

    def __init__(self, source="minilm", num_iterations=None, sampling_strategy="oversampling", batch_size=16,
                 num_epochs=1, max_steps=None, body_learning_rate=2e-5, l2_weight=0.01, warmup_proportion=0.1,
                 max_grad_norm=1.0, max_length=None, head_C=1.0, head_max_iter=100, device="auto",
                 resampler="none", random_state=None):
        self.source = source
        self.num_iterations = num_iterations
        self.sampling_strategy = sampling_strategy
        self.batch_size = batch_size
        self.num_epochs = num_epochs
        self.max_steps = max_steps
        self.body_learning_rate = body_learning_rate
        self.l2_weight = l2_weight
        self.warmup_proportion = warmup_proportion
        self.max_grad_norm = max_grad_norm
        self.max_length = max_length
        self.head_C = head_C
        self.head_max_iter = head_max_iter
        self.device = device
        self.resampler = resampler
        self.random_state = random_state

    #: ``estimate_seconds``'s constants (``torch_train``'s, shared with ``finetune``): a step on 16 texts (a step of
    #: ``batch_size`` pairs trains on twice as many texts), one text encoded, a cell's fixed cost.
    STEP_SECONDS: ClassVar[float] = STEP_SECONDS
    TEXT_SECONDS: ClassVar[float] = TEXT_SECONDS
    LOAD_SECONDS: ClassVar[float] = LOAD_SECONDS

    @classmethod
    def planned_pairs(cls, params: dict, n_train: int) -> int:
        """How many pairs ``fit`` draws from ``n_train`` examples (``contrastive_pairs``' counts).

        ``num_iterations`` set: ``2 * num_iterations * n_train``. Else the strategy's count of the pairs
        (``i <= j``) of two balanced classes (the labels are not known before the sample is drawn), each
        kind's pool capped at ``max_steps * batch_size / 2`` as ``fit`` caps it.
        """
        values = planned_params(cls, params)
        n = max(0, int(n_train))
        if values["num_iterations"]:
            return 2 * int(values["num_iterations"]) * n
        a, b = n // 2, n - n // 2
        positive, negative = a * (a + 1) // 2 + b * (b + 1) // 2, a * b
        if values["max_steps"] is not None:
            cap = values["max_steps"] * values["batch_size"] // 2
            positive, negative = min(positive, cap), min(negative, cap)
        strategy = values["sampling_strategy"]
        if strategy == "unique":
            return positive + negative
        return 2 * (min(positive, negative) if strategy == "undersampling" else max(positive, negative))

    @classmethod
    def estimate_seconds(cls, params: dict, n_train: int, n_test: int) -> float:
        """A cell's rough seconds for ``--dry-run`` from its parameters: the steps it takes, the texts it encodes.

        Steps as ``fit`` counts them: ``ceil(pairs / batch_size)`` an epoch, ``num_epochs`` epochs, at most
        ``max_steps``; each step trains on both texts of ``batch_size`` pairs. Encoded: the training texts
        (the head's embeddings, which the predictions on the training sample reuse) and the test rows.
        """
        values = planned_params(cls, params)
        batch = values["batch_size"]
        steps = -(-cls.planned_pairs(values, n_train) // batch) * values["num_epochs"]
        if values["max_steps"] is not None:
            steps = min(steps, values["max_steps"])
        return cls.LOAD_SECONDS + steps * cls.STEP_SECONDS * 2 * batch / 16 + (n_train + n_test) * cls.TEXT_SECONDS

    def _seed(self) -> int:
        return 0 if self.random_state is None else int(self.random_state)

    def fit(self, X, y, *, validation=None, source=None):
        """Fine-tune on pairs of ``X`` (texts) and fit the head; ``validation`` is not used (setfit has no early stopping).

        ``source``: the ``SourceModel`` (the engine passes it); None: the model of the featurizer ``source`` names.
        """
        self._validate_params()
        if source is None:  # library use without the engine: the named featurizer's model
            from enso.features import make_featurizer

            source = make_featurizer(self.source, {}).configure(device="cpu").source_model_folder()
        texts, y = [str(t) for t in X], np.asarray(y)
        if len(texts) != len(y):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{self.name} needs at least two classes in the training sample, got {len(self.classes_)}")
        seed = self._seed()
        picked = resample_rows(self.resampler, codes, seed, FINAL_STREAM)
        if picked is not None:
            texts, codes = [texts[i] for i in picked], codes[picked]
        self.n_fit_ = len(texts)
        from enso.targets.torch_train import resolve_device

        self.device_ = resolve_device(self.device)
        with torch_session(seed, self.device_):
            self._fit(texts, codes, source, seed)
        return self

    def _fit(self, texts: list[str], codes: np.ndarray, source, seed: int) -> None:
        import torch
        from sklearn.linear_model import LogisticRegression

        from enso.targets import torch_train as tt

        device = self.device_
        max_pairs = None if self.max_steps is None else self.max_steps * self.batch_size
        pairs, targets = contrastive_pairs(codes, num_iterations=self.num_iterations,
                                           sampling_strategy=self.sampling_strategy, max_pairs=max_pairs, seed=seed)
        encoder, tokenizer = tt.load_encoder(source, device=device, max_length=self.max_length)
        ids = tt.tokenize(tokenizer, texts)
        total = tt.steps_per_epoch(len(pairs), self.batch_size) * self.num_epochs
        if self.max_steps is not None:
            total = min(total, self.max_steps)
        warmup = int(np.ceil(total * self.warmup_proportion))
        groups = tt.discriminative_groups(tt.layer_groups(encoder.model), self.body_learning_rate, 1.0,
                                          self.l2_weight)
        optimizer = tt.make_optimizer(groups)
        schedule = hf_linear_schedule(optimizer, warmup, total)
        scaler = tt.grad_scaler(device)
        rng = np.random.default_rng([seed, 1])
        targets_t = torch.from_numpy(targets).to(device)
        parameters = list(encoder.parameters())
        losses, step = [], 0
        encoder.train()
        for _ in range(self.num_epochs):
            for batch in tt.batch_order(len(pairs), self.batch_size, rng):
                if step >= total:
                    break
                # one forward pass over both sides of the batch's pairs (padding is masked: the same as two)
                input_ids, mask = tt.padded(ids, np.concatenate([pairs[batch, 0], pairs[batch, 1]]),
                                            encoder.pad_id, device)
                with tt.autocast(device):
                    embedded = encoder(input_ids, mask).float()
                a, b = embedded[:len(batch)], embedded[len(batch):]
                cosine = torch.nn.functional.cosine_similarity(a, b, dim=-1)
                loss = torch.nn.functional.mse_loss(cosine, targets_t[batch])
                tt.backward_step(loss, optimizer, scaler, self.max_grad_norm or None, parameters)
                schedule.step()
                losses.append(float(loss.detach()))
                step += 1
        encoder.eval()
        for parameter in parameters:
            parameter.requires_grad_(False)
        self.encoder_, self.tokenizer_ = encoder, tokenizer
        train_embeddings = tt.embed(encoder, ids, device=device)  # in this session already, not through _embed
        self._embedded: OrderedDict[str, np.ndarray] = OrderedDict([(texts_digest(texts), train_embeddings)])
        self.head_ = LogisticRegression(C=self.head_C, max_iter=self.head_max_iter, random_state=seed)
        self.head_.fit(train_embeddings, codes)
        n_positive = int(targets.sum())
        self.chosen_params_ = {
            "search": "setfit recipe: contrastive fine-tuning on pairs of the training sample, "
                      "then logistic regression on the fine-tuned embeddings (no search)",
            "pairs": len(pairs), "positive_pairs": n_positive, "negative_pairs": len(pairs) - n_positive,
            "steps": step, "warmup_steps": warmup, "epochs": self.num_epochs,
            "body_learning_rate": self.body_learning_rate, "batch_size": self.batch_size,
            "max_length": encoder.max_length, "pooling": encoder.pooling, "normalize": encoder.normalize,
            "device": device, "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
        }

    def _embed(self, X) -> np.ndarray:
        """Fine-tuned embeddings of ``X`` (texts); the last few inputs are kept (predict and scores ask twice)."""
        from enso.targets import torch_train as tt

        texts = [str(t) for t in X]
        key = texts_digest(texts)
        if key in self._embedded:
            self._embedded.move_to_end(key)
            return self._embedded[key]
        with torch_session(self._seed(), self.device_):
            embedded = tt.embed(self.encoder_, tt.tokenize(self.tokenizer_, texts), device=self.device_)
        self._embedded[key] = embedded
        while len(self._embedded) > _EMBED_CACHE:
            self._embedded.popitem(last=False)
        return embedded

    def transform(self, X) -> np.ndarray:
        """The fine-tuned sentence embeddings of texts ``X`` (what the head sees)."""
        return self._embed(X)

    def predict_proba(self, X) -> np.ndarray:
        return self.head_.predict_proba(self._embed(X))

    def decision_function(self, X) -> np.ndarray:
        return self.head_.decision_function(self._embed(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.head_.predict(self._embed(X))]


__all__ = ["SetFit", "contrastive_pairs", "hf_linear_schedule", "torch_session"]
