from bpe_tokenizer import Tokenizer, compare_tokenizers
from bpe_tokenizer.stats import measure, plot_stats
from PIL import Image


def test_measure_worked_example():
    row = measure("x", [1, 2, 2], "ab cd", 10)
    assert (row.tokens, row.bytes_per_token, row.tokens_per_word, row.vocab_used) == \
        (3, 5 / 3, 1.5, 0.2)


def test_bigger_vocab_compresses_better_and_plot_is_written(docs, tmp_path):
    ours = Tokenizer.train(docs[:100], 700, pattern="gpt4")
    rows = compare_tokenizers(ours, [400, 700], "".join(docs[60:])[:20000])
    names = [r.name for r in rows]
    assert names == ["ours-400", "ours-700", "smollm2 (BPE)", "minilm (WordPiece)"]
    assert rows[0].bytes_per_token < rows[1].bytes_per_token < rows[2].bytes_per_token
    assert rows[1].vocab_size == 700 and rows[2].vocab_size == 49152
    path = plot_stats(rows, tmp_path / "stats.png", "test")
    assert Image.open(path).size[0] > 500
