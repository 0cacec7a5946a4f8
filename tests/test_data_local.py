"""The user's own data through ``python -m enso.download --csv/--jsonl/--parquet``."""

from __future__ import annotations

import json
import os
import sys

import pandas as pd
import pytest

from enso.data import DATASETS, download, import_local, is_downloaded, load_dataset, resolve_dataset
from enso.data.cards import info_text, listing_text
from enso.errors import UnknownNameError
from enso.store import read_artifact
from enso.workspace import Workspace
from tests.cli import enso




def run(workspace, *args):
    """``enso download ARGS`` in ``workspace``: what it did, and its ``error:`` lines."""
    ran = enso("download", *args, root=workspace)
    return ran, ran.errors


TEXTS = [f"review number {i} says {'good' if i % 3 else 'bad'} things" for i in range(30)]
LABELS = ["pos" if i % 3 else "neg" for i in range(30)]


def write_csv(path, texts=TEXTS, labels=LABELS, text_column="body", label_column="stars"):
    pd.DataFrame({text_column: texts, label_column: labels}).to_csv(path, index=False)
    return path


def test_csv_import_stores_a_dataset_usable_by_name(workspace, tmp_path):
    path = write_csv(tmp_path / "mine.csv")
    result, errors = run(workspace, "--csv", str(path), "--name", "MyReviews", "--text-column", "body",
                         "--label-column", "stars")
    assert result.exit_code == 0, result.stderr
    assert "MyReviews" in result.output and "30 rows" in result.output
    dataset = load_dataset("myreviews", workspace)
    assert dataset.name == "MyReviews"
    assert sorted(dataset.frame["text"]) == sorted(TEXTS)
    assert dataset.frame.groupby("label")["split"].apply(lambda s: (s == "test").sum()).to_dict() == \
        {"neg": 2, "pos": 4}
    assert dataset.card["sources"][0]["sha256"] and dataset.card["local"] is True
    # Configs name it like a registered dataset, through the workspace that holds it.
    assert DATASETS.in_workspace(workspace).canonical("myreviews") == "MyReviews"
    assert download(["MyReviews"], workspace)[0].content_hash == dataset.content_hash
    listing, _ = run(workspace, "--list")
    assert any(line.startswith("MyReviews") and line.endswith("local") for line in listing.output.splitlines())
    info, _ = run(workspace, "--info", "MyReviews")
    assert info.exit_code == 0 and "mine.csv" in info.output


def test_a_local_dataset_is_found_through_its_workspace_from_any_directory(tmp_path, monkeypatch):
    """No attached workspace, no current-directory fallback: the workspace passed is where names are looked up."""
    workspace = Workspace(tmp_path / "ws")
    path = write_csv(tmp_path / "mine.csv")
    stored = import_local(path, workspace, name="MyReviews", text_column="body", label_column="stars")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("ENSO_ROOT", raising=False)
    assert resolve_dataset("myreviews", workspace) == "MyReviews"
    assert "MyReviews" in DATASETS.in_workspace(workspace) and DATASETS.in_workspace(workspace).is_local("myreviews")
    assert load_dataset("MYREVIEWS", workspace).content_hash == stored.content_hash
    assert download(["myreviews"], workspace)[0].content_hash == stored.content_hash
    assert is_downloaded("myreviews", workspace)
    assert any(line.startswith("MyReviews") and line.endswith("local") for line in listing_text(workspace).splitlines())
    assert "the user's own data from mine.csv" in info_text("myreviews", workspace)
    # Without its workspace the name is unknown, even from inside that workspace's folder.
    monkeypatch.chdir(workspace.root)
    monkeypatch.setenv("ENSO_ROOT", str(workspace.root))
    for lookup in (lambda: resolve_dataset("myreviews", None), lambda: DATASETS.canonical("myreviews"),
                   lambda: load_dataset("myreviews", Workspace(elsewhere))):
        with pytest.raises(UnknownNameError, match="unknown dataset 'myreviews'"):
            lookup()
    # A registered name wins over nothing and needs no workspace.
    assert resolve_dataset("trec", None) == "TREC"


