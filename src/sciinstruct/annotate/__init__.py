"""Self-reflective instruction annotation (SciGLM): cot, then reflect, then hinted.

from sciinstruct.annotate import AnnotateConfig, StagePlan, run_annotate
from sciinstruct.llm import make_backend

funnel = run_annotate("run", make_backend("embedded"), AnnotateConfig(plan=StagePlan(samples=2)))
print(funnel.to_stats()["solved"])
"""

from __future__ import annotations

from sciinstruct.annotate.funnel import Funnel, StageStats
from sciinstruct.annotate.ledger import Ledger, Outcome, read_attempts, walk
from sciinstruct.annotate.runner import AnnotateConfig, annotate, run_annotate
from sciinstruct.annotate.stages import ANNOTATE_STAGES, Slot, StagePlan
from sciinstruct.prompt_templates import PromptSet, load_prompts

__all__ = [
    "ANNOTATE_STAGES",
    "AnnotateConfig",
    "Funnel",
    "Ledger",
    "Outcome",
    "PromptSet",
    "Slot",
    "StagePlan",
    "StageStats",
    "annotate",
    "load_prompts",
    "read_attempts",
    "run_annotate",
    "walk",
]
