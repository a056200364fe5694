"""Rebuild bench/RESULTS.md: the headline table (bench/results/_summary.md) followed by each
benchmark's own latest figures (bench/results/<name>.md, written when that benchmark runs).

    .venv/bin/python bench/collect_results.py
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["client", "scale", "engines", "grader", "annotate", "dedup", "sft_packing", "eval"]
ORDER += ["tasks", "demo"]


def main() -> None:
    results = HERE / "results"
    parts = [(results / "_summary.md").read_text(encoding="utf-8").rstrip()]
    names = sorted(p.stem for p in results.glob("*.md") if not p.stem.startswith("_"))
    for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        text = (results / f"{name}.md").read_text(encoding="utf-8").rstrip()
        # each file starts with its own "# title": demote it under this page's title
        parts.append(
            "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())
        )
    (HERE / "RESULTS.md").write_text("\n\n---\n\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {HERE / 'RESULTS.md'} from {len(names)} result files")


if __name__ == "__main__":
    main()
