"""The featurizer interface: declared tags and parameters, ``fit`` on train texts, ``featurize`` in batches."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from enso.params import Constraint, validate_params

if TYPE_CHECKING:
    from enso.features.model_folder import SourceModel

Allocate = Callable[[tuple[int, ...]], np.ndarray]


@dataclass(frozen=True)
class FeaturizerTags:
    """What a featurizer is, readable from its class without building it (``FEATURIZERS.get(name).tags``).

    - ``in_domain``: it learns from texts in ``fit``, which callers give the train split (or a
      protocol's fit rows) only; the others learn nothing from the data and ignore fit rows.
    - ``sparse``: ``featurize`` returns a scipy CSR matrix; the others float32 arrays.
    - ``units``: what it featurizes: ``"text"`` in it when it gives one row per text
      (``featurize``), ``"token"`` when it gives one row per token of pre-split sentences
      (``featurize_tokens``; sequence labelling, see ``enso.features.per_token``). The feature
      cache picks by the dataset's ``Units.kind``; a sequence dataset with a featurizer that
      lacks ``"token"`` is a one-line config error before any work.
    - ``source_model``: it has a model folder a fine-tuning target can take
      (``Featurizer.source_model_folder()``).

    Cross-encoding of pairs is a parameter, not a tag: a featurizer that takes ``pair_encoding``
    (transformer encoders whose tokenizer takes two texts) gives, with ``pair_encoding = "cross"``,
    one row per distinct pair of a pair dataset (``featurize_pairs_into``; units of kind ``"pair"``).

    What depends on parameters (``layers = "all"`` gives ``(n, layers, d)``) is the instance
    method ``Featurizer.output_ndim()``.
    """

    in_domain: bool = False
    sparse: bool = False
    units: tuple[str, ...] = ("text",)
    source_model: bool = False


#: The class attributes that were tags before ``FeaturizerTags``; a subclass that still sets one
#: (a plug-in written against the old interface) has it folded into its ``tags``, with a
#: DeprecationWarning.
_LEGACY_TAGS = ("in_domain", "sparse")


class Featurizer:
    """Turns texts into one feature row each, in the order given.

    Subclasses follow scikit-learn's rule: parameters are declared once in
    ``_parameter_constraints`` (``enso.params`` constraints, checked by ``_validate_params``,
    which ``make_featurizer`` calls when a config loads and ``load_features`` again before any
    work); ``__init__`` only stores them, so ``set_params`` behaves as in scikit-learn. Checks
    that involve more than one parameter or the file system go in ``_check_together``.
    ``tags`` (a ``FeaturizerTags``) says what kind of featurizer it is. In-domain featurizers
    learn from texts in ``fit``; sparse ones return a scipy CSR matrix, the rest float32 arrays.
    """

    name: str = "featurizer"
    tags: ClassVar[FeaturizerTags] = FeaturizerTags()
    _parameter_constraints: ClassVar[dict[str, Constraint]] = {}
    #: Parameters that change speed or placement but not the numbers; left out of the identity.
    runtime_params: tuple[str, ...] = ()
    #: Bumped when the code changes what a featurizer outputs, so old cached features are not reused.
    version: int = 1
    #: Parameters that change only per-token features (``featurize_tokens``, e.g. ``subword``); left out
    #: of the identity while at their default, so that adding one keeps every stored identity as it was.
    token_params: tuple[str, ...] = ()
    #: Parameters that change only features of pair datasets (``pair_encoding``); left out of the identity
    #: while at their default, as ``token_params`` are, so separately encoded features keep their identity.
    pair_params: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        legacy = {name: cls.__dict__[name] for name in _LEGACY_TAGS if isinstance(cls.__dict__.get(name), bool)}
        if legacy:
            import warnings

            cls.tags = dataclasses.replace(cls.tags, **legacy)
            for name in legacy:
                delattr(cls, name)
            fields = ", ".join(f"{name}={value!r}" for name, value in legacy.items())
            warnings.warn(f"{cls.__name__} sets {', '.join(legacy)}; declare tags = FeaturizerTags({fields}) instead",
                          DeprecationWarning, stacklevel=2)

    @classmethod
    def param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        signature = inspect.signature(cls.__init__)
        return {name: signature.parameters[name].default for name in cls.param_names()}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Featurizer:
        """Store parameters (checked by ``_validate_params``, as after ``__init__``)."""
        names = self.param_names()
        for key, value in params.items():
            if key not in names:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; its parameters: {', '.join(names)}")
            setattr(self, key, value)
        return self

    def _validate_params(self) -> None:
        """Raise ValueError naming the first parameter that breaks its declared constraint."""
        validate_params(self._parameter_constraints, self.get_params())
        self._check_together()

    def _check_together(self) -> None:
        """Checks that involve more than one parameter, or files the parameters name; none by default."""

    def output_ndim(self) -> int:
        """2 for ``(n, d)`` features, 3 for ``(n, layers, d)``; from the parameters alone, loading nothing."""
        return 2

    def source_model_folder(self) -> SourceModel:
        """The model folder a fine-tuning target takes, with its file hashes; only if ``tags.source_model``."""
        from enso.errors import ConfigError

        raise ConfigError(f"featurizer {self.name!r} has no model folder a fine-tuning target can take; "
                          f"name one of {', '.join(source_model_featurizers())}")

    def identity(self) -> dict[str, Any]:
        """What the output depends on: parameters (runtime ones excluded) and model file hashes."""
        params = {k: v for k, v in self.get_params().items() if not self._left_out_of_identity(k)}
        return {"name": self.name, "version": self.version, "params": params, "models": self.model_files()}

    def _left_out_of_identity(self, name: str) -> bool:
        """A runtime parameter, or a per-token parameter at its default (``token_params``)."""
        if name in self.runtime_params:
            return True
        return (name in (*self.token_params, *self.pair_params)
                and getattr(self, name) == self.param_defaults().get(name))

    @classmethod
    def cross_encodes(cls) -> bool:
        """Whether it can encode the two texts of a pair together: it takes the ``pair_encoding`` parameter."""
        return "pair_encoding" in cls.param_names()

    @property
    def cross_encoding(self) -> bool:
        """``pair_encoding = "cross"``: pair datasets get one row per distinct pair (``featurize_pairs_into``)."""
        return getattr(self, "pair_encoding", "separate") == "cross"

    def model_files(self) -> dict[str, str]:
        """sha256 of every file this featurizer loads, by name; empty for self-contained ones."""
        return {}

    def configure(self, *, device: str | None = None, batch_size: int | None = None,
                  precision: str | None = None) -> Featurizer:
        """Apply run-time overrides; featurizers that have no such knobs ignore them."""
        return self

    def prepare(self) -> Featurizer:
        """Load models or vectors now, so that featurize times only the featurizing."""
        return self

    def fit(self, texts: Sequence[str]) -> Featurizer:
        return self

    def featurize(self, texts: Sequence[str]):
        raise NotImplementedError

    def featurize_into(self, texts: Sequence[str], allocate: Allocate | None,
                       progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Write features into ``allocate(shape)``; streaming featurizers fill it batch by batch.

        ``progress(k)`` is told whenever ``k`` more texts are done.
        """
        X = np.asarray(self.featurize(texts), dtype=np.float32)
        out = allocate(X.shape) if allocate is not None else X
        if out is not X:
            out[...] = X
        if progress:
            progress(len(X))
        return out

    # ---- per-token features (sequence labelling; ``"token"`` in ``tags.units``) -----------------------

    def fit_tokens(self, token_lists: Sequence[Sequence[str]]) -> Featurizer:
        """Learn from the training sentences' tokens (in-domain featurizers with ``"token"`` units)."""
        return self

    def featurize_tokens(self, token_lists: Sequence[Sequence[str]]):
        """One row per token of every sentence, flat and in order: ``(n_tokens, d)`` or ``(n_tokens, layers, d)``
        float32, or a CSR matrix for sparse featurizers. Only featurizers with ``"token"`` in ``tags.units``."""
        from enso.errors import ConfigError

        raise ConfigError(f"featurizer {self.name!r} gives no per-token features; a sequence-labelling dataset "
                          "needs one with token units (e.g. minilm, glove-6b-50d or word-shape)")

    def featurize_tokens_into(self, token_lists: Sequence[Sequence[str]], allocate: Allocate | None,
                              progress: Callable[[int], None] | None = None):
        """``featurize_tokens`` written into ``allocate(shape)`` (dense); streaming featurizers fill it batch by
        batch. ``progress(k)`` is told whenever ``k`` more tokens are done."""
        X = self.featurize_tokens(token_lists)
        if getattr(X, "format", None) == "csr" or allocate is None:
            if progress:
                progress(X.shape[0])
            return X
        X = np.asarray(X, dtype=np.float32)
        out = allocate(X.shape)
        out[...] = X
        if progress:
            progress(len(X))
        return out

    # ---- cross-encoded pairs (``pair_encoding = "cross"``) ------------------------------------------------------

    def featurize_pairs_into(self, pairs: Sequence[tuple[str, str]], allocate: Allocate | None,
                             progress: Callable[[int], None] | None = None) -> np.ndarray:
        """One row per ``(text_a, text_b)`` pair, both texts encoded together, written into ``allocate(shape)``.

        ``progress(k)`` is told whenever ``k`` more pairs are done. Only featurizers that take
        ``pair_encoding`` (``cross_encodes()``).
        """
        from enso.errors import ConfigError

        raise ConfigError(f"featurizer {self.name!r} cannot encode two texts together; pair_encoding = \"cross\" "
                          "needs a transformer encoder (e.g. minilm or hf-encoder)")

    def stats(self) -> dict[str, Any]:
        """Facts about the last ``fit``/``featurize`` for the manifest (empty texts, OOV share, ...)."""
        return dict(getattr(self, "stats_", {}))

    def __repr__(self) -> str:
        defaults = self.param_defaults()
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v)
        return f"{type(self).__name__}({shown})"


