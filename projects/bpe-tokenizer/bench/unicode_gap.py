"""Print the code points that Python's `regex` classes as letters or numbers but Hugging Face
`tokenizers` (Oniguruma) does not: characters added in Unicode versions newer than Oniguruma's.

Run: `uv run --package bpe-tokenizer python bench/unicode_gap.py` (about 30 s). Its output is
pasted into src/bpe_tokenizer/unicode_gap.py; tests/test_pretokenize.py checks the table.
"""

import regex
from tokenizers import Regex, pre_tokenizers


def ranges(code_points: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in sorted(code_points):
        if out and cp == out[-1][1] + 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def main() -> None:
    everything = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    for name in ("L", "N"):
        ours = set(regex.findall(rf"\p{{{name}}}", everything))
        kept = pre_tokenizers.Split(Regex(rf"\p{{{name}}}"), behavior="removed")
        theirs = set(everything) - set("".join(p for p, _ in kept.pre_tokenize_str(everything)))
        assert not theirs - ours, "Oniguruma knows letters that regex does not"
        print(f"{name}_NEWER = (")
        for start, end in ranges([ord(c) for c in ours - theirs]):
            print(f"    (0x{start:04X}, 0x{end:04X}),")
        print(")")


if __name__ == "__main__":
    main()