def test_import_takes_one_reuse_policy(tmp_path):
    from enso.errors import EnsoError
    from enso.store import Reuse

    workspace = Workspace(tmp_path / "ws")
    path = write_csv(tmp_path / "mine.csv")
    columns = {"text_column": "body", "label_column": "stars"}
    with pytest.raises(EnsoError, match=r"^dataset Mine from mine.csv is not stored and --offline \(only-cached\) "
                                        r"forbids importing it; run `python -m enso.download --csv .*mine.csv --name "
                                        r"Mine` first$"):
        import_local(path, workspace, name="Mine", reuse=Reuse.ONLY_CACHED, **columns)
    first = import_local(path, workspace, name="Mine", **columns)
    assert import_local(path, workspace, name="Mine", reuse="only-cached", **columns).content_hash == first.content_hash
    other = write_csv(tmp_path / "other.csv", texts=[t + "!" for t in TEXTS])
    with pytest.raises(EnsoError, match="already holds another dataset"):
        import_local(other, workspace, name="Mine", **columns)
    replaced = import_local(other, workspace, name="Mine", reuse=Reuse.RECOMPUTE, **columns)
    assert replaced.content_hash != first.content_hash
    assert load_dataset("Mine", workspace).content_hash == replaced.content_hash


def test_a_byte_order_mark_does_not_hide_the_first_column(workspace, tmp_path):
    """Excel's "CSV UTF-8" and some JSON-lines writers start the file with U+FEFF."""
    csv_path = tmp_path / "excel.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + write_csv(tmp_path / "plain.csv").read_bytes())
    result, errors = run(workspace, "--csv", str(csv_path), "--name", "Excel", "--text-column", "body",
                         "--label-column", "stars")
    assert result.exit_code == 0 and errors == [], result.stderr
    assert sorted(load_dataset("Excel", workspace).frame["text"]) == sorted(TEXTS)
    jsonl = tmp_path / "bom.jsonl"
    rows = "\n".join(json.dumps({"text": t, "label": y}) for t, y in zip(TEXTS, LABELS, strict=True))
    jsonl.write_text("\ufeff" + rows + "\n", encoding="utf-8")
    result, errors = run(workspace, "--jsonl", str(jsonl), "--name", "BomLines")
    assert result.exit_code == 0 and errors == [], result.stderr
    assert sorted(load_dataset("BomLines", workspace).frame["text"]) == sorted(TEXTS)


def test_jsonl_and_parquet_with_a_given_split(workspace, tmp_path):
    splits = ["test" if i % 5 == 0 else "train" for i in range(30)]
    rows = [{"t": t, "y": y, "part": s} for t, y, s in zip(TEXTS, LABELS, splits, strict=True)]
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result, _ = run(workspace, "--jsonl", str(jsonl), "--name", "J", "--text-column", "t", "--label-column", "y",
                    "--split-column", "part")
    assert result.exit_code == 0, result.stderr
    assert (load_dataset("J", workspace).frame["split"] == "test").sum() == 6
    parquet = tmp_path / "mine.parquet"
    pd.DataFrame(rows).assign(y=[1 if y == "pos" else 0 for y in LABELS]).to_parquet(parquet)
    result, _ = run(workspace, "--parquet", str(parquet), "--name", "P", "--text-column", "t", "--label-column", "y")
    assert result.exit_code == 0, result.stderr
    assert load_dataset("P", workspace).classes == ["0", "1"]


