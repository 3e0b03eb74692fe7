"""cli_entry's one-line errors, torch_threads, load_torch_state refusing code, torch-free paths."""

import errno
import os
import subprocess
import sys

import pytest
import torch
from llm_shared import UserError, cli_entry, load_torch_state, torch_threads


def test_cli_entry_turns_os_errors_into_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")

    @cli_entry
    def writes_under_a_file(argv=None):
        (blocker / "out.json").write_text("{}")  # NotADirectoryError, an OSError
        return 0

    @cli_entry
    def disk_full(argv=None):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    assert writes_under_a_file([]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: Not a directory: {blocker / 'out.json'}; check that the path exists, "
                   "is writable and that the disk has space\n")
    assert disk_full([]) == 2
    assert capsys.readouterr().err.startswith("error: No space left on device; check")


def test_cli_entry_keeps_tracebacks_for_bugs():
    @cli_entry
    def buggy(argv=None):
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        buggy([])


def test_torch_threads_pins_and_restores():
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with torch_threads(None):  # None and 0 leave the count alone
        assert torch.get_num_threads() == before
    torch_threads(other)  # as a plain call it pins for good
    assert torch.get_num_threads() == other
    torch.set_num_threads(before)


class _RunsCode:
    def __reduce__(self):
        return (os.mkdir, (os.environ["PWNED_DIR"],))


def test_load_torch_state_refuses_pickled_code(tmp_path, monkeypatch):
    target = tmp_path / "pwned"
    monkeypatch.setenv("PWNED_DIR", str(target))
    torch.save({"optimizer": _RunsCode()}, tmp_path / "evil.pt")
    with pytest.raises(UserError, match="objects other than tensors"):
        load_torch_state(tmp_path / "evil.pt")
    assert not target.exists()  # the payload never ran


def test_load_torch_state_reads_tensors_and_names_bad_files(tmp_path):
    torch.save({"w": torch.arange(3), "step": 4, "rng": (3, (1, 2), None)}, tmp_path / "ok.pt")
    state = load_torch_state(tmp_path / "ok.pt")
    assert torch.equal(state["w"], torch.arange(3)) and state["step"] == 4
    assert state["rng"] == (3, (1, 2), None)
    (tmp_path / "cut.pt").write_bytes((tmp_path / "ok.pt").read_bytes()[:40])
    with pytest.raises(UserError, match="not a readable torch file"):
        load_torch_state(tmp_path / "cut.pt")
    with pytest.raises(UserError, match="does not exist"):
        load_torch_state(tmp_path / "missing.pt")


def test_model_paths_do_not_import_torch():
    from llm_shared import model_path

    model_path("smollm2-135m-instruct")  # a fresh cache converts here (that needs torch)
    code = ("import sys, llm_shared\n"
            "llm_shared.cache_dir(); llm_shared.model_path('all-minilm-l6-v2')\n"
            "llm_shared.model_path('smollm2-135m-instruct')\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=120)
    assert out.stdout.strip() == "[]"
