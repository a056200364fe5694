"""Tasks generated and graded per second, per family.

For each family: generate N tasks from a seed (generate/s), grade every reference and a wrong
answer with the sciformats checks (check/s), and the same pairs through `sciinstruct.grading.grade`
when it is installed (grader/s), side by side in one run.

    .venv/bin/python bench/bench_tasks.py [--quick] [--n N]
"""

from __future__ import annotations

import argparse
import time


def _wrong(row: dict) -> str:
    """A wrong answer of the right shape, so grading does real work on both outcomes."""
    kind, answer = row["answer_type"], row["answer"]
    if kind == "numeric":
        return f"{float(answer) * 2 + 10:g}"
    return {
        "choice": "no" if answer == "yes" else "yes",
        "formula": "C2H6O" if answer != "C2H6O" else "CH4",
        "sequence": ("A" if answer[0] != "A" else "G") + answer[1:],
        "smiles": "[Ne]",  # no task molecule is neon
        "molecule_design": "C",
    }[kind]


def _reference(row: dict) -> str:
    return row["metadata"]["example"] if row["answer_type"] == "molecule_design" else row["answer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 tasks per family")
    parser.add_argument("--n", type=int, default=None, help="tasks per family (default 200)")
    args = parser.parse_args()
    # 200 stays below the 242 shipped molecules, so molecule families are not starved of new rows
    n = args.n or (50 if args.quick else 200)

    from sciinstruct.generators import families, generate
    from sciinstruct.sciformats.answer_checkers import check_task_answer

    try:
        from sciinstruct.grading import grade
    except ImportError:
        grade = None

    print("| family | rows | generate/s | check/s | grader/s |")
    print("|---|---:|---:|---:|---:|")
    for name in families("format"):
        start = time.perf_counter()
        rows = [q.model_dump(mode="json") for q in generate(name, n, 0, fewer_ok=True)]
        generate_s = time.perf_counter() - start
        pairs = [(row, pred) for row in rows for pred in (_reference(row), _wrong(row))]

        start = time.perf_counter()
        outcomes = [check_task_answer(row, pred)[0] for row, pred in pairs]
        check_s = time.perf_counter() - start
        assert outcomes == [True, False] * len(rows), f"{name}: a reference did not grade right"

        grader_rate = "n/a"
        if grade is not None:
            start = time.perf_counter()
            for row, pred in pairs:
                grade(
                    f"\\boxed{{{pred}}}",
                    row["answer"],
                    answer_type=row["answer_type"],
                    rtol=row["metadata"].get("rtol", 0.01),
                    choices=row["choices"],
                )
            grader_rate = f"{len(pairs) / (time.perf_counter() - start):,.0f}"
        print(
            f"| {name} | {len(rows)} | {len(rows) / generate_s:,.0f} | "
            f"{len(pairs) / check_s:,.0f} | {grader_rate} |"
        )


if __name__ == "__main__":
    main()
