"""The grader: pull the final answer out of a model's output and decide whether it is right.

One grader serves annotation, filtering, rewards and evaluation::

    >>> from sciinstruct.grading import grade
    >>> grade("so the energy is \\\\boxed{3 kJ}", "3000 J").correct
    True
"""

from sciinstruct.grading.answer_types import ANSWER_TYPES
from sciinstruct.grading.grader import GradeItem, grade, grade_many, grade_question
from sciinstruct.grading.reference import Reference
from sciinstruct.grading.reward import correctness_reward
from sciinstruct.grading.rules import extract_answer
from sciinstruct.grading.tolerance import Tolerance
from sciinstruct.grading.verdict import Verdict

__all__ = [
    "ANSWER_TYPES",
    "GradeItem",
    "Reference",
    "Tolerance",
    "Verdict",
    "correctness_reward",
    "extract_answer",
    "grade",
    "grade_many",
    "grade_question",
]
