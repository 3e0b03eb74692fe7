import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bpe_tokenizer.cli import main
from bpe_tokenizer.hf_format import resolve_tokenizer_file
from llm_shared import EMBEDDED_ENCODER, model_path
from tokenizers import Tokenizer as HFTokenizer

SUBCOMMANDS = [["train"], ["encode"], ["decode"], ["stats"], ["demo"], ["bench"], ["embeddings"],
               ["embeddings", "neighbours"], ["embeddings", "analogy"], ["embeddings", "plot"],
               ["embeddings", "similarity"]]


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
def test_every_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out


def one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err, err
    return err


def test_train_encode_decode_round_trip(tmp_path, write, capsys):
    corpus = write("corpus.txt", "def f(x):\n    return x + 1\n" * 50 + "héllo 🙂 wörld\n" * 20)
    out = tmp_path / "tok"
    assert main(["train", str(corpus), "--vocab-size", "280", "--output", str(out),
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["vocab_size"] == 280 and (out / "tokenizer.json").is_file()

    text = write("in.txt", "def g(y):\n    return y + 1  # héllo 🙂\n")
    assert main(["encode", "--tokenizer", str(out), "--json", str(text)]) == 0
    ids = json.loads(capsys.readouterr().out)
    assert ids == HFTokenizer.from_file(str(out / "tokenizer.json")).encode(
        text.read_text()).ids
    ids_file = write("ids.json", json.dumps(ids))
    assert main(["decode", "--tokenizer", str(out / "tokenizer.json"), str(ids_file),
                 "--output", str(tmp_path / "back.txt")]) == 0
    assert (tmp_path / "back.txt").read_bytes() == text.read_bytes()


def test_encode_smollm2_matches_hugging_face(write, capsys):
    text = write("t.txt", "Tokenizers turn text into integers, 12345 times. 🙂\n")
    assert main(["encode", "--tokenizer", "smollm2", "--json", str(text)]) == 0
    hf = HFTokenizer.from_file(str(resolve_tokenizer_file("smollm2")))
    assert json.loads(capsys.readouterr().out) == hf.encode(text.read_text()).ids


def test_special_tokens_on_the_command_line(capsys):
    err = one_line_error(capsys, ["encode", "--text", "a<|im_end|>"])
    assert "special token '<|im_end|>'" in err
    assert main(["encode", "--json", "--text", "a<|im_end|>", "--allow-special", "all"]) == 0
    assert json.loads(capsys.readouterr().out)[-1] == 2
    assert main(["encode", "--json", "--text", "a<|im_end|>", "--ordinary"]) == 0
    assert 2 not in json.loads(capsys.readouterr().out)


def test_bad_input_is_one_line_exit_2(tmp_path, write, capsys, monkeypatch):
    out = str(tmp_path / "o")
    assert "empty" in one_line_error(capsys, ["train", str(write("e.txt", "")), "--output", out])
    assert "too small" in one_line_error(capsys, ["train", "--vocab-size", "200",
                                                  "--output", out])
    assert "256 byte tokens + 2" in one_line_error(
        capsys, ["train", "--vocab-size", "257", "--special-tokens", "<a>", "<b>",
                 "--output", out])
    assert "does not exist" in one_line_error(capsys, ["train", str(tmp_path / "missing"),
                                                       "--output", out])
    unreadable = write("locked.txt", "x")
    real_read_bytes = Path.read_bytes

    def denied(path):  # as chmod 0 would, also for root (who reads any file)
        if path == unreadable:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_read_bytes(path)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", denied)
        assert (f"cannot read {unreadable} (Permission denied)" in
                one_line_error(capsys, ["train", str(unreadable), "--output", out]))
    assert "not valid UTF-8" in one_line_error(capsys, ["encode", str(write("b.txt",
                                                                            b"\xff\xfe"))])
    assert "WordPiece" in one_line_error(capsys, ["encode", "--tokenizer",
                                                  str(model_path(EMBEDDED_ENCODER)), "--text",
                                                  "x"])
    assert "not a JSON list" in one_line_error(capsys, ["decode", "--ids", "[1, 'a']"])
    assert "not in this vocabulary" in one_line_error(capsys, ["decode", "--ids", "[99999]"])
    assert "not a valid regex" in one_line_error(capsys, ["train", "--pattern", "(", "--output",
                                                          out])
    assert not (tmp_path / "o").exists()  # no half-written output after any of these


def test_demo_last_line_is_json(capsys):
    assert main(["demo", "--vocab-size", "512"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) == {"vocab_size", "train_seconds", "bytes_per_token",
                            "smollm2_bytes_per_token"}
    assert figures["vocab_size"] == 512
    assert 1.5 < figures["bytes_per_token"] < figures["smollm2_bytes_per_token"]
    assert "decode(encode(sentence)) == sentence: True" in "\n".join(lines)



def test_encode_does_not_import_torch():
    # The tokenizer commands promise not to load torch (seconds of start-up): resolving the
    # embedded tokenizer goes through llm_shared's torch-free paths module.
    code = ("import sys\nfrom bpe_tokenizer.cli import main\n"
            "code = main(['encode', '--text', 'hello world'])\n"
            "print(code, sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0 []"
