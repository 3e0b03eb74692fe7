import json

import pytest
from bpe_tokenizer.cli import main


@pytest.mark.slow
def test_bench_runs_small_and_reports_equal_merges_and_ids(capsys):
    assert main(["bench", "--json", "--vocab-size", "512", "--baseline-vocab-size", "300",
                 "--encode-mb", "0.2", "--repeats", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["merges_identical_to_recount"] is True
    assert figures["docs_ids_differ_tiktoken"] == 0 and figures["docs_ids_differ_hf"] == 0
    assert figures["recount_over_ours"] > 1
    assert figures["memory_10x_repeated_peak_mib"] < 1.5 * figures["memory_1x_peak_mib"]
