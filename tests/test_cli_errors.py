import subprocess
import sys


def test_a_filesystem_error_is_one_line_not_a_traceback(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "datasets").write_text("a file where the datasets folder should be")
    csv = tmp_path / "mine.csv"
    csv.write_text("text,label\nhello there,a\ngood day,a\nbad day,b\nawful,b\nnice,a\nworse,b\n")
    result = subprocess.run([sys.executable, "-m", "enso.download", "--csv", str(csv), "--name", "Mine",
                             "--text-column", "text", "--label-column", "label", "--root", str(root)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "datasets" in last, result.stderr
    assert (root / "datasets").read_text() == "a file where the datasets folder should be"
