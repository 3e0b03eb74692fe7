"""The pipeline end to end: nothing lost, reasons recorded, engines identical, bad input."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from minhash_dedup import PipelineConfig, run_pipeline
from minhash_dedup.cli import main


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_input_document_is_in_exactly_one_output(tmp_path, jsonl, records):
    report = run_pipeline([str(jsonl)], tmp_path / "out", PipelineConfig(verify=True))
    kept = _read(tmp_path / "out" / "kept.jsonl")
    removed = _read(tmp_path / "out" / "removed.jsonl")
    ids = [r["id"] for r in kept] + [r["id"] for r in removed]
    expected = [r["id"] for r in records] + [f"{jsonl}:4", f"{jsonl}:6"]
    assert sorted(ids) == sorted(expected) and len(ids) == len(set(ids))
    by_id = {r["id"]: r for r in removed}
    assert by_id["exact-of-0"]["stage"] == "exact"
    assert by_id["exact-of-0"]["duplicate_of"] == "doc0"
    for name in ("near-of-1", "near-of-1b"):
        assert by_id[name]["stage"] == "near" and by_id[name]["duplicate_of"] == "doc1"
        assert by_id[name]["cluster"] == "near-1" and by_id[name]["jaccard"] >= 0.8
    assert by_id["short"]["stage"] == "quality"
    assert by_id["toxic"]["stage"] == "toxicity" and "idiot" in by_id["toxic"]["reason"]
    assert by_id[f"{jsonl}:4"]["stage"] == "input"
    assert "malformed JSON" in by_id[f"{jsonl}:4"]["reason"]
    pii = next(r for r in kept if r["id"] == "pii")["text"]
    assert "<EMAIL>" in pii and "<PHONE>" in pii and "<CREDIT_CARD>" in pii
    counts = report["counts"]
    assert counts == {"input": 20, "malformed": 2, "exact": 1, "near": 2, "quality": 1,
                      "toxicity": 1, "kept": 13}
    assert json.loads((tmp_path / "out" / "report.json").read_text())["counts"] == counts
    assert (tmp_path / "out" / "quality_histograms.png").stat().st_size > 1000
    assert "## Counts per stage" in (tmp_path / "out" / "report.md").read_text()


def test_stages_are_optional(tmp_path, jsonl):
    config = PipelineConfig(stages=["normalize", "exact"])
    report = run_pipeline([str(jsonl)], tmp_path / "o", config)
    assert report["counts"]["exact"] == 1 and report["counts"]["kept"] == 17


def _outputs(folder):
    return [(folder / name).read_bytes() for name in ("kept.jsonl", "removed.jsonl")]


def test_workers_give_identical_outputs(tmp_path, jsonl):
    run_pipeline([str(jsonl)], tmp_path / "one", PipelineConfig(batch_size=4))
    run_pipeline([str(jsonl)], tmp_path / "two", PipelineConfig(batch_size=4, workers=2))
    assert _outputs(tmp_path / "one") == _outputs(tmp_path / "two")


def test_ray_engine_gives_identical_outputs(tmp_path, jsonl):
    ray = pytest.importorskip("ray")
    run_pipeline([str(jsonl)], tmp_path / "local", PipelineConfig(batch_size=5))
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        report = run_pipeline([str(jsonl)], tmp_path / "ray",
                              PipelineConfig(batch_size=5, engine="ray"))
    finally:
        ray.shutdown()
    assert report["run"]["engine"] == "ray"
    assert _outputs(tmp_path / "local") == _outputs(tmp_path / "ray")


def test_parquet_and_text_folder_inputs(tmp_path, records):
    table = pa.table({"key": [r["id"] for r in records], "body": [r["text"] for r in records]})
    pq.write_table(table, tmp_path / "data.parquet")
    folder = tmp_path / "texts"
    folder.mkdir()
    for r in records[:3]:
        (folder / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    config = PipelineConfig(text_field="body", id_field="key", stages=["normalize", "exact"])
    report = run_pipeline([str(tmp_path / "data.parquet"), str(folder)], tmp_path / "o", config)
    # the three text files repeat three parquet rows exactly
    assert report["counts"]["input"] == len(records) + 3
    assert report["counts"]["exact"] == 1 + 3
    removed = _read(tmp_path / "o" / "removed.jsonl")
    assert {r["id"] for r in removed} >= {"doc0.txt", "doc1.txt", "doc2.txt"}


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("problem", ["no_field", "latin1", "empty", "threshold", "bands",
                                     "missing"])
def test_bad_input_is_one_line_error_and_no_output(tmp_path, capsys, problem):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "hello"}\n', encoding="utf-8")
    argv = ["run", str(path), "--output", str(tmp_path / "out")]
    if problem == "no_field":
        path.write_text('{"body": "hello"}\n', encoding="utf-8")
    elif problem == "latin1":
        path.write_bytes('{"text": "caf\u00e9"}\n'.encode("latin-1"))
    elif problem == "empty":
        path.write_bytes(b"")
    elif problem == "threshold":
        argv += ["--threshold", "1.5"]
    elif problem == "bands":
        argv += ["--num-perm", "128", "--bands", "6"]
    elif problem == "missing":
        argv[1] = str(tmp_path / "nope.jsonl")
    code, err = _error(capsys, argv)
    assert code == 2 and err.startswith("error:") and "\n" not in err
    expected = {"no_field": "--text-field", "latin1": "not valid UTF-8", "empty": "is empty",
                "threshold": "(0, 1)", "bands": "not divisible", "missing": "does not exist"}
    assert expected[problem] in err
    assert not (tmp_path / "out").exists()
