import json

import pytest
from minhash_dedup.cli import main


@pytest.mark.parametrize("command", [[], ["run"], ["demo"], ["bench"]])
def test_help_exits_zero(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_run_last_line_is_json_with_counts(tmp_path, jsonl, capsys):
    assert main(["run", str(jsonl), "--output", str(tmp_path / "out"), "--no-plots"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["input"] == 20 and last["malformed"] == 2 and last["kept"] == 13


def test_bench_json_last_line(capsys):
    argv = ["bench", "--json", "--docs", "300", "--words", "60", "--repeats", "1",
            "--thresholds", "0.8"]
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    summary = json.loads(out[-1])
    assert summary["docs"] == 300
    # The seeded corpus has 10 true pairs at J >= 0.8: recall is a count of them, not a range.
    assert (summary["ours_recall"], summary["datasketch_recall"]) == (0.8, 0.7)
    assert (summary["ours_verify_recall"], summary["datasketch_verify_recall"]) == (1.0, 0.9)
    assert summary["speedup"] == pytest.approx(
        summary["ours_docs_per_s"] / summary["datasketch_docs_per_s"], rel=0.01)


def test_bad_flag_is_one_line_error(capsys):
    assert main(["run", "corpus", "--output", "x", "--threshold", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error:") and "threshold" in err
