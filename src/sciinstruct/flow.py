"""The whole flow of docs/architecture.md, driven by a recipe: ingest -> annotate -> critique -> filter ->
curate -> export -> train -> eval (base vs tuned) -> report.

Every stage reads and writes the run directory and is resumable on its own (attempts and
critiques are append-only, LLM calls are cached), so `run_flow` after a crash or a kill simply
runs again; training and evaluation, the costly stages without a cache of their own, are
skipped when their outputs are already there.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sciinstruct.errors import InputError
from sciinstruct.llm import EngineSpec
from sciinstruct.log import console, logger
from sciinstruct.recipe import FLOW_STAGES, Recipe
from sciinstruct.rendering import md_table
from sciinstruct.rundir import RunDir
from sciinstruct.settings import resolve_path


@dataclass
class FlowResult:
    run: RunDir
    seconds: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    before_after: dict[str, Any] | None = None


class Flow:
    """Runs a recipe's stages in order over one run directory."""

    def __init__(self, recipe: Recipe, *, base: Path | None = None, force: bool = False) -> None:
        self.recipe = recipe
        self.base = base or Path.cwd()
        self.run = RunDir(resolve_path(recipe.run_dir, self.base)).ensure()
        self.force = force
        self._runner: Any = None

    # -- plumbing -----------------------------------------------------------------------------
    @property
    def runner(self) -> Any:
        """The stage runner of the CLI's commands, over this run and the recipe's executor."""
        if self._runner is None:
            from sciinstruct.stage_runner import StageRunner

            self._runner = StageRunner(self.run, self.recipe.executor)
        return self._runner

    def close_backend(self) -> None:
        """Release the annotating engine (on Ray: its actors' GPUs, which training needs)."""
        if self._runner is not None:
            self._runner.close_engines()

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def run_all(self) -> FlowResult:
        result = FlowResult(self.run)
        stages = [s for s in FLOW_STAGES if s in self.recipe.stages]
        self.runner.__enter__()  # the run's writer lock, for the whole flow
        try:
            self.run.update_config("recipe", dataclasses.asdict(self.recipe))
            for number, name in enumerate(stages, start=1):
                console.rule(f"[bold]{number}/{len(stages)} {name}")
                started = time.perf_counter()
                done = getattr(self, f"stage_{name}")()
                result.seconds[name] = round(time.perf_counter() - started, 2)
                if done is False:
                    result.skipped.append(name)
                self.run.update_stats(
                    "flow", {"seconds": result.seconds, "skipped": result.skipped}
                )
        finally:
            self.close()
        result.before_after = self.run.read_stats().get("before_after")
        return result

    # -- stages -------------------------------------------------------------------------------
    def stage_ingest(self) -> None:
        from sciinstruct.ingest import ingest

        files = [resolve_path(p, self.base) for p in self.recipe.questions]
        generated = self._generate()
        if generated is not None:
            # Template questions first, so `limit` takes them before the bank's long tail.
            files.insert(0, generated)
        for path in files:
            result = ingest(path, self.run)
            console.print(result.summary(str(path), self.run), highlight=False, markup=False)

    def _generate(self) -> Path | None:
        spec = self.recipe.generate
        if spec.n <= 0:
            return None
        from sciinstruct.generators import write_questions
        from sciinstruct.jsonl import read_jsonl

        # Never train on a question the held-out evaluation will ask.
        exclude = [
            row["question"]
            for path in self.heldout_files()
            if path.exists()
            for row in read_jsonl(path)
        ]
        out = self.run.generated
        marker = self.run.generated.with_suffix(".sha")
        key = _fingerprint({**dataclasses.asdict(spec), "exclude": len(exclude)})
        if not (out.exists() and marker.exists() and marker.read_text(encoding="utf-8") == key):
            write_questions(spec.families, spec.n, spec.seed, out, exclude=exclude)
            marker.write_text(key, encoding="utf-8")
        return out

    def eval_targets(self) -> list[Path | str]:
        """The eval's question files resolved, and benchmark names (`math500`) left as they are."""
        targets: list[Path | str] = []
        for name in self.recipe.eval.questions:
            path = resolve_path(name, self.base)
            targets.append(path if path.suffix or path.exists() else name)
        return targets

    def heldout_files(self) -> list[Path]:
        """The eval's question files (a registry benchmark reads its data elsewhere)."""
        return [t for t in self.eval_targets() if isinstance(t, Path) and t.suffix != ".yaml"]

    def stage_annotate(self) -> None:
        config = self.recipe.annotate
        if config.prompt_dir and not config.prompt_dir.startswith("sciinstruct:"):
            # a folder named in a recipe is relative to the recipe's base, not the shell's
            config = dataclasses.replace(
                config, prompt_dir=str(resolve_path(config.prompt_dir, self.base))
            )
        self.runner.annotate(config, self.recipe.backend, limit=self.recipe.limit)

    def stage_critique(self) -> None:
        self.runner.critique(self.recipe.critique, self.recipe.backend)

    def stage_filter(self) -> bool:
        from sciinstruct.curate import clear_filter, run_filter
        from sciinstruct.jsonl import read_jsonl

        config = self.recipe.filter
        graded = [
            a["correct"] for a in read_jsonl(self.run.attempts) if a.get("correct") is not None
        ]
        if config.labels is None and config.load is None and (all(graded) or not any(graded)):
            # A classifier trained on the run's own attempts needs both kinds; a tiny run may
            # have one. Curate then takes the correct attempts as they are.
            reason = (
                "the classifier needs both correct and wrong attempts "
                f"(this run has {sum(graded)} correct, {len(graded) - sum(graded)} wrong)"
            )
            console.print(f"filter skipped: {reason}")
            clear_filter(self.run, reason)  # no stale classifier scores from an earlier run
            return False
        stats = run_filter(self.run, config)
        logger.debug("filter: %s", stats)
        return True

    def stage_curate(self) -> None:
        from sciinstruct.curate import curate

        curate(self.run, self.recipe.curate)

    def stage_export(self) -> None:
        from sciinstruct.export import export_run

        export_run(self.run, self.recipe.export.formats, self.recipe.export.options)

    def _tuned_dir(self) -> Path:
        return self.run.model_dir

    def stage_train(self) -> bool:
        from sciinstruct.train import train_sft

        self.close_backend()  # the annotating engine is done: its memory (or GPUs) go to training
        out = self._tuned_dir()
        if self._trained_model() is not None and not self.force:
            console.print(
                f"already trained: {self._trained_model()} (use --force to retrain)", markup=False
            )
            return False
        data = self.run.export_file("sft")
        if not data.exists():
            raise InputError("no SFT data: the export stage wrote no sft.jsonl", file=str(data))
        if not _has_rows(data):  # the first non-blank line is enough: train reads it all
            raise InputError(_nothing_to_train(self.run.read_stats()), file=str(data))
        if self.force:
            shutil.rmtree(out, ignore_errors=True)
        # Resume only from a real checkpoint: a kill before the first save leaves a bare folder.
        config = dataclasses.replace(
            self.recipe.train,
            data=str(data),
            out=str(out),
            merge=True,
            resume=_last_checkpoint(out) is not None,
        )
        result = train_sft(config)
        (out / "final.txt").write_text(str(result.final_model), encoding="utf-8")
        # A retrained model invalidates the tuned model's cached evaluation.
        shutil.rmtree(self.run.eval_dir / "tuned", ignore_errors=True)
        return True

    def _trained_model(self) -> Path | None:
        """The final model of a finished training, or None (the marker is written last)."""
        marker = self._tuned_dir() / "final.txt"
        if not marker.exists():
            return None
        path = Path(marker.read_text(encoding="utf-8").strip())
        return path if (path / "config.json").exists() else None

    def stage_eval(self) -> bool:
        from sciinstruct.evaluate.engines import model_engines
        from sciinstruct.train.model import resolve_model

        spec = self.recipe.eval
        questions = [str(t) for t in self.eval_targets()]
        # both models on eval.backend: on llama.cpp the tuned one is the base GGUF + its LoRA
        engines = model_engines(
            spec.backend,
            resolve_model(self.recipe.train.model),
            self._trained_model(),
            self._tuned_dir() / "model",
        )
        ran = False
        spec_key = _fingerprint(dataclasses.asdict(spec))
        for label, engine in engines.items():
            out = self.run.eval_dir / label
            marker = out / "spec.sha"
            fresh = marker.exists() and marker.read_text(encoding="utf-8") == spec_key
            if fresh and (out / "results.json").exists() and not self.force:
                continue
            if label == "base" and spec.base_backend.configured:
                engine = spec.base_backend
            self._evaluate(engine, questions, out)
            marker.write_text(spec_key, encoding="utf-8")
            ran = True
        self._before_after(engines)
        return ran

    def _evaluate(self, engine: EngineSpec, questions: list[str], out: Path) -> None:
        try:
            self.runner.evaluate(
                questions, engine, out, self.recipe.eval.config, stage=f"eval/{out.name}"
            )
        finally:
            self.runner.close_engines()  # one model at a time in memory

    def _before_after(self, models: dict[str, Any]) -> None:
        results = {}
        for label in models:
            path = self.run.eval_dir / label / "results.json"
            if path.exists():
                results[label] = json.loads(path.read_text(encoding="utf-8"))
        if not results:
            return
        summary: dict[str, Any] = {label: _accuracy_summary(r) for label, r in results.items()}
        if len(results) == 2:
            from sciinstruct.evaluate import compare_runs
            from sciinstruct.evaluate.paired import paired_comparison

            base, tuned = self.run.eval_dir / "base", self.run.eval_dir / "tuned"
            compare_runs([base, tuned], self.run.eval_dir / "compare")
            summary["paired"] = {
                name: r.to_dict() for name, r in paired_comparison(base, tuned).items()
            }
        self.run.update_stats("before_after", summary)

    def stage_report(self) -> None:
        from sciinstruct.report import make_report

        make_report(self.run)
        section = before_after_markdown(self.run)
        if section:
            with open(self.run.report, "a", encoding="utf-8") as fh:
                fh.write("\n" + section)


