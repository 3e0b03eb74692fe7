"""Settings of paged-kv-server; each field's help is the reference and becomes a CLI flag.

`EngineConfig` sizes the engine (cache, batch limits); the command configs add what each
subcommand needs. Precedence: defaults -> `--config file.toml` -> flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_shared import EMBEDDED_LLM, UserError, param


@dataclass
class EngineConfig:
    model: str = param(EMBEDDED_LLM, help="model name (smollm2-135m-instruct, tiny-llama), local "
                                          "directory or Hugging Face id of a Llama checkpoint")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    dtype: str = param("auto", help="auto (float32 on CPU, bfloat16 on CUDA), float32, bfloat16, "
                                    "float16 or float64")
    block_size: int = param(16, help="tokens per KV block (vLLM's default)")
    kv_cache_mb: int = param(768, help="memory for the paged KV cache, in MiB (sets the number of "
                                       "blocks; SmolLM2 needs 45 KiB per token in float32)")
    num_blocks: int = param(0, help="KV blocks; 0 = as many as --kv-cache-mb holds")
    max_num_seqs: int = param(64, help="sequences in one batch at most")
    # NOTE: not tuned by a sweep (no time on the shared machine): 512 prefills a typical bench
    # prompt (52-463 tokens) in one step while bounding the step time decodes wait for.
    max_num_batched_tokens: int = param(512, help="token budget of one step (prefill chunks + "
                                                  "decodes)")
    max_model_len: int = param(2048, help="prompt + output tokens of one sequence at most")
    enable_prefix_caching: bool = param(True, help="reuse KV blocks of identical prompt prefixes")
    enable_chunked_prefill: bool = param(True, help="split long prompts across steps")
    seed: int = param(0, help="seed of the sampler for requests without their own seed")
    # NOTE: 1 by default because on the shared 2-core machine two OpenMP threads spin-wait on
    # each other (a tiny-model run: 13.6 s with 2 threads, 0.73 s with 1). Use 0 on a machine of
    # your own to keep torch's default.
    threads: int = param(1, help="CPU threads for torch (0: torch's default); the HF peer in "
                                 "the same process uses the same")

    def __post_init__(self) -> None:
        for name in ("block_size", "kv_cache_mb", "max_num_seqs", "max_num_batched_tokens",
                     "max_model_len"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be >= 1 "
                                f"(got {getattr(self, name)})")
        if self.threads < 0:
            raise UserError(f"--threads must be >= 0 (got {self.threads})")
        if self.num_blocks < 0:
            raise UserError(f"--num-blocks must be >= 0 (got {self.num_blocks})")
        if not self.enable_chunked_prefill and self.max_num_batched_tokens < self.max_model_len:
            raise UserError("without chunked prefill --max-num-batched-tokens must be >= "
                            "--max-model-len, or a long prompt could never be scheduled")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16", "float64"):
            raise UserError(f"--dtype {self.dtype!r} unknown; use auto, float32, bfloat16, "
                            "float16 or float64")


@dataclass
class ServeConfig(EngineConfig):
    host: str = param("127.0.0.1", help="address to listen on (loopback by default)")
    port: int = param(8000, help="TCP port")
    served_model_name: str = param("", help="model id reported by /v1/models (default: --model)")
    max_queue: int = param(256, help="sequences (n per prompt) waiting or running at most; more "
                                     "get HTTP 429")
    default_max_tokens: int = param(256, help="max_tokens when a request gives none")
    backend: str = param("paged", help="paged (this engine) or vllm (experimental, not yet run "
                         "on a GPU: hands the same flags to vLLM's server; needs vllm and CUDA)",
                         choices=("paged", "vllm"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.port < 65536:
            raise UserError(f"--port must be in 1..65535 (got {self.port})")
        if self.max_queue < 1:
            raise UserError(f"--max-queue must be >= 1 (got {self.max_queue})")


@dataclass
class GenerateConfig(EngineConfig):
    temperature: float = param(0.0, help="0 = greedy; a line's own temperature wins")
    max_tokens: int = param(64, help="new tokens per prompt; a line's own max_tokens wins")
    chat: bool = param(True, help="wrap plain prompts in the model's chat template")


@dataclass
class DemoConfig(EngineConfig):
    num_requests: int = param(16, help="concurrent requests sent to the engine")
    max_tokens: int = param(24, help="new tokens per request")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_requests < 1 or self.max_tokens < 1:
            raise UserError("--num-requests and --max-tokens must be >= 1")
