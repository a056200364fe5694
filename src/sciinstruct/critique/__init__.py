"""Math-Critique (ChatGLM-Math): a judge model scores attempts 1-10 against the reference.

from sciinstruct.critique import CritiqueConfig, run_critique
report = run_critique("run", make_backend("openai", base_url=...), CritiqueConfig(only_wrong=True))
print(report.agreement.kappa)
"""

from __future__ import annotations

from sciinstruct.critique.agreement import DEFAULT_THRESHOLD, Agreement, agreement
from sciinstruct.critique.math_critique import (
    CritiqueConfig,
    CritiqueReport,
    build_request,
    critique_id,
    run_critique,
    select_attempts,
)
from sciinstruct.critique.parse import ParsedVerdict, parse_verdict

__all__ = [
    "DEFAULT_THRESHOLD",
    "Agreement",
    "CritiqueConfig",
    "CritiqueReport",
    "ParsedVerdict",
    "agreement",
    "build_request",
    "critique_id",
    "parse_verdict",
    "run_critique",
    "select_attempts",
]