def _fingerprint(value: Any) -> str:
    """A short hash of a stage's settings: an output made with other settings is stale."""
    import hashlib

    blob = json.dumps(value, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def _last_checkpoint(out: Path) -> str | None:
    if not out.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(out))


def _accuracy_summary(results: dict[str, Any]) -> dict[str, Any]:
    """The figures the report and stats.json keep from an eval's results.json."""
    overall = results["overall"]
    subjects: dict[str, float | None] = {}
    benchmarks: dict[str, dict[str, Any]] = {}
    for name, bench in results["benchmarks"].items():
        for subject, row in bench.get("subjects", {}).items():
            subjects[subject] = row.get("accuracy")
        if bench.get("accuracy") is not None:
            benchmarks[name] = {
                "accuracy": bench["accuracy"],
                "ci95": [bench["ci_low"], bench["ci_high"]],
                "n": bench["n"],
                "correct": bench["correct"],
            }
    return {
        "model": results.get("model"),
        "accuracy": overall["accuracy"],
        "ci95": [overall["ci_low"], overall["ci_high"]],
        "n": overall["n"],
        "correct": overall["correct"],
        "by_subject": subjects,
        "by_benchmark": benchmarks,
    }


def before_after_markdown(run: RunDir) -> str:
    """The report's before/after section: held-out accuracy of the base and the tuned model."""
    summary = run.read_stats().get("before_after")
    if not summary or "base" not in summary:
        return ""
    lines = [
        "## Before and after training (held-out questions)",
        "",
        "Greedy answers graded against the references. p: McNemar's exact test on the questions "
        "one model got right and the other wrong (same questions, so paired).",
        "",
    ]
    base, tuned, paired = summary["base"], summary.get("tuned") or {}, summary.get("paired", {})

    def cell(row: dict[str, Any] | None) -> str:
        if not row or row.get("accuracy") is None:
            return "–"
        low, high = (100 * x for x in row["ci95"])
        return f"{row['correct']}/{row['n']} = {100 * row['accuracy']:.1f}% [{low:.0f}-{high:.0f}]"

    def test(name: str) -> list[Any]:
        r = paired.get(name)
        if r is None:
            return ["–", "–", "–"]
        star = "*" if r["p_value"] < 0.05 else ""
        return [r["gained"], r["lost"], f"{r['p_value']:.3g}{star}"]

    names = list(base.get("by_benchmark", {}))
    rows = [
        (name, base["by_benchmark"][name], tuned.get("by_benchmark", {}).get(name))
        for name in names
    ]
    if len(names) != 1:
        rows.append(("all", base, tuned or None))
    lines += md_table(
        ["benchmark", "base", "tuned", "gained", "lost", "p"],
        [[name, cell(before), cell(after), *test(name)] for name, before, after in rows],
        align="lrrrrr",
    )
    lines += ["", "Accuracy with its 95% Wilson interval; `*`: p < 0.05."]
    compare = run.eval_dir / "compare"
    for png in sorted(compare.glob("*.png")) if compare.exists() else []:
        lines += ["", f"![{png.stem}]({png.relative_to(run.root)})"]
    return "\n".join(lines) + "\n"


def run_flow(recipe: Recipe, *, base: Path | None = None, force: bool = False) -> FlowResult:
    """Run every stage the recipe lists; returns timings and the before/after summary."""
    return Flow(recipe, base=base, force=force).run_all()


def _has_rows(path: Path) -> bool:
    with path.open(encoding="utf-8") as lines:
        return any(line.strip() for line in lines)


def _nothing_to_train(stats: dict[str, Any]) -> str:
    """Why the export has no training rows, from the stages' counts, and what to change."""
    annotate, curate = stats.get("annotate") or {}, stats.get("curate") or {}
    solved, questions = annotate.get("solved_total"), annotate.get("questions")
    if solved == 0:
        why = f"annotate solved none of its {questions} question(s)"
        fix = "ask for more samples (annotate.plan.samples), or use a stronger model (backend)"
    else:
        why = f"curation kept {curate.get('kept_samples', 0)} sample(s)"
        fix = "see dropped.jsonl for each drop's reason (filter.keep_fraction, curate options)"
    return f"no training rows: {why}; nothing was trained. To fix: {fix}"
