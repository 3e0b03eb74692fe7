"""Formats, the assistant-only loss mask (checked against transformers' own generation mask) and
batching."""

import json

import pytest
from llm_shared import UserError, load_tokenizer
from qlora_tuner.data import (
    IGNORE_INDEX,
    collate,
    encode_all,
    encode_conversation,
    epoch_batches,
    load_conversations,
    record_to_messages,
    split_eval,
)

CHAT = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another?"},
        {"role": "assistant", "content": "Green, of course."}]

# SmolLM2's template with {% generation %} tags, so transformers computes the mask itself.
TAGGED = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}"
    "{% endgeneration %}{{ '\n' }}{% else %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("tiny-llama")


def test_three_formats_give_the_same_messages():
    chat = record_to_messages({"messages": CHAT[1:3]}, "x")
    alpaca = record_to_messages({"instruction": "Name a colour.", "output": "Blue."}, "x")
    share = record_to_messages({"conversations": [{"from": "human", "value": "Name a colour."},
                                                  {"from": "gpt", "value": "Blue."}]}, "x")
    assert chat == alpaca == share
    with_input = record_to_messages({"instruction": "Translate", "input": "chat", "output": "cat"},
                                    "x")
    assert with_input[0]["content"] == "Translate\n\nchat"


def test_missing_field_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n"
                    + json.dumps({"instruction": "only"}) + "\n")
    with pytest.raises(UserError, match=r"bad.jsonl:2: .*\['output'\]"):
        load_conversations(path)
    path.write_text("{not json\n")
    with pytest.raises(UserError, match=":1: not valid JSON"):
        load_conversations(path)
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(UserError, match="no assistant message"):
        load_conversations(path)


def test_mask_covers_exactly_the_assistant_answers(tok):
    enc = encode_conversation(tok, CHAT)
    labelled = [t for t, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE_INDEX]
    assert tok.decode(labelled) == "Blue.<|im_end|>Green, of course.<|im_end|>"
    assert all(lab in (IGNORE_INDEX, t) for t, lab in zip(enc.input_ids, enc.labels, strict=True))
    # the same mask as transformers' own assistant mask from a {% generation %}-tagged template
    reference = tok.apply_chat_template(CHAT, chat_template=TAGGED, tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=True)
    assert reference["input_ids"] == enc.input_ids
    assert reference["assistant_masks"] == [int(lab != IGNORE_INDEX) for lab in enc.labels]


def test_default_system_prompt_is_not_learned(tok):
    enc = encode_conversation(tok, CHAT[1:3])
    text = tok.decode(enc.input_ids)
    assert "You are a helpful AI assistant" in text  # the template inserted it
    assert tok.decode([t for t, lab in zip(enc.input_ids, enc.labels, strict=True)
                       if lab != IGNORE_INDEX]) == "Blue.<|im_end|>"


def test_max_length_cuts_and_drops(tok):
    short = encode_conversation(tok, CHAT, max_length=20)
    assert len(short.input_ids) == 20
    kept, dropped = encode_all(tok, [CHAT, CHAT[1:3]], max_length=12)
    assert dropped == 2 and kept == []
    kept, dropped = encode_all(tok, [CHAT, CHAT[1:3]], max_length=4096)
    assert dropped == 0 and len(kept) == 2


def test_epoch_batches_are_deterministic_and_grouped():
    lengths = [5, 50, 6, 49, 7, 48, 8, 47]
    a = epoch_batches(lengths, 2, seed=3, epoch=0)
    assert a == epoch_batches(lengths, 2, seed=3, epoch=0)
    assert a != epoch_batches(lengths, 2, seed=3, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(8))
    assert all(abs(lengths[b[0]] - lengths[b[1]]) <= 1 for b in a)  # similar lengths together
    plain = epoch_batches(lengths, 2, seed=3, epoch=0, group_by_length=False)
    assert sorted(i for b in plain for i in b) == list(range(8))


def test_collate_and_split(tok):
    encs = [encode_conversation(tok, CHAT), encode_conversation(tok, CHAT[1:3])]
    batch = collate(encs, pad_id=2)
    width = len(encs[0].input_ids)
    assert batch["input_ids"].shape == (2, width)
    n = len(encs[1].input_ids)
    assert batch["attention_mask"][1].tolist() == [1] * n + [0] * (width - n)
    assert (batch["labels"][1, n:] == IGNORE_INDEX).all()
    train, held = split_eval(list(range(20)), 0.25, seed=0)
    assert len(held) == 5 and sorted(train + held) == list(range(20))
    assert split_eval(list(range(20)), 0.25, seed=0) == (train, held)
