"""`paged-kv-server generate`: a JSONL file of prompts in, a JSONL file of completions out.

Each input line is an object with `prompt` (text; wrapped in the chat template unless
`--no-chat`), `messages` (a chat conversation) or `prompt_ids` (token ids), plus optional sampling
fields (`max_tokens`, `temperature`, `top_p`, `top_k`, `min_p`, `stop`, `seed`, `n`, ...) that
override the command-line defaults. All prompts run through the engine together (continuous
batching); the output is written atomically, in input order.
Example: `paged-kv-server generate --input prompts.jsonl --output out.jsonl --max-tokens 32`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from llm_shared import UserError, atomic_write

from .config import GenerateConfig
from .engine import LLMEngine
from .sampling_params import SamplingParams
from .workload import chat_prompt_ids

_FIELDS = {f.name for f in dataclasses.fields(SamplingParams)}


def read_requests(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise UserError(f"--input {path} does not exist; pass a JSONL file with one "
                        '{"prompt": "..."} object per line')
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number} is not valid JSON ({exc.msg}); "
                            "fix that line") from exc
        if not isinstance(row, dict) or not ({"prompt", "messages", "prompt_ids"} & row.keys()):
            raise UserError(f"{path}:{number} needs a 'prompt', 'messages' or 'prompt_ids' field")
        unknown = set(row) - _FIELDS - {"prompt", "messages", "prompt_ids", "id"}
        if unknown:
            raise UserError(f"{path}:{number} has unknown fields {sorted(unknown)}; known: "
                            f"prompt, messages, prompt_ids, id, {', '.join(sorted(_FIELDS))}")
        rows.append(row)
    if not rows:
        raise UserError(f"--input {path} has no prompts")
    return rows


def run_generate(config: GenerateConfig, input_path: Path, output_path: Path) -> dict[str, Any]:
    rows = read_requests(input_path)
    engine = LLMEngine(config)
    prompts, params = [], []
    for row in rows:
        if "prompt_ids" in row:
            prompts.append([int(t) for t in row["prompt_ids"]])
        elif "messages" in row:
            prompts.append(chat_prompt_ids(engine.tokenizer, row["messages"]))
        elif config.chat:
            prompts.append(chat_prompt_ids(engine.tokenizer,
                                           [{"role": "user", "content": row["prompt"]}]))
        else:
            prompts.append(row["prompt"])
        settings = {"temperature": config.temperature, "max_tokens": config.max_tokens}
        settings.update({k: v for k, v in row.items() if k in _FIELDS})
        params.append(SamplingParams(**settings))
    start = time.perf_counter()
    results = engine.generate(prompts, params, progress=True)
    seconds = time.perf_counter() - start
    generated = 0
    with atomic_write(output_path) as handle:
        for i, (row, completions) in enumerate(zip(rows, results, strict=True)):
            for c in completions:
                generated += len(c.token_ids)
                record = {"id": row.get("id", i), "index": c.index, "text": c.text,
                          "token_ids": c.token_ids, "finish_reason": c.finish_reason,
                          "num_prompt_tokens": len(c.prompt_token_ids),
                          "num_output_tokens": len(c.token_ids)}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {"prompts": len(rows), "generated_tokens": generated, "seconds": round(seconds, 3),
            "tokens_per_s": round(generated / seconds, 2),
            "prefix_hit_rate": round(engine.block_manager.prefix_hit_rate, 4),
            "output": str(output_path)}
