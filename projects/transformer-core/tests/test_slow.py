"""Real training runs (minutes): `pytest -m slow`."""

from __future__ import annotations

import pytest
from transformer_core.cli import main


@pytest.mark.slow
def test_default_reverse_run_reverses_unseen_sequences(tmp_path):
    out = tmp_path / "rev"
    assert main(["train", "--task", "reverse", "--output", str(out)]) == 0
    lines = ["3 9 1 4", "8 8 0 2 5 1 7", "0 1 2 3 4 5 6 7 8 9", "6"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    assert main(["predict", "--model", str(out), "--input", str(tmp_path / "in.txt"),
                 "--output", str(tmp_path / "out.txt")]) == 0
    answers = (tmp_path / "out.txt").read_text().splitlines()
    assert answers == [" ".join(line.split()[::-1]) for line in lines]