class BoolOrAuto(Constraint):
    """``true``, ``false`` or ``"auto"`` (the featurizer decides from its model or vocabulary)."""

    def check(self, name, value):
        if not (isinstance(value, bool) or value == "auto"):
            raise ValueError(f"{name} must be true, false or 'auto', got {value!r}")

    def describe(self):
        return "true, false or 'auto'"


class LocalPath(Constraint):
    """A non-empty string naming a file (``kind="file"``) or a model folder (``kind="model-folder"``: one
    with a ``config.json`` or ``modules.json``) that exists when the config is checked."""

    def __init__(self, kind: str, what: str, fix: str):
        self.kind, self.what, self.fix = kind, what, fix

    def check(self, name, value):
        from pathlib import Path

        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a {self.what}, got {value!r}")
        path = Path(value).expanduser()
        if self.kind == "file":
            if not path.is_file():
                raise ValueError(f"{name}: {self.what} {value} does not exist; {self.fix}")
        elif not ((path / "config.json").is_file() or (path / "modules.json").is_file()):
            raise ValueError(f"{name}: {value} is not a {self.what} (no config.json or modules.json); {self.fix}")

    def describe(self):
        return f"a {self.what}"


def source_model_featurizers() -> list[str]:
    """Registered featurizers whose ``tags.source_model`` is set: those a fine-tuning target can name."""
    from enso.features import FEATURIZERS

    return [name for name, cls in FEATURIZERS.items() if getattr(cls, "tags", FeaturizerTags()).source_model]


def is_blank(text: str) -> bool:
    return not text or text.isspace()
