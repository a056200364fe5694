"""Multiple choice: a letter, `(B)`, the option's text, or several letters as a set."""

from __future__ import annotations

import re
from functools import lru_cache

from sciinstruct.grading.answer_types import has_prose
from sciinstruct.grading.extract import ANSWER_IS, clean, line_after
from sciinstruct.grading.lexicon import (
    AND,
    LATEX_COMMAND,
    LATIN,
    NOT,
    OR,
    SENTENCE_BREAK,
    SEVERAL_OPTIONS,
    ZH_AND_OR,
    alternation,
    word_list,
    words,
)
from sciinstruct.grading.text import normalize, unwrap_text

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# The letters an answer may name when the question lists ten options or fewer (or none): A-J,
# as MMLU-Pro's ten. A question with more options (BIG-Bench Hard's colour and shape tasks go
# to R) widens the range to its own; a letter past the range is a word or a unit ("42 N").
LETTERS = ALPHABET[:10]


def options(choices: list[str] | None) -> str:
    """The option letters a question allows: A-J, or as many as it lists past ten."""
    return ALPHABET[: len(choices)] if choices and len(choices) > len(LETTERS) else LETTERS


# Russian tests letter their options А, Б, В, Г, Д (В is the third: C).
_CYRILLIC = str.maketrans("АБВГДабвгд", "ABCDEABCDE")
# An option word before the letter (`word`: "Option C", "la opción A", "选项 D", "答案 B"), then
# maybe a lone Cyrillic letter (`cyrillic`; never at the very start of text a word opens).
_OPENING = re.compile(
    r"(?i)(?P<word>(?:the\s+|la\s+)?(?:option|choice|opción|opcion|選択肢|选项|选|答案)[\s_]*)?"
    r"(?P<cyrillic>(?=[\s(\[]*[АБВГДабвгд](?:[)\].:,;]|\s*$)))?"
)
_SPACED_NOT = alternation(NOT, languages=("en", "de", "fr", "ru"))


