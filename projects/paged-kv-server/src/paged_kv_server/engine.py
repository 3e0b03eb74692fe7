"""The engine: scheduler + block manager + model + sampler, one `step()` per forward pass.

`LLMEngine.add_request` tokenizes and queues; `step()` schedules a mixed batch, performs the
copy-on-write block copies, runs the model once over the flat token batch, samples, appends,
detokenizes, checks stop conditions and frees finished sequences' blocks at once. `generate()` is
the offline loop (used by `paged-kv-server generate`, the demo and the bench). `n > 1` requests
prefill the prompt once, then fork the samples onto the shared blocks (each recomputes only the
last prompt token, into a private copy of the last block). Leaves out threads: `server.py` runs
`step()` in a worker thread. Exercised by `tests/test_engine.py`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from llm_shared import (
    UserError,
    load_tokenizer,
    model_path,
    pick_device,
    pick_dtype,
    progress_bar,
    torch_threads,
)

from .attention import build_metadata
from .block_manager import BlockManager
from .config import EngineConfig
from .model import LlamaModel
from .sampler import Sampler
from .sampling_params import SamplingParams
from .scheduler import Scheduler
from .sequence import Sequence


@dataclass
class RequestOutput:
    """What one step produced for one sequence (deltas, for streaming) plus running totals."""

    request_id: str
    index: int
    new_token_ids: list[int]
    text_delta: str
    finished: bool
    finish_reason: str | None
    new_logprobs: list[dict] = field(default_factory=list)
    num_prompt_tokens: int = 0
    num_output_tokens: int = 0


@dataclass
class Completion:
    """A finished sequence, for offline use."""

    request_id: str
    index: int
    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str
    logprobs: list[dict]


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
           "float64": torch.float64}


class LLMEngine:
    def __init__(self, config: EngineConfig, *, tokenizer: Any = None) -> None:
        self.config = config
        torch_threads(config.threads)
        device = pick_device(config.device)
        dtype = pick_dtype(device, "auto") if config.dtype == "auto" else _DTYPES[config.dtype]
        path = model_path(config.model)
        if isinstance(path, str):
            from huggingface_hub import snapshot_download  # a hub id: fetch the files once
            try:
                path = snapshot_download(str(path), allow_patterns=["*.json", "*.safetensors",
                                                                      "*.model", "*.jinja"])
            except Exception as exc:  # noqa: BLE001 (hub errors come in many types)
                raise UserError(f"cannot load model '{config.model}': {exc}; pass a local "
                                "directory or smollm2-135m-instruct / tiny-llama") from exc
        self.model = LlamaModel.from_pretrained(path, device=device, dtype=dtype)
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer(str(path))
        self.device, self.dtype = device, dtype
        mc = self.model.config
        self.max_model_len = min(config.max_model_len, mc.max_position_embeddings)
        num_blocks = config.num_blocks or config.kv_cache_mb * 2**20 // (
            self.model.kv_bytes_per_token() * config.block_size)
        if num_blocks * config.block_size < self.max_model_len:
            raise UserError(f"the KV cache holds {num_blocks} blocks, fewer than one "
                            f"{self.max_model_len}-token sequence needs; raise --kv-cache-mb "
                            "(or --num-blocks) or lower --max-model-len")
        self.block_manager = BlockManager(num_blocks, config.block_size,
                                          config.enable_prefix_caching)
        self.scheduler = Scheduler(self.block_manager, max_num_seqs=config.max_num_seqs,
                                   max_num_batched_tokens=config.max_num_batched_tokens,
                                   enable_chunked_prefill=config.enable_chunked_prefill)
        self.k_cache, self.v_cache = self.model.allocate_kv_cache(num_blocks, config.block_size)
        self.sampler = Sampler(config.seed)
        self.eos_token_ids = set(mc.eos_token_ids)
        if self.tokenizer.eos_token_id is not None:
            self.eos_token_ids.add(self.tokenizer.eos_token_id)
        self.requests: dict[str, list[Sequence]] = {}
        self.detokenize_each_step = False  # the server turns this on for streaming text
        self.num_steps = 0
        self.num_generated_tokens = 0
        # Running sums over steps (a server steps forever: no per-step list) of live tokens,
        # paged slots, contiguous slots (prompt + max_tokens), and contiguous at max_model_len.
        self.kv_slot_sums = [0, 0, 0, 0]

    # -- requests -------------------------------------------------------------------------------
    def encode(self, prompt: str | list[int]) -> list[int]:
        ids = list(prompt) if isinstance(prompt, list) else self.tokenizer.encode(prompt)
        if not ids:
            raise UserError("the prompt is empty; send at least one token")
        if len(ids) >= self.max_model_len:
            raise UserError(f"the prompt has {len(ids)} tokens; this server's max_model_len is "
                            f"{self.max_model_len}: shorten the prompt")
        if max(ids) >= self.model.config.vocab_size or min(ids) < 0:
            raise UserError(f"token ids must be in [0, {self.model.config.vocab_size})")
        return ids

    def add_request(self, request_id: str, prompt: str | list[int],
                    params: SamplingParams) -> list[Sequence]:
        if request_id in self.requests:
            raise UserError(f"request id {request_id!r} is already in use")
        ids = self.encode(prompt)
        seq = Sequence(ids, params, request_id=request_id)
        seq.pending_fork = params.n - 1
        self.requests[request_id] = [seq]
        self.scheduler.add(seq)
        return [seq]

    def abort_request(self, request_id: str) -> None:
        """Finish every sequence of the request now; their blocks go back to the free list."""
        for seq in self.requests.pop(request_id, []):
            if not seq.is_finished:
                self.scheduler.finish(seq, "abort")
                self.sampler.forget(seq)

    def has_unfinished(self) -> bool:
        return self.scheduler.num_unfinished > 0

    # -- one step -------------------------------------------------------------------------------
    def _prepare(self, seqs: list[Sequence], counts: list[int]):
        bs = self.config.block_size
        ids: list[int] = []
        positions: list[int] = []
        slots: list[int] = []
        chunks = []  # (first row, query length, context length, block table)
        logits_rows, sampling = [], []
        for seq, n in zip(seqs, counts, strict=True):
            start, end = seq.num_computed_tokens, seq.num_computed_tokens + n
            row = len(ids)
            ids += seq.token_ids[start:end]
            positions += range(start, end)
            table = seq.block_table
            slots += [table[p // bs] * bs + p % bs for p in range(start, end)]
            chunks.append((row, n, end, table))
            if end == seq.num_tokens:  # reached the end of what it has: it samples a token
                logits_rows.append(row + n - 1)
                sampling.append(seq)
        dev = self.device
        mc = self.model.config
        meta = build_metadata(chunks, slots, bs, mc.num_attention_heads // mc.num_key_value_heads,
                              dev, self.dtype)
        return (torch.tensor(ids, device=dev), torch.tensor(positions, device=dev), meta,
                torch.tensor(logits_rows, dtype=torch.long, device=dev), sampling)

    def _sample_stats(self) -> None:
        running = self.scheduler.running
        if not running:
            return
        live = sum(s.num_tokens for s in running)
        # Blocks in use, each counted once: a shared prefix block holds live tokens of several
        # sequences, so this ratio can exceed 1 (that is the memory sharing saves).
        paged = self.block_manager.num_used_blocks * self.config.block_size
        # A contiguous cache reserves prompt + max_tokens for every sequence at admission.
        contiguous = sum(min(s.num_prompt_tokens + s.params.max_tokens, self.max_model_len)
                         for s in running)
        for i, value in enumerate((live, paged, contiguous, len(running) * self.max_model_len)):
            self.kv_slot_sums[i] += value

    def step(self) -> list[RequestOutput]:
        batch = self.scheduler.schedule()
        if not batch:
            return []
        for src, dst in batch.copies:  # copy-on-write of shared blocks, all layers at once
            self.k_cache[:, :, dst].copy_(self.k_cache[:, :, src])  # (layers, n_kv, bs, D)
            self.v_cache[:, :, dst].copy_(self.v_cache[:, :, src])
        ids, positions, meta, logits_rows, sampling = self._prepare(batch.seqs,
                                                                    batch.num_new_tokens)
        logits = self.model.forward(ids, positions, meta, self.k_cache, self.v_cache,
                                    logits_rows)  # (S, V)
        tokens = self.sampler(logits, sampling) if sampling else []
        self.num_steps += 1
        for seq, n in zip(batch.seqs, batch.num_new_tokens, strict=True):
            seq.num_computed_tokens += n
            self.block_manager.register_computed(seq)
        self._sample_stats()
        outputs = []
        now = time.perf_counter()
        for seq, token in zip(sampling, tokens, strict=True):
            outputs.append(self._append(seq, token, now))
        return outputs

    def _fork(self, parent: Sequence) -> None:
        """n > 1: the other samples share the prompt's blocks and recompute its last token."""
        for j in range(1, parent.pending_fork + 1):
            child = Sequence(parent.prompt_token_ids, parent.params, request_id=parent.request_id,
                             index=j, arrival_time=parent.arrival_time)
            self.block_manager.fork(parent, child)
            child.num_computed_tokens = parent.num_prompt_tokens - 1
            self.requests[parent.request_id].append(child)
            self.scheduler.add(child, front=True)
        parent.pending_fork = 0

    def _append(self, seq: Sequence, token: int, now: float) -> RequestOutput:
        if seq.pending_fork:
            self._fork(seq)
        seq.append_token(token)
        self.num_generated_tokens += 1
        if seq.first_token_time is None:
            seq.first_token_time = now
        p = seq.params
        reason = None
        if token in p.stop_token_ids or (not p.ignore_eos and token in self.eos_token_ids):
            reason = "stop"
        elif seq.num_output_tokens >= p.max_tokens or seq.num_tokens >= self.max_model_len:
            reason = "length"
        if p.stop or self.detokenize_each_step:
            seq.output_text = self.tokenizer.decode(seq.output_token_ids, skip_special_tokens=True)
            for stop in p.stop:
                cut = seq.output_text.find(stop)
                if cut >= 0:
                    seq.output_text, reason = seq.output_text[:cut], "stop"
        new_logprobs = seq.logprobs[-1:] if p.logprobs is not None else []
        if reason is not None:
            self.scheduler.finish(seq, reason)
            self.sampler.forget(seq)
            if not (p.stop or self.detokenize_each_step):
                seq.output_text = self.tokenizer.decode(seq.output_token_ids,
                                                        skip_special_tokens=True)
        text = seq.output_text
        if reason is None:
            hold = max((len(s) for s in p.stop), default=1) - 1  # a stop string may be starting
            safe = len(text) - hold
            while safe > seq.num_sent_chars and text[safe - 1] == "\ufffd":  # partial UTF-8
                safe -= 1
        else:
            safe = len(text)
        delta = text[seq.num_sent_chars:safe] if safe > seq.num_sent_chars else ""
        seq.num_sent_chars = max(seq.num_sent_chars, safe)
        return RequestOutput(seq.request_id, seq.index, [token], delta, reason is not None, reason,
                             new_logprobs, seq.num_prompt_tokens, seq.num_output_tokens)

    # -- offline --------------------------------------------------------------------------------
    def generate(self, prompts: list[str | list[int]],
                 params: SamplingParams | list[SamplingParams],
                 *, progress: bool = False) -> list[list[Completion]]:
        """Run prompts to completion; result[i] holds prompt i's n completions (by index)."""
        params_list = params if isinstance(params, list) else [params] * len(prompts)
        base = f"gen-{time.monotonic_ns()}-"
        ids = [f"{base}{i}" for i in range(len(prompts))]
        for rid, prompt, p in zip(ids, prompts, params_list, strict=True):
            self.add_request(rid, prompt, p)
        total = sum(p.n for p in params_list)
        with progress_bar() as bar:
            task = bar.add_task("generating", total=total, visible=progress)
            while self.has_unfinished():
                done = sum(out.finished for out in self.step())
                bar.advance(task, done)
        results = []
        for rid in ids:
            seqs = sorted(self.requests.pop(rid), key=lambda s: s.index)
            results.append([Completion(rid, s.index, s.prompt_token_ids, s.output_token_ids,
                                       s.output_text, s.finish_reason or "abort", s.logprobs)
                            for s in seqs])
        return results

    def stats(self) -> dict[str, Any]:
        bm = self.block_manager
        return {"num_blocks": bm.num_blocks, "free_blocks": bm.num_free_blocks,
                "kv_usage": bm.usage, "prefix_hit_rate": bm.prefix_hit_rate,
                "running": len(self.scheduler.running), "waiting": len(self.scheduler.waiting),
                "preemptions": self.scheduler.num_preemptions, "steps": self.num_steps,
                "generated_tokens": self.num_generated_tokens}

    def kv_utilisation(self) -> dict[str, float]:
        """Mean fraction of reserved KV slots that hold live tokens: paged vs contiguous."""
        live, paged, contiguous, at_max = self.kv_slot_sums
        if not live:
            return {"paged": 0.0, "contiguous": 0.0, "contiguous_max_len": 0.0}
        return {"paged": live / paged, "contiguous": live / contiguous,
                "contiguous_max_len": live / at_max}

    def reset_kv_utilisation(self) -> None:
        self.kv_slot_sums = [0, 0, 0, 0]
