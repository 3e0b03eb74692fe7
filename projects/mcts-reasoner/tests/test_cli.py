import json

import pytest

from mcts_reasoner.cli import main


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_bad_flag_is_one_line_error(capsys):
    assert main(["demo", "--max-new-tokens", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--model", "tiny-llama", "--max-new-tokens", "4"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["new_tokens"] >= 1
