import json

import pytest

from rag_engine.cli import COMMANDS, main


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_of_every_command_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"] if command else ["--help"])
    assert exc.value.code == 0
    assert "--store" in capsys.readouterr().out or command in ("questions",)


def test_ingest_and_search_json(tmp_path, docs_dir, capsys):
    store = str(tmp_path / "s")
    assert main(["ingest", str(docs_dir), "--store", store, "--encoder", "tiny-bert",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["added"] == 5 and report["unsupported_count"] == 2
    assert main(["ingest", str(docs_dir), "--store", store, "--encoder", "tiny-bert"]) == 0
    captured = capsys.readouterr()
    assert "5 unchanged" in captured.out and "2 unsupported files skipped" in captured.out
    assert captured.err.count("skipped (unsupported type)") == 2
    assert main(["search", "--store", store, "--encoder", "tiny-bert", "--k", "2", "--json",
                 "--mode", "bm25", "red button engine"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 2 and all(h["source"].endswith("manual.pdf") for h in hits)
    assert {"source", "title", "start", "end", "score", "text"} <= set(hits[0])


@pytest.mark.parametrize("argv, message", [
    (["ingest", "/no/such/path", "--store", "S"], "does not exist"),
    (["ingest", "--store", "S", "--overlap", "500"], "--overlap"),
    (["search", "--store", "/no/store/here", "q"], "no store"),
    (["search", "--store", "S", "--mmr", "2", "q"], "--mmr"),
])
def test_bad_input_is_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert not (tmp_path / "S").exists()


def test_other_encoder_store_is_one_line_exit_2(tiny_store, capsys):
    path, _ = tiny_store
    assert main(["search", "--store", str(path), "q"]) == 2  # default encoder is MiniLM
    err = capsys.readouterr().err.strip()
    assert "tiny-bert" in err and "--encoder" in err and "\n" not in err
