"""The command line: --help everywhere, one-line errors with exit 2, JSON last lines."""

import json

import pytest
from sae_probe.cli import COMMANDS, main


@pytest.mark.parametrize("command", [None, *COMMANDS, "bench"])
def test_help_exits_zero(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"] if command is None else [command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def _one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and needle in err, err
    return err


def test_unknown_hook_point_lists_valid_ones(capsys, tmp_path):
    err = _one_line_error(capsys, ["capture", "--model", "tiny-llama", "--hook", "resid.9",
                                   "--out", str(tmp_path / "a"), "--device", "cpu"],
                          "unknown hook point 'resid.9'")
    assert "{resid_post,mlp_out,attn_out}.{0..1}" in err
    assert not (tmp_path / "a" / "manifest.json").exists()


def test_k_larger_than_dictionary(capsys):
    _one_line_error(capsys, ["train", "--d-sae", "64", "--k", "65"], "larger than the dictionary")
    _one_line_error(capsys, ["demo", "--d-sae", "8", "--k", "9"], "larger than the dictionary")


def test_activations_from_another_layer(capsys, tiny_store, tiny_sae, tmp_path, tiny_model,
                                        make_capture_config):
    from sae_probe.capture import capture

    other = tmp_path / "other"
    model, tokenizer = tiny_model
    capture(make_capture_config(other, hook="mlp_out.0", max_tokens=400), model=model,
            tokenizer=tokenizer)
    _one_line_error(capsys, ["evaluate", "--sae", str(tiny_sae), "--acts", str(other), "--json"],
                    "are from hook 'mlp_out.0' but the SAE is for 'resid_post.1'")
    _one_line_error(capsys, ["inspect", "--sae", str(tiny_sae), "--acts", str(other)],
                    "capture with --hook resid_post.1")


def test_missing_inputs_are_one_line_errors(capsys, tmp_path):
    _one_line_error(capsys, ["train", "--acts", str(tmp_path)], "not an activation store")
    _one_line_error(capsys, ["evaluate", "--sae", str(tmp_path)], "no trained SAE")
    _one_line_error(capsys, ["steer"], "exactly one direction")
    _one_line_error(capsys, ["steer", "--probe", str(tmp_path)], "no probes.safetensors")


def test_wrong_files_and_unwritable_outputs_are_one_line_errors(capsys, tiny_store, tiny_sae,
                                                                tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    manifest = tiny_store / "manifest.json"
    _one_line_error(capsys, ["evaluate", "--sae", str(tiny_store), "--acts", str(tiny_store)],
                    "no trained SAE")
    _one_line_error(capsys, ["evaluate", "--sae", str(tiny_sae / "sae.json"), "--acts",
                             str(tiny_store)], "not a safetensors file")
    _one_line_error(capsys, ["steer", "--probe", str(tiny_sae)], "no probes.safetensors")
    _one_line_error(capsys, ["train", "--acts", str(tiny_store), "--out", str(a_file / "sae"),
                             "--d-sae", "16", "--k", "2", "--device", "cpu"], "Not a directory")
    _one_line_error(capsys, ["capture", "--model", "tiny-llama", "--hook", "resid_post.1",
                             "--out", str(a_file), "--device", "cpu"], "is a file, not a folder")
    # inspect --out on a folder that is not a dashboard would replace it as a whole
    manifest_before = manifest.read_bytes()
    _one_line_error(capsys, ["inspect", "--sae", str(tiny_sae), "--acts", str(tiny_store),
                             "--out", str(tiny_store), "--device", "cpu"],
                    "is not a dashboard folder")
    assert manifest.read_bytes() == manifest_before


def test_train_evaluate_inspect_end_to_end(capsys, tiny_store, tmp_path):
    sae_dir, dash = tmp_path / "sae", tmp_path / "dash"
    assert main(["train", "--acts", str(tiny_store), "--out", str(sae_dir), "--d-sae", "48",
                 "--k", "4", "--tokens", "2048", "--batch-size", "256", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] == 8
    assert main(["evaluate", "--sae", str(sae_dir), "--acts", str(tiny_store), "--json",
                 "--loss-windows", "4", "--device", "cpu"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and json.loads(out[0])["l0"] <= 4
    assert main(["inspect", "--sae", str(sae_dir), "--acts", str(tiny_store), "--out", str(dash),
                 "--n-latents", "3", "--device", "cpu"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    html = (dash / "index.html").read_text()
    assert len(last["latents"]) == 3 and "<mark" in html and "promotes" in html