class Grammar:
    """The patterns that read option letters, for one range of letters (`L`: `[A-J]`).

    Each pattern is written once, over the range; a question with eighteen options gets the
    same shapes over A-R (`grammar("ABCDEFGHIJKLMNOPQR")`), never a second pattern."""

    def __init__(self, letters: str) -> None:
        self.letters = letters
        L, lo = f"[A-{letters[-1]}]", f"[A-{letters[-1]}a-{letters[-1].lower()}]"
        # A letter set in a font or a box: `$\mathbf{C}$`, `\textbf{(B)}`.
        self.font = re.compile(
            rf"\\(?:math(?:bf|rm|it|sf|tt)|text(?:bf|rm|it)?|boxed)\s*\{{\s*(\(?{lo}\)?)\s*\}}"
        )
        # How an answer opens with option letters, its shapes tried in this order:
        # - `set`: "A, C", "A and C", "(A)(C)", "A C", "A、C", "A or C" (a hedge between two):
        #   letters and separators only;
        # - `only`: one letter and nothing else but markup: "{B}", "B:", "(B)";
        # - `hedge`: two letters joined by "or" before more words: "A or D depending on the
        #   medium";
        # - `lone`: "B", "(B)", "B.", "B)", "[B]", "b", "B) 42 N", "B，不是 A", "C et non A": a lone
        #   letter, then punctuation or nothing; `spaced`: "B Marcus", a capital letter then a
        #   space ("I pick London" starts with a word, not option I).
        self.opening = re.compile(
            rf"^(?:(?P<set>[\s(\[]*{L}[\s)\]]*"
            rf"(?:(?:,|;|/|&|{alternation(AND, OR)}|\s|[、，；{ZH_AND_OR}])*[\s(\[]*{L}[\s)\]]*)*"
            rf"[.。]?$)"
            rf"|(?P<only>[\s(\[{{]*(?P<only_letter>{L})[)\]}}.:]?\s*$)"
            rf"|(?P<hedge>[\s(\[]*{L}[)\]]*\s+(?:{alternation(OR)})\s+[(\[]*{L}(?![\w]))"
            rf"|[\s(\[{{]*(?:(?P<lone>{lo})(?:[)\]}}.:,;，。；、]|$)|(?P<spaced>{L})(?=\s)))"
        )
        # In running text: "the correct option is (C)", "choice B", "answer: D".
        # "Choice_B", as some harnesses name their options, is "choice B".
        self.in_text = re.compile(
            r"(?:option|choice|answer(?:\s+is)?|correct\s+(?:one|option|choice)\s+is)[\s_]*"
            rf"[:\-]?\s*(?:(?:option|choice)[\s_]*)?\(?({lo})\)?(?![\w])",
            re.IGNORECASE,
        )
        self.parenthesised = re.compile(rf"\(({L})\)")
        # "It must be D", "I would choose B", "C is correct": a letter the text settles on.
        self.settled = re.compile(
            r"(?:\b(?:must|should|would|has\s+to|have\s+to)\s+be|\b(?:choose|pick|select|go\s+with)"
            rf"|\b[Ii]t(?:'s|\s+is))\s+(?:option\s+|choice\s+)?\(?({L})\)?(?![\w])"
            rf"|(?<![\w])\(?({L})\)?\s+is\s+(?:the\s+)?(?:correct|right|best|true)\b"
        )
        # Letters a text rules out: "not C", "non A", "nicht B", "不是 A", "B and C fail".
        self.ruled_out_before = re.compile(
            rf"(?:\b(?:{_SPACED_NOT}|no|except|excluding|rule\s+out|eliminate|can(?:not|'t|’t)\s+be"
            rf"|isn[’']t)|{NOT['zh']}|并非|而非|ではなく)\s*(?:options?\s+|choices?\s+)?\(?"
            rf"(?:{lo}\)?\s*(?:,|{alternation(OR, languages=LATIN)}|and|nor|、)\s*\(?)*$",
            re.IGNORECASE,
        )
        self.ruled_out_after = re.compile(
            rf"^\)?(?:\s*(?:,|and|or|、)\s*\(?{lo}\)?)*\s*(?:(?:are\s+)?(?:both|all)\s+)?"
            r"(?:fails?\b|(?:is|are)\s+(?:both\s+|all\s+)?(?:wrong|incorrect|ruled\s+out|impossible"
            r"|false)|contradicts?\b|violates?\b|can(?:not|'t)?\s+be\s+ruled"
            r"|均?(?:错|不对|不正确|不符合))",
            re.IGNORECASE,
        )
        # A range of letters names the options, not one of them: zero-shot-CoT's answer trigger
        # is "Therefore, among A through E, the answer is".
        self.letter_range = re.compile(rf"\(?\b{L}\)?\s+(?:through|thru)\s+\(?{L}\b\)?")
        # A letter on its own in a statement ("réponse est C non A", "B不是 A", "Therefore, D.").
        # A sub- or superscript (`\\theta_D`, `x^A`) is never an option.
        # A letter in arithmetic (`A = 2 + 3`, `4 \\times B`) is a variable, not an option.
        self.lone = re.compile(
            rf"(?<![A-Za-z'’_^])(?<![=+*/×·]\s)(?<![=+*/×·])\(?({L})\)?(?![A-Za-z'’])"
            r"(?!\s*(?:[=+*/^<>×·]|\\(?:times|cdot)\b))(?:\s+(?P<after>[a-z]+))?"  # the word after
        )
        # "B) correct: momentum is conserved": one line per option, each with its verdict (a
        # line may also start after a literal `\n`, as responses stored with escaped newlines
        # have it).
        self.marked = re.compile(
            rf"(?im)(?:^|\\n)[\s*>#-]*\(?({lo})\)?[.):：]?\s*[*_]*\s*(?:is\s+)?"
            r"(correct|true|right|正确|对)\b"
        )

    def plain(self, text: str, unwrap: bool = False) -> str:
        """`text` with its letters out of fonts and boxes (and, with `unwrap`, out of
        `\\text{}`), without Markdown bold (`**`, `__`), math delimiters (`$`) and letter
        ranges."""
        text = self.font.sub(r"\1", text)
        text = unwrap_text(text) if unwrap else text
        text = text.replace("**", "").replace("__", "").replace("$", "")
        return self.letter_range.sub(" ", text) if "thr" in text else text

    def named(self, text: str) -> frozenset[str]:
        """The letters of the range that `text` holds (a set's letters: "A, C", "A or D")."""
        return frozenset(c for c in text if "A" <= c <= self.letters[-1])


@lru_cache(maxsize=8)
def grammar(letters: str = LETTERS) -> Grammar:
    return Grammar(letters)


