"""The featurizer interface: parameters in ``__init__``, ``fit`` on train texts, ``featurize`` in batches."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import numpy as np

Allocate = Callable[[tuple[int, ...]], np.ndarray]


class Featurizer:
    """Turns texts into one feature row each, in the order given.

    Subclasses follow scikit-learn's rule: ``__init__`` stores and checks its arguments and
    does no work. ``in_domain`` featurizers learn from texts in ``fit``, which callers give the
    train split only. ``sparse`` ones return a scipy CSR matrix, the rest float32 arrays.
    """

    name: str = "featurizer"
    in_domain: bool = False
    sparse: bool = False
    #: Parameters that change speed or placement but not the numbers; left out of the identity.
    runtime_params: tuple[str, ...] = ()
    #: Bumped when the code changes what a featurizer outputs, so old cached features are not reused.
    version: int = 1

    @classmethod
    def param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values()
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        signature = inspect.signature(cls.__init__)
        return {name: signature.parameters[name].default for name in cls.param_names()}

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def identity(self) -> dict[str, Any]:
        """What the output depends on: parameters (runtime ones excluded) and model file hashes."""
        params = {k: v for k, v in self.get_params().items() if k not in self.runtime_params}
        return {"name": self.name, "version": self.version, "params": params, "models": self.model_files()}

    def model_files(self) -> dict[str, str]:
        """sha256 of every file this featurizer loads, by name; empty for self-contained ones."""
        return {}

    def configure(self, *, device: str | None = None, batch_size: int | None = None,
                  precision: str | None = None) -> "Featurizer":
        """Apply run-time overrides; featurizers that have no such knobs ignore them."""
        return self

    def prepare(self) -> "Featurizer":
        """Load models or vectors now, so that featurize times only the featurizing."""
        return self

    def fit(self, texts: Sequence[str]) -> "Featurizer":
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

    def stats(self) -> dict[str, Any]:
        """Facts about the last ``fit``/``featurize`` for the manifest (empty texts, OOV share, ...)."""
        return dict(getattr(self, "stats_", {}))

    def __repr__(self) -> str:
        defaults = self.param_defaults()
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v)
        return f"{type(self).__name__}({shown})"


def is_blank(text: str) -> bool:
    return not text or text.isspace()
