"""Normalisation, quality rules, PII redaction and the toxicity scorers, on worked examples."""

import numpy as np
import pytest
import torch
from minhash_dedup import (
    ClassifierScorer,
    JudgeScorer,
    PipelineConfig,
    WordListScorer,
    clean_text,
    dedup_key,
    luhn_ok,
    quality_metrics,
    quality_verdict,
    redact,
)


def test_dedup_key_worked_example():
    assert dedup_key("Hello,   World 2024!") == "hello world 0000"
    assert dedup_key("ＡＢＣ\u00a0x") == "abc x"  # NFKC folds full-width letters and nbsp


def test_clean_text_keeps_code_but_fixes_line_endings():
    assert clean_text("a = {1: 2}  \r\nb\x00c\r") == "a = {1: 2}\nbc\n"


def test_quality_metrics_worked_example():
    m = quality_metrics("The cat sat.\nThe cat sat.\n# ...")
    assert m["n_words"] == 6  # "#" and "..." are symbol-only tokens
    assert m["stop_words"] == 2
    assert m["dup_line_frac"] == pytest.approx(1 / 3)
    assert m["symbol_word_ratio"] == pytest.approx(2 / 6)


def test_quality_verdicts_name_rule_and_values(records):
    config = PipelineConfig()
    assert quality_verdict(records[0]["text"], config)[0] is None
    reason, _ = quality_verdict("Too short to keep.", config)
    assert reason == "gopher_quality: n_words 4 < 50"
    repeated = "\n".join(["This line is the same as that line and it repeats."] * 20)
    assert quality_verdict(repeated, config)[0].startswith("gopher_repetition: dup_line_frac")
    code = records[0]["text"] + "\nx = {'a': 1}"
    assert quality_verdict(code, config)[0] == "c4: contains a curly bracket '{'"
    relaxed = PipelineConfig(c4_drop_curly_bracket=False)
    assert quality_verdict(code, relaxed)[0] is None


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")


def test_redact_each_kind():
    text = ("mail bob@example.com or call +1 (555) 123-4567 from 192.168.0.1; card "
            "4111 1111 1111 1111, not 4111 1111 1111 1112; key AKIAIOSFODNN7EXAMPLE and "
            "ghp_" + "a" * 36 + "; not an ip 999.1.2.3")
    out, counts = redact(text)
    assert out == ("mail <EMAIL> or call <PHONE> from <IP_ADDRESS>; card <CREDIT_CARD>, not "
                   "4111 1111 1111 1112; key <API_KEY> and <API_KEY>; not an ip 999.1.2.3")
    assert counts == {"api_key": 2, "email": 1, "credit_card": 1, "ip": 1, "phone": 1}
    assert redact("bob@example.com", ["phone"])[0] == "bob@example.com"


def test_wordlist_scorer_worked_example(tmp_path):
    scorer = WordListScorer()
    assert scorer.score(["you idiot", "a fine day", ""]) == [1.0, 0.0, 0.0]
    assert scorer.score(["idiot " + "word " * 39]) == [pytest.approx(10 / 40)]
    custom = tmp_path / "words.txt"
    custom.write_text("# comment\nbanana\n")
    assert WordListScorer(str(custom)).score(["Banana split", "idiot"]) == [1.0, 0.0]


def test_classifier_scorer_equals_manual_softmax(tmp_path):
    from llm_shared import model_path
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64,
                        id2label={0: "neutral", 1: "toxic"}, label2id={"neutral": 0, "toxic": 1})
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_path("tiny-bert"))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    texts = ["a calm sentence", "another, much longer sentence with more words in it"]
    scores = ClassifierScorer(str(tmp_path), device="cpu").score(texts)
    for text, score in zip(texts, scores, strict=True):
        with torch.no_grad():
            logits = model(**tokenizer(text, return_tensors="pt")).logits
        assert score == pytest.approx(torch.softmax(logits, -1)[0, 1].item(), abs=1e-5)


def test_judge_score_is_p_yes_over_yes_plus_no_and_batch_invariant():
    judge = JudgeScorer("tiny-llama", device="cpu", batch_size=4)
    texts = ["short", "a somewhat longer text that needs padding in the batch", "third one"]
    batched = judge.score(texts)
    # Reference: one unpadded forward per text, P(yes-like) / (P(yes-like) + P(no-like)).
    tok, model = judge.tokenizer, judge.model
    yes = {tok.encode(v, add_special_tokens=False)[0] for v in ("yes", "Yes", " yes", " Yes")}
    no = {tok.encode(v, add_special_tokens=False)[0] for v in ("no", "No", " no", " No")}
    expected = []
    for text in texts:
        ids = tok(judge.prompt(text), return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            probs = torch.softmax(model(**ids).logits[0, -1].float(), -1)
        p_yes, p_no = probs[sorted(yes)].sum().item(), probs[sorted(no)].sum().item()
        expected.append(p_yes / (p_yes + p_no))
    np.testing.assert_allclose(batched, expected, atol=1e-4)  # left padding changes nothing


@pytest.mark.slow
def test_real_smollm2_judge_gives_probabilities():
    """The embedded SmolLM2 as judge: valid, batch-invariant probabilities. (Its ranking of
    abuse vs. docstrings is weak at 135M parameters; the README shows measured scores.)"""
    judge = JudgeScorer(device="cpu", batch_size=2)
    texts = ["You are a worthless idiot and I hate you.", "Return the number of items."]
    batched = judge.score(texts)
    assert all(0.0 < s < 1.0 for s in batched)
    np.testing.assert_allclose(batched, [judge.score([t])[0] for t in texts], atol=1e-3)
