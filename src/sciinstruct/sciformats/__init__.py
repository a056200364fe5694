"""Scientific formats (SciReason): molecules, formulas and sequences, and their checkers.

- The task families over them (`smiles-to-formula`, `translation`, ...) live with every other
  family in `sciinstruct.generators`: `generate(family, n, seed)`.
- `answer_checkers.CHECKERS` grades the `formula`, `sequence` and `molecule_design` answer types (used by
  `sciinstruct.grading`).
- The GRPO rewards built on them live in `sciinstruct.train.science_rewards` and are registered
  by name in `sciinstruct.train.rewards` (validity, constraints, tanimoto, checks).

Submodules import RDKit; this package's `__init__` stays light so the CLI starts fast.
"""

from __future__ import annotations

__all__ = ["answer_checkers", "design", "formulas", "molecules", "sequences"]
