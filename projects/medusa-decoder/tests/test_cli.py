import json

import pytest
from medusa_decoder.cli import main


@pytest.mark.parametrize("command", [[], ["train-heads"], ["generate"], ["bench"], ["demo"]])
def test_help_exits_zero(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def _one_line_error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err
    return err


def test_bad_inputs_are_one_line_errors(capsys, tiny_heads_path, tmp_path):
    assert "temperature" in _one_line_error(
        capsys, ["generate", "--model", "tiny-llama", "--prompt", "hi", "--temperature", "-1"])
    # Heads trained for tiny-llama, loaded into the real model.
    assert "hidden size" in _one_line_error(
        capsys, ["generate", "--prompt", "hi", "--method", "medusa", "--heads",
                 str(tiny_heads_path)])
    assert "output" in _one_line_error(capsys, ["train-heads"])
    assert "not found" in _one_line_error(
        capsys, ["generate", "--model", "tiny-llama", "--prompt", "hi", "--method", "medusa",
                 "--heads", str(tmp_path / "none.safetensors")])


def test_draft_with_another_tokenizer_is_refused(capsys, tmp_path):
    from llm_shared import model_path
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    other = tmp_path / "other-draft"
    LlamaForCausalLM(LlamaConfig(vocab_size=30522, hidden_size=16, intermediate_size=32,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 num_key_value_heads=1)).save_pretrained(other)
    AutoTokenizer.from_pretrained(model_path("tiny-bert")).save_pretrained(other)
    err = _one_line_error(capsys, ["generate", "--model", "tiny-llama", "--prompt", "hi",
                                   "--method", "draft", "--draft-model", str(other)])
    assert "tokenizer" in err


def test_generate_json_has_ids_and_accepted_lengths(capsys, tiny_heads_path):
    argv = ["generate", "--model", "tiny-llama", "--prompt", "Explain lists.", "--max-tokens",
            "12", "--json", "--heads", str(tiny_heads_path)]
    outs = {}
    for method in ("greedy", "medusa"):
        assert main([*argv, "--method", method]) == 0
        outs[method] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(outs["greedy"]["tokens"]) == 12
    assert outs["medusa"]["tokens"] == outs["greedy"]["tokens"]
    assert all(n >= 1 for n in outs["medusa"]["accepted_lengths"])


def test_demo_last_line_is_json(capsys, tiny_heads_path):
    assert main(["demo", "--model", "tiny-llama", "--max-tokens", "8", "--prompts", "1",
                 "--heads", str(tiny_heads_path), "--dtype", "float32"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(last["accepted_length"]) == {"greedy", "ngram", "draft", "medusa", "hybrid"}
    assert set(last["speedup"]) == set(last["accepted_length"])
    assert all(last["identical_to_greedy"].values())


@pytest.mark.parametrize("bad", [["--prompts", "0"], ["--methods", "foo"], ["--tree-size", "-1"]])
def test_bench_bad_settings_are_one_line_errors(capsys, bad):
    assert main(["bench", *bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_bench_json_prints_only_the_json_object(capsys, tiny_heads_path):
    assert main(["bench", "--json", "--model", "tiny-llama", "--heads", str(tiny_heads_path),
                 "--prompts", "1", "--max-tokens", "4", "--repeats", "1", "--device", "cpu",
                 "--methods", "greedy", "ngram"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and set(json.loads(lines[0])["tokens_per_s"]) == {
        "chat/greedy", "chat/ngram", "docs/greedy", "docs/ngram"}
    assert "| prompts | method |" in captured.err  # the table still shows, on stderr
