"""The tour's report card: `report.json` and a self-contained `report.html`, one card per chapter.

A card holds what the demo printed as figures (its last JSON line), its wall time, pass or fail (a
failed demo shows its last error line), the chapter's headline bench figure from the catalog, and a
link to the chapter's README. No template engine and no assets: the page opens from disk.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def last_error_line(output: str) -> str:
    """The line a person reads first when a demo fails: the last `error:`/exception line, else the
    last non-empty line. 'x\\nValueError: bad\\n[killed]' -> 'ValueError: bad'."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if line.lower().startswith("error") or (head.endswith(("Error", "Exception"))
                                                 and " " not in head):
            return line
    return lines[-1] if lines else "(no output)"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temp, 0o644)  # mkstemp makes it owner-only; a report is for anyone to open
    os.replace(temp, path)


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)[:120]
    return str(value)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;background:#f6f7f9;color:#1d2330}
h1{margin:0 0 .3rem}.sub{color:#5a6270;margin-bottom:1.5rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:1rem}
.card{background:#fff;border-radius:8px;padding:1rem 1.2rem;box-shadow:0 1px 3px #0002;
border-top:5px solid #2e9e5b}.card.fail{border-top-color:#c8372d}
.card h2{font-size:1.05rem;margin:.1rem 0}.meta{color:#5a6270;font-size:.85rem}
.verdict{float:right;font-weight:600}.ok{color:#2e9e5b}.bad{color:#c8372d}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.6rem 0}
td{border-top:1px solid #eceef2;padding:.2rem .3rem;vertical-align:top}
td:first-child{color:#5a6270;white-space:nowrap}.headline{font-size:.9rem;margin:.4rem 0}
.error{font-family:monospace;font-size:.8rem;background:#fdecea;padding:.4rem;border-radius:4px;
white-space:pre-wrap;word-break:break-word}
"""


def render_html(report: dict[str, Any]) -> str:
    cards = []
    for row in report["chapters"]:
        ok = row["ok"]
        esc = html.escape
        figures = "".join(f"<tr><td>{esc(str(k))}</td><td>{esc(_figure(v))}</td></tr>"
                          for k, v in row["figures"].items())
        parts = [
            f'<div class="card{"" if ok else " fail"}">',
            f'<span class="verdict {"ok" if ok else "bad"}">{"pass" if ok else "FAIL"}</span>',
            f'<h2>{html.escape(row["label"])} {html.escape(row["title_en"])}</h2>',
            f'<div class="meta">{esc(row["title_zh"])} · <code>{esc(row["project"])}</code>'
            f' · {row["seconds"]:.0f} s · <a href="{esc(row["readme"])}">README</a>'
            "</div>",
        ]
        if row.get("headline"):
            parts.append(f'<div class="headline">{html.escape(row["headline"])}</div>')
        if figures:
            parts.append(f"<table>{figures}</table>")
        if not ok:
            parts.append(f'<div class="error">{html.escape(row.get("error") or "")}</div>')
        parts.append("</div>")
        cards.append("".join(parts))
    passed = sum(r["ok"] for r in report["chapters"])
    title = f"llm-fullstack tour: {html.escape(report['selection'])}"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_CSS}</style></head><body><h1>{title}</h1>"
            f"<div class='sub'>{passed} of {len(report['chapters'])} demos passed in "
            f"{report['seconds']:.0f} s · {html.escape(report['finished'])}</div>"
            f"<div class='grid'>{''.join(cards)}</div></body></html>\n")


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write `report.json` and `report.html` into `folder`; returns both paths."""
    json_path, html_path = folder / "report.json", folder / "report.html"
    _write_atomic(json_path, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    _write_atomic(html_path, render_html(report))
    return json_path, html_path