@pytest.mark.parametrize("mutate,args,code,message", [
    (lambda t, y: (t, y), ["--text-column", "text"], 2, "has no column 'text' (columns: body, stars)"),
    (lambda t, y: (t[:5] + ["   "] + t[6:], y), [], 1, "1 rows have an empty or whitespace-only text (rows 7)"),
    (lambda t, y: (t, y[:3] + [""] + y[4:]), [], 1, "1 rows have no label in column 'stars' (rows 5)"),
    (lambda t, y: (t, y[:-1] + ["meh"]), [], 1, "1 classes have fewer than 2 examples ('meh')"),
    (lambda t, y: (t, ["pos"] * len(y)), [], 1, "only one class"),
])
def test_bad_data_is_rejected_with_one_line(workspace, tmp_path, mutate, args, code, message):
    texts, labels = mutate(list(TEXTS), list(LABELS))
    path = write_csv(tmp_path / "bad.csv", texts, labels)
    result, errors = run(workspace, "--csv", str(path), "--name", "Bad", "--text-column", "body",
                         "--label-column", "stars", *args)
    assert result.exit_code == code
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert read_artifact(workspace.dataset_dir("Bad")) is None


def test_drop_empty_drops_and_counts(workspace, tmp_path):
    texts = list(TEXTS)
    texts[4] = ""
    texts[8] = " \t "
    path = write_csv(tmp_path / "gaps.csv", texts)
    result, _ = run(workspace, "--csv", str(path), "--name", "Gaps", "--text-column", "body", "--label-column",
                    "stars", "--drop-empty")
    assert result.exit_code == 0, result.stderr
    assert "dropped 2 rows with an empty text" in result.stderr
    dataset = load_dataset("Gaps", workspace)
    assert len(dataset) == 28 and dataset.card["dropped_empty"] == 2


