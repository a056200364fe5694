"""The grader: pull the final answer out of a model's output and decide whether it is right.

One grader serves annotation, filtering, rewards and evaluation::

    >>> from sciinstruct.grading import grade
    >>> grade("so the energy is \\\\boxed{3 kJ}", "3000 J").correct
    True
"""

from sciinstruct.grading.answer_types import ANSWER_TYPES
from sciinstruct.grading.extract import extract_answer
from sciinstruct.grading.grader import grade, grade_many, grade_question
from sciinstruct.grading.reward import correctness_reward
from sciinstruct.grading.verdict import Verdict

__all__ = [
    "ANSWER_TYPES",
    "Verdict",
    "correctness_reward",
    "extract_answer",
    "grade",
    "grade_many",
    "grade_question",
]
