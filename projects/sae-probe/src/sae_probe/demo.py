"""The chapter demo: capture activations, train a small TopK SAE, measure it, show one latent.

On the embedded SmolLM2-135M-Instruct: capture `tokens` rows of `hook` over the built-in corpus,
train a TopK SAE (d_sae = 4 x d_model, k = 24) for `train_tokens` tokens, print L0, FVU and the
change in next-token loss when the reconstruction is spliced in (with zero ablation for scale),
then the latent whose top contexts share one activating token most, with its contexts and the
tokens it promotes. It replaces its own earlier run in `out`. Sizes are chosen to stay under
90 s on 2 CPU cores; the same commands at real sizes are in the README.
Run: `uv run sae-probe demo`.
"""

from __future__ import annotations

import time
from typing import Any

from llm_shared import load_causal_lm, pick_device

from .capture import capture
from .config import CaptureConfig, DemoConfig, EvalConfig, TrainConfig
from .dashboard import build_reports, context_text, write_dashboard
from .evaluate import evaluate_sae
from .store import ActivationStore
from .train import load_sae, train


def run_demo(config: DemoConfig) -> dict[str, Any]:
    start = time.perf_counter()
    device = pick_device(config.device)
    model, tokenizer = load_causal_lm(config.model, device=device)
    acts, sae_dir = config.out / "acts", config.out / "sae"
    manifest = capture(CaptureConfig(out=acts, model=config.model, hook=config.hook,
                                     max_tokens=config.tokens, device=config.device,
                                     overwrite=True),
                       model=model, tokenizer=tokenizer)
    print(f"1. captured {manifest['n_tokens']} rows of {config.hook} from "
          f"{manifest['docs_used']} documents ({time.perf_counter() - start:.0f} s)")
    summary = train(TrainConfig(acts=acts, out=sae_dir, arch="topk", d_sae=config.d_sae,
                                k=config.k, tokens=config.train_tokens, batch_size=1024,
                                lr=1e-3, warmup_steps=10, device=config.device,
                                overwrite=True))
    print(f"2. trained a TopK SAE: {config.d_sae} latents, k={config.k}, {summary['tokens']} "
          f"tokens ({time.perf_counter() - start:.0f} s)")
    sae, store = load_sae(sae_dir), ActivationStore(acts)
    metrics = evaluate_sae(sae, store, EvalConfig(sae=sae_dir, acts=acts, loss_windows=8,
                                                  device=config.device), model=model)
    print(f"3. held-out: L0 {metrics['l0']:.1f}, FVU {metrics['fvu']:.3f}, dead "
          f"{metrics['dead_frac']:.3f}; next-token loss {metrics['loss_clean']:.3f} -> "
          f"{metrics['loss_spliced']:.3f} with the SAE spliced in (delta "
          f"{metrics['delta_loss']:+.3f}; zero ablation {metrics['zero_ablation_delta']:+.3f}, "
          f"loss recovered {metrics['loss_recovered']:.1%})")
    report = build_reports(sae, store, tokenizer, model, None, 1, top=6, window=10,
                           max_rows=store.n_tokens, pick_interpretable=True)[0]
    print(f"4. latent {report.latent} (fires on {report.frequency:.2%} of tokens, token purity "
          f"{report.purity:.2f}); top contexts:")
    for context in report.contexts:
        print(f"   {context['act']:6.2f}  ...{context_text(context)[-70:]}")
    print(f"   promotes {report.promoted[:6]!r}")
    page = write_dashboard(config.out / "dashboard", [report], {
        "model": config.model, "hook": config.hook, "arch": "topk", "d_sae": config.d_sae,
        "rows": store.n_tokens})
    print(f"   dashboard: {page}  ({time.perf_counter() - start:.0f} s in all)")
    return {"l0": round(metrics["l0"], 3), "fvu": round(metrics["fvu"], 4),
            "delta_loss": round(metrics["delta_loss"], 4),
            "zero_ablation_delta": round(metrics["zero_ablation_delta"], 4),
            "latent": report.latent, "latent_token": report.contexts[0]["token"]
            if report.contexts else None, "seconds": round(time.perf_counter() - start, 1)}
