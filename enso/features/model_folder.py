"""Model folders: what a transformers or sentence-transformers folder holds, read without loading it.

``ModelFolder.inspect(path)`` finds the transformer inside a sentence-transformers folder, its
pooling, normalisation and sequence length, and ``files()`` lists the files that define the
model's output (whose sha256 are an artifact's identity). ``SourceModel`` is what a featurizer
with a model folder hands a fine-tuning target: the resolved folder, its file hashes and the
featurizer's resolved settings, small and serialisable.

Needs only the standard library (no torch, transformers, pandas), so inspecting a folder is
cheap and works on a bare machine.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelFolder:
    """Where a transformers or sentence-transformers model keeps its parts."""

    root: Path
    transformer: Path
    max_length: int | None
    pooling: str | None
    normalize: bool | None

    @classmethod
    def inspect(cls, path: str | Path) -> ModelFolder:
        root = Path(path).expanduser()
        if not root.is_dir():
            from enso.errors import ConfigError
            raise ConfigError(f"model folder {root} does not exist; pass the folder of a transformers "
                              "or sentence-transformers model (with config.json)")
        transformer, pooling, normalize, max_length = root, None, None, None
        modules_file = root / "modules.json"
        if modules_file.is_file():
            modules = json.loads(modules_file.read_text(encoding="utf-8"))
            normalize = False
            for module in modules:
                kind = module.get("type", "")
                folder = root / module.get("path", "")
                if kind.endswith("Transformer"):
                    transformer = folder
                elif kind.endswith("Pooling") and (folder / "config.json").is_file():
                    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
                    if config.get("pooling_mode_cls_token"):
                        pooling = "cls"
                    elif config.get("pooling_mode_mean_tokens"):
                        pooling = "mean"
                elif kind.endswith("Normalize"):
                    normalize = True
            for candidate in (transformer / "sentence_bert_config.json", root / "sentence_bert_config.json"):
                if candidate.is_file():
                    max_length = json.loads(candidate.read_text(encoding="utf-8")).get("max_seq_length")
                    break
        if not (transformer / "config.json").is_file():
            from enso.errors import ConfigError
            raise ConfigError(f"{transformer} has no config.json; pass the folder of a transformers "
                              "or sentence-transformers model")
        return cls(root, transformer, max_length, pooling, normalize)

    def position_limit(self) -> int | None:
        config = json.loads((self.transformer / "config.json").read_text(encoding="utf-8"))
        positions = config.get("max_position_embeddings")
        return positions if isinstance(positions, int) and positions > 0 else None

    def default_max_length(self) -> int:
        if self.max_length:
            return int(self.max_length)
        config = json.loads((self.transformer / "config.json").read_text(encoding="utf-8"))
        limit = 512
        tokenizer_config = self.transformer / "tokenizer_config.json"
        if tokenizer_config.is_file():
            declared = json.loads(tokenizer_config.read_text(encoding="utf-8")).get("model_max_length")
            if isinstance(declared, int) and 0 < declared < 100_000:
                limit = min(limit, declared)
        positions = config.get("max_position_embeddings")
        if isinstance(positions, int) and positions > 0:
            limit = min(limit, positions)
        return limit

    def files(self, include_weights: bool = True) -> list[Path]:
        """The files that define the model's output: configs, tokenizer, and the weights torch loads.

        Not READMEs, git metadata, other frameworks' weights (TF, Flax, ONNX, OpenVINO), nor
        ``.bin`` weights when ``.safetensors`` ones are there (transformers prefers those).
        """
        skipped_suffixes = {".md", ".h5", ".msgpack", ".onnx", ".ot", ".tflite"}
        skipped_folders = {"onnx", "openvino", "tf", "flax"}
        has_safetensors = any(self.transformer.glob("*.safetensors"))
        chosen = []
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            suffix = path.suffix.lower()
            if not path.is_file() or any(part.startswith(".") for part in relative.parts) \
                    or suffix in skipped_suffixes or skipped_folders & set(relative.parts[:-1]):
                continue
            weights = suffix in {".safetensors", ".bin", ".pt", ".pth"}
            if weights and (not include_weights or (suffix != ".safetensors" and has_safetensors)):
                continue
            if path.name.endswith(".index.json") and not include_weights:
                continue
            chosen.append(path)
        return chosen



@dataclass(frozen=True)
class SourceModel:
    """A featurizer's model as a fine-tuning target takes it (``Featurizer.source_model_folder()``).

    ``root``: the model folder (a sentence-transformers or transformers folder); ``transformer``:
    the transformers folder inside it that ``AutoModel.from_pretrained`` loads; ``files``: sha256
    of every file that defines the model's output, by path relative to ``root`` (its identity,
    not its place); ``settings``: the featurizer's resolved pooling, normalisation and
    ``max_length``, so a fine-tuned encoder embeds texts as the frozen one does;
    ``random_seed``: not ``None`` when the weights are not loaded but initialised from the
    architecture with this seed (``random-encoder``; ``files`` then holds no weights).
    """

    featurizer: str
    root: str
    transformer: str
    files: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)
    random_seed: int | None = None

    def identity(self) -> dict[str, Any]:
        """What a fine-tuned cell depends on from its source: file hashes and settings, not the folder's place."""
        return {"featurizer": self.featurizer, "files": dict(self.files), "settings": dict(self.settings),
                "random_seed": self.random_seed}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceModel:
        return cls(**data)

    def folder(self) -> ModelFolder:
        return ModelFolder.inspect(self.root)