def letters(
    answer: str, choices: list[str] | None = None, spaced: bool = True, by_text: bool = True
) -> frozenset[str] | None:
    """The option letters an answer names, or None when it names none; without `spaced`, a
    capital and a space ("B Marcus", but also "A violates", "I am") name no option; without
    `by_text`, an option's text or value in the answer names none either."""
    g = grammar(options(choices))
    s = g.plain(answer, unwrap=True).strip()
    head = _OPENING.match(s)
    s = s[len(head["word"] or "") :]  # type: ignore[index]
    if not s:
        return None
    s = s.translate(_CYRILLIC) if head["cyrillic"] is not None else s  # type: ignore[index]
    opening = g.opening.match(s)
    if opening and opening["set"]:
        return g.named(s)
    if opening and opening["hedge"]:  # "A or D depending on the medium": both, a hedge
        return g.named(opening["hedge"])
    if opening and opening["spaced"] and not spaced:
        opening = None
    letter = (opening["lone"] or opening["spaced"] or opening["only_letter"]) if opening else None
    letter = letter and letter.upper()
    if letter and (not choices or ALPHABET.index(letter) < len(choices)):
        return frozenset(letter)
    return _by_option_text(s, choices) if choices and by_text else None


def is_letter_only(answer: str, choices: list[str] | None = None) -> bool:
    """True when `answer` (a box's contents) is an option letter or a set of them, not a formula
    that holds a capital (`\\langle H\\rangle \\ll \\Delta E`)."""
    g = grammar(options(choices))
    s = g.plain(answer, unwrap=True).strip()
    head = _OPENING.match(s)
    if head["word"] is None and head["cyrillic"] is not None:  # type: ignore[index]
        s = s.translate(_CYRILLIC)  # a lone Cyrillic letter, only at the very start
    else:
        s = s[len(head["word"] or "") :]  # type: ignore[index]
    opening = g.opening.match(s)
    return bool(opening and (opening["set"] or opening["only"]))


# The clauses of a sentence: the last one holds what it concludes.
_CLAUSE = re.compile(r"[,;:]|\.{2,}|…|\.\s|\s(?:but|so|hence|thus|therefore)\s", re.IGNORECASE)
_NEGATED = re.compile(rf"(?i)\b(?:{alternation(NOT, languages=LATIN)}|never|neither|nor)\b")


def _by_option_text(answer: str, choices: list[str]) -> frozenset[str] | None:
    """The option whose text the answer is, or the only option whose text it contains."""
    wanted = normalize(answer)
    texts = [normalize(option) for option in choices[: len(ALPHABET)]]
    for index, option in enumerate(texts):
        if wanted and option == wanted:
            return frozenset(ALPHABET[index])
    # an option inside a sentence ("I pick London", "the angle is 45"), but not a number inside
    # a formula (the `1` of `\frac{1}{2}`, also in "The result is $\frac{1}{2}$")
    sentence = has_prose(answer)
    padded = f" {normalize(LATEX_COMMAND.sub(' ', answer)) if sentence else wanted} "
    inside = [
        i
        for i, option in enumerate(texts)
        if option and (sentence or has_prose(choices[i])) and f" {option} " in padded
    ]
    if len(inside) > 1 and sentence:  # "... decreases... but U = U(T), so it stays the same"
        final = normalize(_CLAUSE.split(LATEX_COMMAND.sub(" ", answer))[-1])
        inside = [i for i in inside if f" {texts[i]} " in f" {final} "]
        inside = [] if _NEGATED.search(final) else inside
    if len(inside) == 1:
        return frozenset(ALPHABET[inside[0]])
    return _by_option_value(answer, choices[: len(ALPHABET)])


def _by_option_value(answer: str, choices: list[str]) -> frozenset[str] | None:
    """The only option whose quantity equals the answer's ("42 newtons" is "42 N")."""
    from sciinstruct.grading.numeric import compare, parse_quantity

    said = parse_quantity(answer)
    if said is None:
        return None
    same = []
    for index, option in enumerate(choices):
        value = parse_quantity(option)
        if value is not None and compare(said, value, rtol=1e-9)[0]:
            same.append(index)
    return frozenset(ALPHABET[same[0]]) if len(same) == 1 else None


def find_in_text(text: str, allowed: str = LETTERS) -> str | None:
    """The last option letter running text settles on ("... so the answer is (C)", "It must be
    D; B and C fail"), leaving out the letters it rules out ("Not C, ..."); `allowed` are the
    letters the question allows (`options`)."""
    g = grammar(allowed)
    text = g.plain(text)
    for pattern in (g.in_text, g.settled, g.parenthesised):
        kept = None
        for found in pattern.finditer(text):
            group = next(filter(None, found.groups()))
            start = found.start() + found.group(0).rindex(group)
            if not _ruled_out(text, start, g):
                kept = group.upper()
        if kept:
            return kept
    return None


def _ruled_out(text: str, start: int, g: Grammar) -> bool:
    """True when the letter at `text[start]` is one the text rules out."""
    before = text[max(0, start - 20) : start]
    after = text[start + 1 : start + 60]
    return bool(g.ruled_out_before.search(before) or g.ruled_out_after.match(after))


