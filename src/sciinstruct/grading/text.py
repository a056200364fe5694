"""Free-text answers: compared after normalisation, case-insensitively; lists as sets."""

from __future__ import annotations

import re
import string
import unicodedata

# The package's one `\\text{}` unwrapper: every command that only sets its argument's font.
_TEXT_COMMAND = re.compile(
    r"\\(?:text|textnormal|textrm|textbf|textit|textup|mathrm|mathbf|mathit|mathsf|rm|bf"
    r"|operatorname|mbox|emph|num|si)\s*\{([^{}]*)\}"  # siunitx's \num{1500}, \si{m/s}
)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation if c not in "+-"})
_LIST_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&)\s*")
# A polar reference and its opposite: an answer that opens with either word is that answer.
_POLAR = {"yes": "no", "no": "yes", "true": "false", "false": "true"}


def unwrap_text(s: str, pad: str = "") -> str:
    """`s` with every `\\text{...}`-like command (`\\textnormal`, `\\mathrm`, `\\mathbf`, ...)
    replaced by its contents, with `pad` on both sides."""
    return _TEXT_COMMAND.sub(lambda m: f"{pad}{m.group(1)}{pad}", s)


def normalize(s: str) -> str:
    """NFKC, `\\text{}` unwrapped, lower case, no punctuation or articles, single spaces."""
    s = unicodedata.normalize("NFKC", unwrap_text(s)).lower()
    s = _ARTICLES.sub(" ", s.translate(_PUNCT))
    return " ".join(s.split())


def items(s: str) -> frozenset[str]:
    """The members of a list answer such as `Paris, London and Rome`."""
    unwrapped = unwrap_text(s)
    parts = (normalize(p) for p in _LIST_SPLIT.split(unwrapped))
    return frozenset(p for p in parts if p)


def compare(pred: str, gold: str) -> tuple[bool | None, str]:
    """`(correct, reason)`; correct is None when the reference is empty after normalising."""
    gold_norm = normalize(gold)
    if not gold_norm:
        return None, "reference: empty after normalisation"
    if normalize(pred) == gold_norm:
        return True, "same text after normalisation"
    opposite = _POLAR.get(gold_norm)
    if opposite is not None:  # "Yes, the function u is constant." against "Yes"
        first = normalize(pred).partition(" ")[0]
        if first in (gold_norm, opposite):
            return first == gold_norm, f"opens with '{first}' (reference: '{gold_norm}')"
    gold_items = items(gold)
    if len(gold_items) > 1:
        pred_items = items(pred)
        if pred_items == gold_items:
            return True, f"same {len(gold_items)} items in any order"
        missing = sorted(gold_items - pred_items)
        return False, f"items differ (missing: {', '.join(missing)[:120] or 'none'})"
    return False, f"text differs: '{normalize(pred)[:60]}' vs '{gold_norm[:60]}'"
