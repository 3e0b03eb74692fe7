import json

from bpe_tokenizer import IncrementalTrainer, PreTokenizer, count_pretokens
from bpe_tokenizer.checkpoint import checkpoint_path
from bpe_tokenizer.cli import main


def count_merges(trainer: IncrementalTrainer) -> list[tuple[int, int]]:
    """Record every merge `trainer` applies from now on."""
    merged = []
    real_apply = trainer.apply_merge

    def counted(a, b):
        merged.append((a, b))
        return real_apply(a, b)

    trainer.apply_merge = counted
    return merged


def test_resumed_training_equals_an_uninterrupted_run(docs):
    counts = count_pretokens(docs[:30], PreTokenizer.from_pattern("gpt4"))
    straight = IncrementalTrainer(counts).train(420, show_progress=False)
    first = IncrementalTrainer(counts)
    first.train(330, show_progress=False)
    state = json.loads(json.dumps(first.checkpoint()))  # through JSON, as on disk
    trainer = IncrementalTrainer.from_checkpoint(state)
    merged = count_merges(trainer)
    resumed = trainer.train(420, show_progress=False)
    assert resumed == straight
    assert len(merged) == 420 - 330  # only the missing merges ran, not all 420 - 256


def test_cli_resume_gives_the_same_tokenizer_json(tmp_path, write, capsys, monkeypatch):
    corpus = write("c.txt", " ".join(f"word{i % 97} thing{i % 13}" for i in range(3000)))
    fresh, broken = tmp_path / "fresh", tmp_path / "broken"
    assert main(["train", str(corpus), "--vocab-size", "400", "--output", str(fresh)]) == 0
    # an "interrupted" run: stopped at 330 tokens with a checkpoint every 10 merges
    assert main(["train", str(corpus), "--vocab-size", "330", "--output", str(broken),
                 "--checkpoint-every", "10"]) == 0
    assert not checkpoint_path(broken).exists()  # removed after a successful run
    state = IncrementalTrainer(count_pretokens([corpus.read_text()],
                                               PreTokenizer.from_pattern("gpt4")))
    state.train(330 - 1, min_frequency=2, show_progress=False)
    settings = {"inputs": [str(corpus)], "pattern": "gpt4", "min_frequency": 2,
                "jsonl_field": "text"}
    checkpoint_path(broken).write_text(json.dumps({"settings": settings, **state.checkpoint()}))
    merged = []
    real_apply = IncrementalTrainer.apply_merge

    def counted(self, a, b):
        merged.append((a, b))
        return real_apply(self, a, b)

    monkeypatch.setattr(IncrementalTrainer, "apply_merge", counted)
    assert main(["train", str(corpus), "--vocab-size", "400", "--output", str(broken),
                 "--resume"]) == 0
    # The corpus runs out of repeated pairs after 96 merges (both runs print "96 merges"); the
    # checkpoint held 329 - 256 = 73 of them, so a resume that ignored it would merge 96 times.
    assert len(merged) == 96 - 73
    assert (broken / "tokenizer.json").read_text() == (fresh / "tokenizer.json").read_text()


def test_resume_with_other_settings_is_refused(tmp_path, write, capsys):
    corpus = write("c.txt", "abc abc abd")
    out = tmp_path / "o"
    out.mkdir()
    checkpoint_path(out).write_text(json.dumps({"settings": {"pattern": "gpt2"}, "words": [],
                                                "word_counts": [], "merges": []}))
    assert main(["train", str(corpus), "--output", str(out), "--resume"]) == 2
    assert "other settings" in capsys.readouterr().err
    assert main(["train", str(corpus), "--output", str(tmp_path / "x"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_checkpoint_sits_beside_the_output(tmp_path):
    assert checkpoint_path(tmp_path / "d") == tmp_path / "d" / "train-checkpoint.json"
    assert checkpoint_path(tmp_path / "t.json") == tmp_path / "t.checkpoint.json"
