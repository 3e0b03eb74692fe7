"""Settings of sae-probe, one dataclass per command; each field's help is the reference and
becomes a CLI flag (defaults -> `--config file.toml` -> flags). Checks live in __post_init__ so a
bad value is a one-line error before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llm_shared import EMBEDDED_LLM, KINDS, UserError, param

ARCHS = ("topk", "relu", "jumprelu")


def _positive(**values: float) -> None:
    for name, value in values.items():
        if value <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be > 0 (got {value})")


@dataclass
class CaptureConfig:
    out: Path = param(Path("runs/acts"), help="directory of the activation store to write")
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    hook: str = param("resid_post.3", help="hook point: resid_post.L, mlp_out.L or attn_out.L")
    kinds: list[str] = param(list(KINDS), help="built-in corpus kinds (interleaved)",
                             choices=KINDS)
    files: list[Path] = param([], help="text/code files or folders to read instead of the corpus")
    max_tokens: int = param(200_000, help="stop after this many token rows")
    context: int = param(128, help="tokens per window (BOS + context-1 document tokens)")
    max_windows_per_doc: int = param(4, help="windows taken from one document at most")
    batch_size: int = param(16, help="windows per forward pass")
    shard_tokens: int = param(65_536, help="rows per shard file (a shard closes at a doc end)")
    dtype: str = param("float16", help="storage dtype of activations",
                       choices=("float16", "float32"))
    device: str = param("auto", help="auto, cpu, cuda or mps")
    resume: bool = param(False, help="continue an interrupted capture in --out")
    overwrite: bool = param(False, help="replace an existing activation store in --out")

    def __post_init__(self) -> None:
        self.out, self.files = Path(self.out), [Path(f) for f in self.files]
        _positive(max_tokens=self.max_tokens, batch_size=self.batch_size,
                  shard_tokens=self.shard_tokens, max_windows_per_doc=self.max_windows_per_doc)
        if self.context < 2:
            raise UserError(f"--context must be >= 2 (got {self.context})")


@dataclass
class TrainConfig:
    acts: Path = param(Path("runs/acts"), help="activation store written by `capture`")
    out: Path = param(Path("runs/sae"), help="directory for the SAE, its config and checkpoints")
    arch: str = param("topk", help="topk (+AuxK), relu (+L1) or jumprelu (+L0)", choices=ARCHS)
    d_sae: int = param(4608, help="dictionary size (number of latents)")
    k: int = param(32, help="active latents per token (topk)")
    l1_coeff: float = param(5.0, help="sparsity coefficient: L1 (relu) or L0 (jumprelu)")
    jumprelu_init_threshold: float = param(0.001, help="initial JumpReLU threshold")
    jumprelu_bandwidth: float = param(0.001, help="JumpReLU straight-through kernel width")
    aux_k: int = param(256, help="dead latents used by the AuxK loss (topk)")
    aux_coeff: float = param(1 / 32, help="AuxK loss weight (OpenAI paper: 1/32)")
    dead_tokens: int = param(50_000, help="a latent is dead after this many tokens without firing")
    tokens: int = param(400_000, help="training tokens in all (epochs if the store is smaller)")
    batch_size: int = param(1024, help="tokens per step")
    lr: float = param(4e-4, help="peak Adam learning rate")
    warmup_steps: int = param(50, help="linear learning-rate warm-up steps")
    decay_frac: float = param(0.2, help="final fraction of steps with linear decay to 0")
    b_dec_init: str = param("geometric_median", help="decoder bias init",
                            choices=("geometric_median", "mean", "zeros"))
    checkpoint_every: int = param(100, help="steps between checkpoints")
    resume: bool = param(False, help="continue from the last checkpoint in --out")
    overwrite: bool = param(False, help="replace an SAE or checkpoint already in --out")
    seed: int = param(0, help="random seed (weights and batch order)")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        self.acts, self.out = Path(self.acts), Path(self.out)
        _positive(d_sae=self.d_sae, k=self.k, tokens=self.tokens, batch_size=self.batch_size,
                  lr=self.lr, checkpoint_every=self.checkpoint_every, aux_k=self.aux_k)
        if self.arch == "topk" and self.k > self.d_sae:
            raise UserError(f"--k {self.k} is larger than the dictionary (--d-sae {self.d_sae}); "
                            "choose k <= d_sae")
        if not 0 <= self.decay_frac < 1:
            raise UserError(f"--decay-frac must be in [0, 1) (got {self.decay_frac})")


@dataclass
class EvalConfig:
    sae: Path = param(Path("runs/sae"), help="trained SAE directory (or its sae.safetensors)")
    acts: Path = param(Path("runs/acts"), help="activation store to measure on")
    eval_tokens: int = param(20_000, help="rows (held-out tail of the store) for L0/FVU/dead")
    loss_windows: int = param(32, help="windows for the spliced next-token loss")
    dense_threshold: float = param(0.1, help="a latent is dense when it fires on more than this")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    json: bool = param(False, help="print only one JSON line (for scripts)")

    def __post_init__(self) -> None:
        self.sae, self.acts = Path(self.sae), Path(self.acts)
        _positive(eval_tokens=self.eval_tokens)


@dataclass
class InspectConfig:
    sae: Path = param(Path("runs/sae"), help="trained SAE directory")
    acts: Path = param(Path("runs/acts"), help="activation store to search for top contexts")
    out: Path = param(Path("runs/dashboard"), help="folder for the static HTML dashboard")
    latents: list[int] = param([], help="latents to show (default: the most frequent live ones)")
    n_latents: int = param(24, help="latents in the dashboard when --latents is not given")
    top: int = param(8, help="top-activating contexts per latent")
    window: int = param(12, help="tokens of context shown left of the activating token")
    rows: int = param(50_000, help="store rows scanned for top activations")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        self.sae, self.acts, self.out = Path(self.sae), Path(self.acts), Path(self.out)
        _positive(n_latents=self.n_latents, top=self.top, window=self.window, rows=self.rows)


@dataclass
class ProbeConfig:
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    label: str = param("code", help="code: token is in Python source vs prose; digit: token has a "
                       "digit", choices=("code", "digit"))
    site: str = param("resid_post", help="hook site probed at every layer",
                      choices=("resid_post", "mlp_out", "attn_out"))
    docs: int = param(60, help="documents per class (split by document: 70% train, 30% test)")
    context: int = param(128, help="tokens per window")
    max_tokens_per_class: int = param(3000, help="balanced rows per class and split side at most")
    layers: list[int] = param([], help="layers to probe (default: every layer)")
    out: Path = param(Path("runs/probe"), help="folder for probe.json, probes.*, probe.png")
    seed: int = param(0, help="random seed")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        _positive(docs=self.docs, max_tokens_per_class=self.max_tokens_per_class)
        if self.docs < 4 or self.context < 3:
            raise UserError(f"--docs must be >= 4 and --context >= 3 (got {self.docs}, "
                            f"{self.context})")


@dataclass
class SteerConfig:
    prompt: str = param("Write one sentence about the weather.", help="prompt (chat template)")
    sae: Path | None = param(None, help="SAE directory whose latent direction is added")
    latent: int | None = param(None, help="latent index of --sae")
    probe: Path | None = param(None, help="probe folder (from `probe`); its direction is added")
    layer: int | None = param(None, help="probe layer to use (default: the most accurate)")
    strength: float = param(0.2, help="multiple of the hook's mean activation norm added")
    max_new_tokens: int = param(40, help="tokens generated before and after")
    model: str = param(EMBEDDED_LLM, help="model (must match the SAE/probe)")
    device: str = param("auto", help="auto, cpu, cuda or mps")
    json: bool = param(False, help="print the result as one JSON line only")

    def __post_init__(self) -> None:
        self.sae = Path(self.sae) if self.sae is not None else None
        self.probe = Path(self.probe) if self.probe is not None else None
        if (self.sae is None) == (self.probe is None):
            raise UserError("steer needs exactly one direction: --sae DIR --latent N, "
                            "or --probe DIR")
        if self.sae is not None and self.latent is None:
            raise UserError("--sae needs --latent N (the latent whose direction is added)")
        _positive(max_new_tokens=self.max_new_tokens)


@dataclass
class DemoConfig:
    model: str = param(EMBEDDED_LLM, help="model name, local directory or Hugging Face id")
    hook: str = param("resid_post.3", help="hook point captured")
    tokens: int = param(16_000, help="token rows captured")
    d_sae: int = param(2304, help="dictionary size (4x the width of SmolLM2)")
    k: int = param(24, help="active latents per token")
    train_tokens: int = param(160_000, help="training tokens (epochs over the capture)")
    out: Path = param(Path("runs/demo"), help="working folder (store, SAE)")
    device: str = param("auto", help="auto, cpu, cuda or mps")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        _positive(tokens=self.tokens, d_sae=self.d_sae, k=self.k, train_tokens=self.train_tokens)
        if self.k > self.d_sae:
            raise UserError(f"--k {self.k} is larger than the dictionary (--d-sae {self.d_sae}); "
                            "choose k <= d_sae")
