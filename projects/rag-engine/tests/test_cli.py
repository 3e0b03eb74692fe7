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


def test_ask_streams_and_json(tiny_store, capsys):
    path, _ = tiny_store
    base = ["ask", "--store", str(path), "--encoder", "tiny-bert", "--model", "tiny-llama",
            "--max-new-tokens", "6"]
    assert main([*base, "--min-relevance", "-1", "--json", "bread?"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert {"answer", "known", "citations", "model_citations", "attributed"} <= set(reply)
    assert main([*base, "--min-relevance", "1.01", "bread?"]) == 0  # nothing can be that relevant
    assert capsys.readouterr().out.startswith("I don't know")


def test_eval_json_on_python_docs(tmp_path, capsys):
    store = str(tmp_path / "s")
    assert main(["ingest", "--store", store, "--encoder", "tiny-bert", "--only", "topics/assert",
                 "topics/global", "topics/with"]) == 0
    capsys.readouterr()
    assert main(["eval", "--store", store, "--encoder", "tiny-bert", "--model", "tiny-llama",
                 "--modes", "bm25", "hybrid+rerank", "--rerank", "llm", "--answers", "1",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {r["setup"]: r for r in result["retrieval"]}
    assert set(rows) == {"bm25", "hybrid+rerank"} and result["questions"] >= 3
    assert rows["bm25"]["recall@10"] == 1.0
    assert {"rerank_parse_failures", "rerank_reordered"} <= set(rows["hybrid+rerank"])
    answers = result["answers"]
    assert answers["answered"] + answers["said_unknown"] == 1
    assert answers["judged"] + answers["judge_parse_failures"] == answers["cited_claims"]


def test_eval_reranks_only_when_asked(capsys):
    from rag_engine.config import EvalConfig

    assert EvalConfig().rerank == "none" and "hybrid+rerank" not in EvalConfig().modes
    assert main(["eval", "--store", "x", "--modes", "hybrid+rerank"]) == 2
    assert "needs a reranker" in capsys.readouterr().err
