"""Shared files (SAEs, probes, checkpoints): exact round trips; pickles carrying code refused."""

import json
import os
import pickle

import pytest
import torch
from llm_shared import UserError
from sae_probe.artifacts import (
    load_checkpoint,
    load_probes,
    sae_from_files,
    save_probes,
    save_sae,
)
from sae_probe.cli import main
from sae_probe.sae import SAEConfig, SparseAutoencoder


class _Payload:
    """Unpickling this runs os.system: what a booby-trapped .pt shared online can do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _evil(path, marker):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"config": {}, "state": _Payload(marker)}))
    return path


@pytest.mark.parametrize("arch", ["topk", "relu", "jumprelu"])
def test_sae_save_load_round_trip_is_exact(tmp_path, arch):
    torch.manual_seed(0)
    sae = SparseAutoencoder(SAEConfig(d_in=12, d_sae=40, arch=arch, k=5, model="m", hook="h.1"))
    with torch.no_grad():
        for param in sae.parameters():
            param.add_(torch.randn_like(param))
        sae.scale.fill_(0.37)
    save_sae(sae, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sae.json", "sae.safetensors"]
    back = sae_from_files(tmp_path)
    assert back.cfg == sae.cfg
    assert back.state_dict().keys() == sae.state_dict().keys()
    for name, value in sae.state_dict().items():
        assert torch.equal(value, back.state_dict()[name]), name
    x = torch.randn(7, 12)
    assert torch.equal(sae(x), back(x))
    assert sae_from_files(tmp_path / "sae.safetensors").cfg == sae.cfg  # the file path works too


def test_probe_save_load_round_trip_is_exact(tmp_path):
    directions = {3: {"direction": torch.randn(16), "mean_norm": 128.25},
                  7: {"direction": torch.randn(16), "mean_norm": 3.5}}
    save_probes(tmp_path, model="m", site="resid_post", label="code", directions=directions)
    back = load_probes(tmp_path)
    assert (back["model"], back["site"], back["label"]) == ("m", "resid_post", "code")
    assert sorted(back["layers"]) == [3, 7]
    for layer, entry in directions.items():
        assert torch.equal(back["layers"][layer]["direction"], entry["direction"])
        assert back["layers"][layer]["mean_norm"] == entry["mean_norm"]


def test_pickled_payloads_are_refused_and_never_run(tmp_path, capsys):
    marker = tmp_path / "pwned"
    # an SAE file handed over as --sae (a .pt, or renamed to .safetensors next to a good sae.json)
    evil_pt = _evil(tmp_path / "shared" / "sae.pt", marker)
    evil_st = _evil(tmp_path / "renamed" / "sae.safetensors", marker)
    (tmp_path / "renamed" / "sae.json").write_text(json.dumps({"d_in": 4, "d_sae": 8}))
    for sae in (evil_pt, tmp_path / "renamed"):
        assert main(["evaluate", "--sae", str(sae), "--acts", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err, err
    assert "not a safetensors file" in err
    with pytest.raises(UserError, match="never unpickled"):
        sae_from_files(evil_st)
    # a probe folder whose probes.safetensors is a pickle
    _evil(tmp_path / "probe" / "probes.safetensors", marker)
    (tmp_path / "probe" / "probes.json").write_text('{"model": "m", "site": "resid_post"}')
    assert main(["steer", "--probe", str(tmp_path / "probe")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a safetensors file" in err and "\n" not in err
    # a checkpoint read by --resume
    with pytest.raises(UserError, match="not a checkpoint written by `sae-probe train`"):
        load_checkpoint(_evil(tmp_path / "run" / "checkpoint.pt", marker))
    assert not marker.exists(), "a pickle payload ran"


def test_resume_refuses_a_booby_trapped_checkpoint(tiny_store, tmp_path, capsys):
    marker = tmp_path / "pwned"
    _evil(tmp_path / "run" / "checkpoint.pt", marker)
    assert main(["train", "--acts", str(tiny_store), "--out", str(tmp_path / "run"), "--resume",
                 "--d-sae", "16", "--k", "2", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a checkpoint written by" in err and "\n" not in err
    assert not marker.exists()


def test_inconsistent_sae_files_are_one_line_errors(tmp_path):
    sae = SparseAutoencoder(SAEConfig(d_in=6, d_sae=10, k=2))
    save_sae(sae, tmp_path)
    config = json.loads((tmp_path / "sae.json").read_text())
    (tmp_path / "sae.json").write_text(json.dumps({**config, "d_sae": 10**9}))
    with pytest.raises(UserError, match=r"W_dec is \(10, 6\), config says \(1000000000, 6\)"):
        sae_from_files(tmp_path)
    (tmp_path / "sae.json").write_text(json.dumps({**config, "arch": "gated"}))
    with pytest.raises(UserError, match="architectures: topk, relu, jumprelu"):
        sae_from_files(tmp_path)
    (tmp_path / "sae.json").write_text(json.dumps({**config, "arch": "jumprelu"}))
    with pytest.raises(UserError, match="does not fit a jumprelu SAE"):  # no log_threshold
        sae_from_files(tmp_path)
