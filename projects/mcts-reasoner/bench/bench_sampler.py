"""Self-consistency with our batched sampler vs HF `generate(num_return_sequences=N)`.

Same problems, N, temperature, max new tokens and stop text (`</answer>`, given to HF as
`stop_strings`); HF's top-k/top-p are switched off so both sample from the plain tempered softmax.
Reports accuracy of the majority vote side by side and the time ratio (median of alternating
repeats, `llm_shared.compare`). The peer repeats the prompt N times before its prefill; ours
prefills once. Leaves out GPU runs. Run:
    uv run --package mcts-reasoner python bench/bench_sampler.py --problems 3 --n 8
"""

from __future__ import annotations

import argparse

import torch
from llm_shared import compare, emit_json, load_causal_lm, torch_threads
from mcts_reasoner.checker import check
from mcts_reasoner.sampler import STOP_TEXT, chat_ids, sample
from mcts_reasoner.strategies import majority_vote
from mcts_reasoner.tasks import generate, prompt_messages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=3)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args()
    torch_threads(1)
    model, tokenizer = load_causal_lm(args.model, device="cpu")
    problems = generate("arithmetic", args.problems, seed=2)
    messages = [prompt_messages("arithmetic", p, cot=True) for p in problems]
    results: dict[str, list[float]] = {"ours": [], "hf": []}

    def ours() -> None:
        for i, (p, m) in enumerate(zip(problems, messages, strict=True)):
            s = sample(model, tokenizer, m, args.n, max_new_tokens=args.max_new_tokens,
                       temperature=args.temperature, seed=i)
            results["ours"].append(check("arithmetic", p,
                                         s.texts[majority_vote("arithmetic", s.texts)]).score)

    def hf() -> None:
        for i, (p, m) in enumerate(zip(problems, messages, strict=True)):
            torch.manual_seed(i)
            ids = chat_ids(tokenizer, m)  # (1, P)
            with torch.inference_mode():
                out = model.generate(ids, do_sample=True, num_return_sequences=args.n,
                                     temperature=args.temperature, top_k=None, top_p=None,
                                     max_new_tokens=args.max_new_tokens,
                                     stop_strings=[STOP_TEXT], tokenizer=tokenizer)
            texts = tokenizer.batch_decode(out[:, ids.shape[1]:], skip_special_tokens=True)
            results["hf"].append(check("arithmetic", p,
                                       texts[majority_vote("arithmetic", texts)]).score)

    comparison = compare(ours, hf, repeats=args.repeats, names=("ours", "hf"))
    runs = args.repeats + 1  # warm-up included
    accuracy = {k: round(sum(v) / (runs * args.problems), 4) for k, v in results.items()}
    print(f"{args.problems} problems x N={args.n}, T={args.temperature}, "
          f"max {args.max_new_tokens} tokens; median seconds: ours {comparison.median_a:.2f}, "
          f"HF {comparison.median_b:.2f}; ours is {comparison.ratio:.2f}x faster")
    print(f"majority-vote accuracy over all runs: ours {accuracy['ours']}, HF {accuracy['hf']}")
    emit_json({**comparison.summary(), "accuracy_ours": accuracy["ours"],
               "accuracy_hf": accuracy["hf"], "problems": args.problems, "n": args.n,
               "max_new_tokens": args.max_new_tokens, "temperature": args.temperature})


if __name__ == "__main__":
    main()
