import json

import pytest
import torch
from llm_shared import (
    UserError,
    atomic_dir,
    atomic_write,
    bench,
    compare,
    emit_json,
    markdown_table,
    pick_device,
    pick_dtype,
    seed_everything,
    write_json,
)


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half")
        raise RuntimeError
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_gives_the_usual_mode(tmp_path):
    import os

    with atomic_write(tmp_path / "a.txt") as handle:
        handle.write("x")
    with open(tmp_path / "b.txt", "w") as handle:
        handle.write("x")
    assert os.stat(tmp_path / "a.txt").st_mode == os.stat(tmp_path / "b.txt").st_mode


def test_atomic_dir_replaces_whole(tmp_path):
    target = tmp_path / "run"
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "b").write_text("2")
        raise ValueError
    assert [p.name for p in target.iterdir()] == ["a"]
    with atomic_dir(target) as tmp:
        (tmp / "c").write_text("3")
    assert [p.name for p in target.iterdir()] == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_write_and_emit_json(tmp_path, capsys):
    write_json(tmp_path / "r.json", {"a": 1, "名": "字"})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1, "名": "字"}
    emit_json({"speedup": 2.5})
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"speedup": 2.5}


def test_compare_alternates_and_reports_ratio(monkeypatch):
    # A fake clock: each call of "fast" takes 1 s and "slow" 3 s, whatever the machine's load.
    clock = [0.0]
    monkeypatch.setattr(bench.time, "perf_counter", lambda: clock[0])
    calls = []

    def run(name, seconds):
        calls.append(name)
        clock[0] += seconds

    result = compare(lambda: run("a", 1.0), lambda: run("b", 3.0), repeats=4, warmup=1,
                     names=("fast", "slow"))
    assert calls[2:] == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert result.seconds_a == [1.0] * 4 and result.seconds_b == [3.0] * 4
    assert result.ratio == 3.0
    assert set(result.summary()) == {"fast_s", "slow_s", "fast_vs_slow"}


def test_markdown_table():
    assert markdown_table([{"m": "x", "v": 1.23456}]) == "| m | v |\n|---|---|\n| x | 1.235 |"


def test_device_and_dtype_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_dtype(torch.device("cpu"), "bf16") == torch.bfloat16
    with pytest.raises(UserError):
        pick_dtype(torch.device("cpu"), "int3")
    if not torch.cuda.is_available():
        assert pick_device("auto").type in {"cpu", "mps"}
        with pytest.raises(UserError, match="CUDA is not available"):
            pick_device("cuda")


def test_seed_everything_repeats():
    seed_everything(7)
    a = torch.randn(3)
    seed_everything(7)
    assert torch.equal(a, torch.randn(3))


def test_packed_linear_matches_matmul_and_keeps_row_bits():
    import torch
    from llm_shared import PackedLinear
    from llm_shared.linear import MIN_ROWS

    torch.manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        weight = torch.randn(96, 64).to(dtype)
        op = PackedLinear(weight)
        x = torch.randn(9, 64).to(dtype)
        torch.testing.assert_close(op(x).float(), (x.float() @ weight.float().T),
                                   atol=0.05 if dtype == torch.bfloat16 else 1e-5, rtol=1e-2)
        for rows in range(1, MIN_ROWS + 2):  # padded or not, a row keeps its bits
            assert torch.equal(op(x[:rows]), op(x)[:rows])
        assert op(x[:0]).shape == (0, 96)
        assert op(x.reshape(3, 3, 64)).shape == (3, 3, 96)  # not 2-D: plain F.linear