def compare(pred: frozenset[str], gold: frozenset[str]) -> tuple[bool, str]:
    shown = ", ".join(sorted(pred))
    want = ", ".join(sorted(gold))
    if pred == gold:
        return True, f"chose {shown}"
    return False, f"chose {shown}, expected {want}"


# Words after a letter that keep it an option: conjunctions, negations, and the verbs that say
# what an option does ("C could work", "D holds"); any other word makes the letter a word itself
# ("Vitamin C deficiency", "A violates", "I am").
_JOINING_WORDS = frozenset(
    [
        *words(AND, OR, languages=LATIN),
        *word_list(
            "nor not non is are was were would must should seems could might may can will holds "
            "hold works work fits fit satisfies matches gives remains applies fails ist est es"
        ),
    ]
)
_SENTENCE_END = re.compile(rf"{SENTENCE_BREAK}|(?<=[。！？])")
_ORDINALS = word_list("first second third fourth fifth sixth seventh eighth ninth tenth")
_ORDINAL = re.compile(rf"(?i)\b({'|'.join(_ORDINALS)})\s+(?:option|choice|one|answer)\b")


def stated(segment: str, allowed: str = LETTERS) -> frozenset[str] | None:
    """The letters a short statement names on their own, those it rules out left aside
    ("for sure D, it can't be A or B": D; "A、C": both, a hedge); None when it names none."""
    g = grammar(allowed)
    text = g.plain(segment)
    kept = set()
    for found in g.lone.finditer(text):
        letter = found.group(1)
        after = found.group("after")
        if after and after not in _JOINING_WORDS:
            continue  # "Vitamin C deficiency", "I am": a word, not an option
        if not _ruled_out(text, found.start(1), g):
            kept.add(letter)
    return frozenset(kept) if kept else None


def last_sentence(text: str) -> str:
    """The last sentence of the last line of `text`."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    sentences = [s for s in _SENTENCE_END.split(lines[-1]) if s.strip()]
    return sentences[-1] if sentences else lines[-1]


def marked_correct(text: str, allowed: str = LETTERS) -> frozenset[str] | None:
    """The option a per-option analysis marks correct ("B) correct: ..."), if exactly one."""
    marked = {m.group(1) for m in grammar(allowed).marked.finditer(text)}
    return frozenset(marked) if len(marked) == 1 else None


def by_ordinal(text: str, choices: list[str] | None) -> frozenset[str] | None:
    """ "the third option": the option an ordinal names."""
    found = list(_ORDINAL.finditer(text[-300:]))
    if not found:
        return None
    index = _ORDINALS.index(found[-1].group(1).lower())
    if choices is not None and index >= len(choices):
        return None
    return frozenset(ALPHABET[index])


# "Answer: B" mid-line, "答案：C", "故选B", "选 C": an answer stated without "the answer is".
_ANSWER_MARK = re.compile(r"(?i)\b(?:final\s+)?answer\s*[:：]|答案\s*[:：]|[故应]?选(?!项)")


def answer_statement(text: str) -> str | None:
    """What follows the last statement of an answer in `text`, to the end of its line."""
    end = -1
    for pattern in (ANSWER_IS, _ANSWER_MARK):
        for found in pattern.finditer(text):
            end = max(end, found.end())
    if end < 0:
        return None
    return line_after(text[end:].lstrip(" \t*_:："), 0)


def stated_letters(text: str, choices: list[str] | None) -> frozenset[str] | None:
    """The letters of the last answer statement in `text` ("Answer: B", "the answer is C")."""
    statement = answer_statement(text)
    if not statement:
        return None
    statement = clean(statement)
    # "The answer is 3, i.e. option (D).": the letter it names wins over an option's text
    said = letters(statement, choices, by_text=False)
    letter = said or find_in_text(statement, options(choices))
    if letter:
        return frozenset(letter)
    return letters(statement, choices) or stated(statement, options(choices))


def in_prose(text: str, allowed: str = LETTERS) -> tuple[frozenset[str] | None, bool]:
    """The letters running text settles on, and whether they were found only there: its last
    sentence first ("... Therefore, D."), then the letters that sentence names on their own
    ("B and C ignore friction; A ... So D."), then the whole text."""
    last = last_sentence(text)
    if any(phrase in last.lower() for phrase in SEVERAL_OPTIONS):
        several = stated(last, allowed)  # "the correct options are (A) and (C)"
        if several is not None and len(several) > 1:
            return several, True
    letter = find_in_text(last, allowed)
    if letter:
        return frozenset(letter), True
    named = stated(last, allowed)
    if named is not None:
        return named, False
    letter = find_in_text(text, allowed)
    return (frozenset(letter), True) if letter else (None, False)
