"""Answer types, and which one a reference is when the caller says `auto`."""

from __future__ import annotations

import re

from sciinstruct.grading.lexicon import WORD, word_list
from sciinstruct.grading.numeric import parse_quantity, parse_unit
from sciinstruct.grading.text import unwrap_text
from sciinstruct.records import ANSWER_TYPES

# The one list of answer types is `records.ANSWER_TYPES`; here is who grades each. Types graded
# by rules here; the scientific formats graded by `sciinstruct.sciformats.answer_checkers`; and types no
# rule can grade (a proof), which only a judge decides.
OWN_TYPES = ("numeric", "expression", "choice", "text", "smiles")
EXTERNAL_TYPES = ("formula", "sequence", "molecule_design")
JUDGE_ONLY_TYPES = ("proof",)
if set(ANSWER_TYPES) != {"auto", *OWN_TYPES, *EXTERNAL_TYPES, *JUDGE_ONLY_TYPES}:
    raise ImportError(f"records.ANSWER_TYPES {ANSWER_TYPES} has a type the grader does not route")

# Spellings people use for the same thing; math-verify handles all the math ones.
ALIASES = {
    "number": "numeric",
    "float": "numeric",
    "integer": "numeric",
    "quantity": "numeric",
    "math": "expression",
    "latex": "expression",
    "set": "expression",
    "interval": "expression",
    "tuple": "expression",
    "matrix": "expression",
    "equation": "expression",
    "multiple_choice": "choice",
    "mcq": "choice",
    "string": "text",
    "free_text": "text",
}

# A reference that names options: "B", "(B).", "A, C", "A and D"; or an option letter followed
# by the option's text: "(B) Marcus", "B. Marcus", "B) 42 N", "B Marcus".
_CHOICE = re.compile(
    r"^\(?[A-J]\)?\.?$|^\(?[A-J]\)?(?:\s*(?:,|;|and|&)\s*\(?[A-J]\)?)+$"
    r"|^(?:\([A-J]\)|[A-J][.:)])\s+\S|^[A-J]\s+[A-Z0-9\\$(]"
)
# Characters of SMILES strings; a reference must also show SMILES syntax (bonds, rings,
# brackets, branches or aromatic atoms) before `auto` calls it a molecule.
_SMILES_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@+-[]()=#$/\\%.:*"
)
_SMILES_SYNTAX = re.compile(r"[=#\[\]()@]|[a-z]\d|[A-Z]\d|^[cnos]")
_MATH_WORDS = frozenset(
    word_list(
        "sin cos tan cot sec csc log ln exp sqrt frac pi infty lim sum int max min det arcsin "
        "arccos arctan sinh cosh tanh mod gcd lcm dfrac text mathrm cdot times"
    )
)


def resolve(answer_type: str | None) -> str:
    """The canonical name of a type, or raise ValueError naming the ones we know."""
    name = (answer_type or "auto").strip().lower()
    name = ALIASES.get(name, name)
    if name not in ANSWER_TYPES:
        raise ValueError(f"unknown answer type '{answer_type}'; expected one of {ANSWER_TYPES}")
    return name


def infer(gold: str, choices: list[str] | None = None, unit: str | None = None) -> str:
    """Guess the answer type of a (cleaned) reference answer."""
    if choices or _CHOICE.match(gold):
        return "choice"
    quantity = parse_quantity(gold)
    if quantity is not None and (not quantity.unit or parse_unit(quantity.unit) is not None):
        return "numeric"
    if unit and quantity is not None:
        return "numeric"
    if looks_like_smiles(gold):
        return "smiles"
    if looks_like_text(gold):
        return "text"
    return "expression"


def looks_like_smiles(s: str) -> bool:
    """True for strings RDKit reads as a molecule and that show SMILES syntax."""
    if len(s) < 2 or len(s) > 500 or not _SMILES_CHARS.issuperset(s):
        return False
    if re.fullmatch(r"(?:[CNOSPFI]|Cl|Br)+", s):  # CCO, OCC: chains need two carbons
        return len(s) >= 3 and s.count("C") - s.count("Cl") >= 2 and _valid_smiles(s)
    if not _SMILES_SYNTAX.search(s):
        return False
    if re.fullmatch(r"[\d()\[\]+\-=.]+", s):  # (1), [2], 3-4: numbers and intervals, not atoms
        return False
    return _valid_smiles(s)


def _valid_smiles(s: str) -> bool:
    from sciinstruct.grading.smiles import canonical

    return canonical(s) is not None


def looks_like_text(s: str) -> bool:
    """True for prose answers ("increases", "Paris, France"): words that are not math."""
    body = unwrap_text(s)
    if "\\" in body or re.search(r"[\^_=<>]", body):
        return False
    words = [w.lower() for w in WORD.findall(body)]
    return any(w not in _MATH_WORDS for w in words)


def has_prose(s: str) -> bool:
    """True when `s` holds words that are not math, LaTeX commands aside ("The area is 12\\pi")."""
    body = re.sub(r"\\(?:begin|end)\{[^{}]*\}|\\[A-Za-z]+", " ", s)
    return any(w.lower() not in _MATH_WORDS for w in WORD.findall(body))