def test_undecodable_bytes_name_the_offset_and_encoding_fixes_it(workspace, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("body,stars\n".encode() + b"caf\xe9 au lait,pos\n" +
                     "".join(f"{t},{y}\n" for t, y in zip(TEXTS, LABELS, strict=True)).encode())
    result, errors = run(workspace, "--csv", str(path), "--name", "Latin", "--text-column", "body",
                         "--label-column", "stars")
    assert result.exit_code == 1 and len(errors) == 1
    assert "byte 0xe9 at offset 14 is not valid utf-8" in errors[0]
    result, _ = run(workspace, "--csv", str(path), "--name", "Latin", "--text-column", "body",
                    "--label-column", "stars", "--encoding", "latin-1")
    assert result.exit_code == 0, result.stderr
    assert "café au lait" in load_dataset("Latin", workspace).texts


def test_duplicates_are_reported(workspace, tmp_path):
    path = write_csv(tmp_path / "dups.csv", TEXTS[:28] + TEXTS[:2], LABELS)
    result, _ = run(workspace, "--csv", str(path), "--name", "Dups", "--text-column", "body",
                    "--label-column", "stars")
    assert result.exit_code == 0
    assert "2 texts occur more than once" in result.stderr
    assert load_dataset("Dups", workspace).card["duplicated_texts"] == 2


def test_names_are_checked_and_nothing_the_user_had_is_lost(workspace, tmp_path):
    first = write_csv(tmp_path / "first.csv")
    common = ["--text-column", "body", "--label-column", "stars"]
    assert run(workspace, "--csv", str(first), "--name", "Mine", *common)[0].exit_code == 0
    before = load_dataset("Mine", workspace).content_hash
    # Importing the same file again is a no-op.
    assert run(workspace, "--csv", str(first), "--name", "Mine", *common)[0].exit_code == 0
    second = write_csv(tmp_path / "second.csv", TEXTS[::-1], LABELS[::-1])
    result, errors = run(workspace, "--csv", str(second), "--name", "Mine", *common)
    assert result.exit_code == 1 and "already holds another dataset" in errors[0] and "--force" in errors[0]
    assert load_dataset("Mine", workspace).content_hash == before
    assert run(workspace, "--csv", str(second), "--name", "Mine", "--force", *common)[0].exit_code == 0
    assert load_dataset("Mine", workspace).content_hash != before

    for bad_name, fragment in (("cr", "is a registered dataset (CustomerReviews)"), ("../up", "plain folder name")):
        result, errors = run(workspace, "--csv", str(first), "--name", bad_name, *common)
        assert result.exit_code == 2 and fragment in errors[0]
    result, errors = run(workspace, "--csv", str(first), *common)
    assert result.exit_code == 2 and "needs --name" in errors[0]
    result, errors = run(workspace, "--csv", str(tmp_path / "absent.csv"), "--name", "X")
    assert result.exit_code == 2 and "is not a file" in errors[0]


def test_bad_jsonl_line_is_named(workspace, tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": \n')
    result, errors = run(workspace, "--jsonl", str(path), "--name", "Broken")
    assert result.exit_code == 1 and "line 2 is not valid JSON" in errors[0]


def test_registry_get_of_a_local_dataset_is_a_clear_error(workspace, tmp_path):
    from enso.errors import EnsoError

    path = write_csv(tmp_path / "mine.csv")
    run(workspace, "--csv", str(path), "--name", "Mine", "--text-column", "body", "--label-column", "stars")
    datasets = DATASETS.in_workspace(workspace)
    assert datasets.record("mine") is None and datasets.is_local("MINE") and not datasets.is_registered("Mine")
    with pytest.raises(EnsoError, match="user's own dataset"):
        datasets.get("Mine")
    with pytest.raises(UnknownNameError, match="unknown dataset 'Mine'"):  # the registry alone knows no local names
        DATASETS.get("Mine")


# --- issue 10: names, damaged files and races, each one `error:` line, never a traceback ---------------


def _import(workspace, path, name, *extra):
    return run(workspace, "--csv", str(path), "--name", name, "--text-column", "body", "--label-column", "stars",
               *extra)


def test_names_differing_only_by_case_are_one_name(workspace, tmp_path):
    assert _import(workspace, write_csv(tmp_path / "first.csv"), "Mine")[0].exit_code == 0
    before = load_dataset("Mine", workspace).content_hash
    second = write_csv(tmp_path / "second.csv", TEXTS[::-1], LABELS[::-1])
    for spelling in ("mine", "MINE"):
        for extra in ((), ("--force",)):
            result, errors = _import(workspace, second, spelling, *extra)
            assert result.exit_code == 2 and len(errors) == 1, result.stderr
            assert "the local dataset 'Mine' already exists" in errors[0] and "--name Mine" in errors[0]
    assert sorted(p.name for p in workspace.datasets.iterdir() if p.name.lower() == "mine") == ["Mine"]
    assert load_dataset("mine", workspace).content_hash == before
    # The one spelling that exists may replace it, as before.
    assert _import(workspace, second, "Mine", "--force")[0].exit_code == 0
    assert load_dataset("MINE", workspace).content_hash != before


def test_a_csv_with_only_a_header_is_one_error_line(workspace, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("body,stars\n")
    result, errors = _import(workspace, path, "Header")
    assert result.exit_code == 1 and result.exception is None, result.exception  # an error line, not a traceback
    assert errors == ["error: header.csv: no data rows (only a header); add rows of text and label"]
    assert not workspace.dataset_dir("Header").exists()


def test_jsonl_labels_of_mixed_types_are_refused_naming_the_line(workspace, tmp_path):
    path = tmp_path / "mixed.jsonl"
    rows = [{"text": t, "label": 1 if y == "pos" else 0} for t, y in zip(TEXTS, LABELS, strict=True)]
    rows[7]["label"] = "1"  # a string among numbers: the same class "1" once stored
    path.write_text("\n\n".join(json.dumps(r) for r in rows) + "\n")  # blank lines between: line numbers count them
    result, errors = run(workspace, "--jsonl", str(path), "--name", "Mixed")
    assert result.exit_code == 1 and len(errors) == 1, result.stderr
    assert "line 15 has 'label' \"1\" (a string) but line 1 has 0 (a number)" in errors[0]
    assert read_artifact(workspace.dataset_dir("Mixed")) is None
    rows[7]["label"] = True
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert "line 8 has 'label' true (a boolean)" in run(workspace, "--jsonl", str(path), "--name", "Mixed")[1][0]
    rows[7]["label"] = [1]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert "line 8 has an array as its 'label'" in run(workspace, "--jsonl", str(path), "--name", "Mixed")[1][0]
    rows[7]["label"] = 1  # one type throughout: fine
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert run(workspace, "--jsonl", str(path), "--name", "Mixed")[0].exit_code == 0
    assert load_dataset("Mixed", workspace).classes == ["0", "1"]


@pytest.mark.parametrize("name, fragment", [
    ("a\nb", "--name 'a\\nb' must be a plain folder name"),
    ("a\x00b", "--name 'a\\x00b' must be a plain folder name"),
    ("$^$", "--name '$^$' must be a plain folder name"),
    ("Mine.lock", "names ending in '.lock' are the store's lock files"),
    ("x" * 101, "--name is 101 characters long ('xxxxxxxxxxxxxxxxxxxx'...); use at most 100"),
    ("x" * 300, "--name is 300 characters long"),
])
def test_bad_names_are_refused_with_one_line(workspace, tmp_path, name, fragment):
    result, errors = _import(workspace, write_csv(tmp_path / "mine.csv"), name)
    assert result.exit_code == 2 and len(errors) == 1 and fragment in errors[0], result.stderr
    assert not workspace.datasets.exists() or not any(workspace.datasets.iterdir())


def test_a_name_of_100_characters_is_fine(workspace, tmp_path):
    assert _import(workspace, write_csv(tmp_path / "mine.csv"), "x" * 100)[0].exit_code == 0


def test_list_never_shows_store_temporaries(workspace, tmp_path):
    import shutil

    assert _import(workspace, write_csv(tmp_path / "mine.csv"), "Mine")[0].exit_code == 0
    # What a write in progress (or killed in the swap) leaves: whole copies of an artifact under temp names.
    shutil.copytree(workspace.dataset_dir("Mine"), workspace.datasets / ".old-Mine-4194303-0123abcd")
    shutil.copytree(workspace.dataset_dir("Mine"), workspace.datasets / f".tmp-Other-{os.getpid()}-89abcdef")
    listing, errors = run(workspace, "--list")
    assert listing.exit_code == 0 and errors == []
    names = [line.split()[0] for line in listing.output.splitlines()[2:]]
    assert "Mine" in names and not [n for n in names if n.startswith((".tmp-", ".old-"))]
    assert ".old-" not in listing.output and ".tmp-" not in listing.output


def test_the_next_import_removes_what_killed_ones_left(workspace, tmp_path):
    import subprocess

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    workspace.datasets.mkdir(parents=True)
    leftover = workspace.datasets / f".tmp-Mine-{dead.pid}-0123abcd"
    leftover.mkdir()
    (leftover / "data.parquet").write_bytes(b"\0" * 1000)
    running = workspace.datasets / f".tmp-Mine-{os.getpid()}-89abcdef"  # a live writer's: kept
    running.mkdir()
    assert _import(workspace, write_csv(tmp_path / "mine.csv"), "Other")[0].exit_code == 0
    assert not leftover.exists() and running.exists()


@pytest.mark.parametrize("damage", [b"[1, 2]", b'"a string"', b'{"key": ', b"\xff\xfe\x00garbage", b"{}"])
def test_a_damaged_local_manifest_is_one_line_and_a_reimport_rebuilds(workspace, tmp_path, damage):
    path = write_csv(tmp_path / "mine.csv")
    assert _import(workspace, path, "Mine")[0].exit_code == 0
    (workspace.dataset_dir("Mine") / "manifest.json").write_bytes(damage)
    listing, errors = run(workspace, "--list")
    assert listing.exit_code == 0 and errors == [], listing.stderr
    assert next(line for line in listing.output.splitlines() if line.startswith("Mine")).endswith("broken")
    for args in (["--info", "Mine"], ["Mine"]):
        result, errors = run(workspace, *args)
        assert result.exit_code in (1, 2) and len(errors) == 1, result.stderr
        assert "Traceback" not in result.stderr and "import it again" in errors[0]
    result, errors = _import(workspace, path, "Mine")
    assert result.exit_code == 0 and errors == [], result.stderr
    assert len(load_dataset("Mine", workspace)) == 30


_RACE = r"""
import pathlib, sys, time
import enso.data.local as local

barrier, me, args = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
check_name, write_dataset = local.check_name, local.write_dataset

def arrive(name):
    # Both imports pass this point before either goes on: they overlap for sure.
    check_name(name)
    (barrier / f"arrived-{me}").touch()
    deadline = time.time() + 30
    while len(list(barrier.glob("arrived-*"))) < 2 and time.time() < deadline:
        time.sleep(0.01)

def slow_write(*a, **k):
    time.sleep(0.5)  # a big file: the other import has all the time it needs to check and write
    return write_dataset(*a, **k)

local.check_name, local.write_dataset = arrive, slow_write
from enso.download import main
main(args, prog_name="enso.download")
"""


@pytest.mark.slow  # over a second: the fast tier keeps to plumbing under a minute
def test_two_imports_under_one_name_never_silently_replace_each_other(workspace, tmp_path):
    import subprocess

    files = [write_csv(tmp_path / "first.csv"), write_csv(tmp_path / "second.csv", TEXTS[::-1], LABELS[::-1])]
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(barrier), str(i), "--root", str(workspace.root),
                               "--csv", str(path), "--name", "Mine", "--text-column", "body",
                               "--label-column", "stars"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, path in enumerate(files)]
    outcomes = [(proc.wait(timeout=120), proc.stderr.read()) for proc in procs]
    codes = [code for code, _ in outcomes]
    assert sorted(codes) == [0, 1], outcomes
    winner = files[codes.index(0)]
    loser_errors = [line for line in outcomes[codes.index(1)][1].splitlines() if line.startswith("error:")]
    assert len(loser_errors) == 1 and "already holds another dataset" in loser_errors[0]
    assert f"from {winner.resolve()}" in loser_errors[0]
    stored = load_dataset("Mine", workspace)
    assert stored.card["sources"][0]["source"] == str(winner.resolve())


def test_a_column_named_twice_and_non_scalar_labels_are_refused(workspace, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("body,body,stars\n" + "".join(f"{t},other,{y}\n" for t, y in zip(TEXTS, LABELS, strict=True)))
    result, errors = _import(workspace, path, "Twice")
    assert result.exit_code == 1 and len(errors) == 1
    assert "column 'body' appears 2 times in the header" in errors[0]
    parquet = tmp_path / "lists.parquet"
    pd.DataFrame({"text": TEXTS, "label": [[y] for y in LABELS]}).to_parquet(parquet)
    result, errors = run(workspace, "--parquet", str(parquet), "--name", "Lists")
    assert result.exit_code == 1 and errors == [
        "error: lists.parquet: row 1 has an array as its 'label'; a label must be a string, a number or true/false"]
    pd.DataFrame({"text": pd.Series([], dtype=str), "label": pd.Series([], dtype=str)}).to_parquet(parquet)
    result, errors = run(workspace, "--parquet", str(parquet), "--name", "Empty")
    assert result.exit_code == 1 and errors == ["error: lists.parquet: no data rows; add rows of text and label"]
    assert not workspace.datasets.exists() or not [p for p in workspace.datasets.iterdir() if p.is_dir()]
