"""Narration as the voice says it: ``spoken_form`` turns caption text into words Piper reads right; ``lint`` checks."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Collection
from dataclasses import dataclass

__all__ = ["MARKERS", "PLAIN", "RULES", "Rule", "lint", "number_words", "spoken_form", "unplain"]

# A caption may show "d_k = d/h", "softmax(QKᵀ/√d_k)", "1 048 576" or "−0.31". espeak-ng, Piper's
# phonemizer, reads some of these wrongly ("d slash h", "one zero forty-eight ..."), some by their
# code point ("letter 1 D 4 0" for ᵀ) and some not at all (·, …, ⇒ are silent). ``spoken_form``
# rewrites a written text with the ordered rules of ``RULES``, each with its reason and an example
# the tests check; ``unplain`` and ``lint`` prove a spoken text holds nothing the voice cannot say.
# Stdlib only: the voice comes in as a ``phonemize`` callable, never imported here.

Replacement = str | Callable[[re.Match[str]], str]


@dataclass(frozen=True)
class Rule:
    """One rewrite: every match of ``pattern`` becomes ``replace`` (a ``re.sub`` replacement)."""

    name: str
    pattern: re.Pattern[str]
    replace: Replacement
    example: tuple[str, str]  # (written, spoken) for this rule alone; the tests run it through spoken_form
    why: str


# -- what a spoken text may contain ---------------------------------------------------------------

# Latin letters with diacritics are read as part of their word ("café" -> kæfˈeɪ, "Dvořák"), so a
# user's sentence keeps them. Three in that range are read by code point ("ı" -> "letter 1 3 1"):
# checked over U+00C0..U+017F with the en-us voice; they stay out.
_LATIN_READ_AS_CODE = "\u0131\u0149\u017f"  # dotless i, n preceded by apostrophe, long s
PLAIN: frozenset[str] = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:?!'-\""
    + "".join(chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha() and chr(c) not in _LATIN_READ_AS_CODE)
)


def unplain(text: str) -> list[str]:
    """Characters of ``text`` outside ``PLAIN``, once each in order of appearance ("U+00B7 MIDDLE DOT")."""
    seen = dict.fromkeys(ch for ch in text if ch not in PLAIN)
    return [f"U+{ord(ch):04X} {unicodedata.name(ch, '<unnamed>')}" for ch in seen]


# -- helpers the rules share --------------------------------------------------------------------

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


_SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))


def number_words(n: int) -> str:
    """0 <= n < 10**12 in American English words, no "and" ("one hundred twenty-eight"). The lesson
    uses it where digits would lose a suffix ("head 1's"); the intelligibility check to compare."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    size, name = next((size, name) for size, name in _SCALES if n >= size)
    return number_words(n // size) + f" {name}" + ("" if n % size == 0 else " " + number_words(n % size))


# A maths operand as the lesson writes one: an integer, a decimal, or one letter with an optional
# subscript ("d", "d_k", "W_O", "h"). Decides "12 × 32" (by) against "2 × faster" (times).
_DIM = re.compile(r"\d+|[A-Za-z](?:_\w+)?")
_OPERAND = re.compile(r"\d+(?:\.\d+)?|[A-Za-z](?:_\w+)?")


def _times(m: re.Match[str]) -> str:
    # Between two dimensions × is a shape ("9 × 384" is read "9 by 384"); anywhere else, a product.
    left, right = m.group(1), m.group(2)
    return f"{left} by " if _DIM.fullmatch(left) and _DIM.fullmatch(right) else f"{left} times "


def _dot(m: re.Match[str]) -> str:
    # The captions use · both as a product ("h · d_k = d", "q·k_j") and as a separator
    # ("d = 16 · h = 4", "1 · previous-token"): a product only between two maths operands, and not
    # between two equations (each side of the dot holds its own "=").
    text, at = m.string, m.start(2)
    before = text[:at].rsplit("\u00b7", 1)[-1]
    after = text[m.end(2):].split("\u00b7", 1)[0]
    if "=" in before and "=" in after:
        return m.group(1) + ", "
    if _OPERAND.fullmatch(m.group(1)) and _OPERAND.fullmatch(m.group(3)):
        return m.group(1) + " times "
    return m.group(1) + ", "


def _slash(m: re.Match[str]) -> str:
    # "and/or", "query/key": a choice between words; anything else ("d/h", "QKᵀ/√d_k", "a / b") divides.
    left, space1, space2, right = m.groups()
    if not space1 and not space2 and re.fullmatch(r"[a-z]{2,}", left) and re.fullmatch(r"[a-z]{2,}", right):
        return "and " if (left, right) == ("and", "or") else f"{left} or "
    return f"{left} over "


def _letter_list(m: re.Match[str]) -> str:
    # "Q/K/V" names three matrices, not Q over K over V.
    letters = m.group(0).split("/")
    return ", ".join(letters[:-1]) + " and " + letters[-1]


def _digits(m: re.Match[str]) -> str:
    # espeak reads each thin-space group as its own number ("1 048 576" -> "one zero forty-eight ..."),
    # and a plain run of digits as one number: drop the grouping.
    return re.sub(r"[,\u2009\u202f\u00a0]", "", m.group(0))


_PUNCT_NAMES = {".": "period", ",": "comma", ";": "semicolon", ":": "colon", "!": "exclamation mark",
                "?": "question mark", "'": "apostrophe", "\u2019": "apostrophe", '"': "quote", "\u201c": "quote",
                "\u201d": "quote", "-": "hyphen", "(": "open bracket", ")": "close bracket", "\u2026": "ellipsis",
                "\u2014": "dash", "\u2013": "dash", "&": "ampersand", "%": "percent", "\u00f7": "divided by",
                "\u00d7": "times", "\u00b7": "dot", "/": "over", "=": "equals", "+": "plus", "\u2212": "minus"}


def _quoted_punct(m: re.Match[str]) -> str:
    # A token that is one punctuation mark, quoted ("the word “.”"): said, it would be silent or end
    # the sentence; name it instead.
    ch = m.group(1)
    name = _PUNCT_NAMES.get(ch) or unicodedata.name(ch, "symbol").lower().replace("-", " ")
    return f'"{name}"'


_SPECIAL_TOKENS = {"CLS": "C L S", "SEP": "separator", "MASK": "mask", "PAD": "padding", "UNK": "unknown"}


def _special_token(m: re.Match[str]) -> str:
    # BERT's [CLS]/[SEP]: brackets are silent and "SEP" is read as a word; say what they are.
    return _SPECIAL_TOKENS.get(m.group(1), " ".join(m.group(1)))


_ABBREVIATIONS = {"e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "vs.": "versus",
                  "et al.": "and colleagues", "cf.": "compare"}


def _abbreviation(m: re.Match[str]) -> str:
    # espeak says "i.e." as the letters "I E"; the full words are what a speaker says. "etc." keeps
    # its full stop where it ends a sentence.
    key = m.group(0).lower()
    words = _ABBREVIATIONS[key]
    end = m.end()
    if key in ("etc.", "et al.") and (end == len(m.string) or re.match(r"\s+[A-Z]", m.string[end:])):
        words += "."
    return words


_SUBSCRIPTS = "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089\u2090\u2091\u2092\u2093\u2095\u2096" \
              "\u2097\u2098\u2099\u209a\u209b\u209c\u1d62\u1d63\u1d64\u1d65\u2c7c"
_SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u2071\u207f\u207a\u207b"
_POWERS = {"2": " squared", "3": " cubed"}


def _power(m: re.Match[str]) -> str:
    # x² is "x squared"; other powers read "to the power of n" (espeak says "²" as a bare "two").
    exponent = m.group(1) if m.group(1) is not None else unicodedata.normalize("NFKC", m.group(2))
    return _POWERS.get(exponent, f" to the power of {exponent}")


def _subscript(m: re.Match[str]) -> str:
    # Q₁ is "Q 1"; "ᵢ" and "ⱼ" are read by code point otherwise.
    return " " + unicodedata.normalize("NFKC", m.group(0))


def _greek(m: re.Match[str]) -> str:
    # A Greek letter in a formula is said by its name; "GREEK SMALL LETTER ALPHA WITH TONOS" -> "alpha".
    if m.group(0) == "\u00b5":  # the micro sign
        return " mu "
    name = unicodedata.name(m.group(0), "")
    return " " + name.split("LETTER ", 1)[-1].split(" WITH", 1)[0].lower() + " "


def _possessive_number(m: re.Match[str]) -> str:
    # espeak drops the "'s" after digits ("head 1's output" -> "head one output"): say the number as a word.
    n = int(m.group(1))
    return (number_words(n) if n < 1_000_000 else m.group(1)) + "'s"


def _rule(name: str, pattern: str, replace: Replacement, example: tuple[str, str], why: str, flags: int = 0) -> Rule:
    return Rule(name, re.compile(pattern, flags), replace, example, why)


# -- the rules, in the order they apply ---------------------------------------------------------------
#
# The order matters: digit grouping before commas become pauses; a quoted mark before the quotes
# are rewritten; ranges and arrows before dashes and minus signs ("->" holds a hyphen); "/" before ᵀ
# and √ become words (it looks at its neighbours: "transpose/the" would pass for "and/or"); "×", "·"
# and brackets while the maths is still written, before "d_k" becomes "d k"; tidying last.

RULES: tuple[Rule, ...] = (
    _rule("digit grouping", r"(?<![\d.])\d{1,3}(?:[,\u2009\u202f\u00a0]\d{3})+(?![\d])", _digits,
          ("1\u2009048\u2009576 weights", "1048576 weights"), "grouped digits are read group by group"),
    _rule("number range", r"(?<=\d)(?:\s*[\u2013\u2012]\s*|-)(?=\d)", " to ",
          ("heads 3\u201311", "heads 3 to 11"), "an en dash between numbers is silent; a hyphen is read 'dash'"),
    _rule("quoted punctuation", r"[\"\u201c\u2018]([^\w\s])[\"\u201d\u2019]", _quoted_punct,
          ("the word \u201c.\u201d", "the word \"period\""), "a quoted mark alone is silent or ends the sentence"),
    _rule("quoted possessive", r"([\"\u201d])(['\u2019]s)\b", r"\2\1",
          ("\u201ccat\u201d's output", "\"cat's\" output"), "after a closing quote espeak reads 's as the letter S"),
    _rule("curly double quotes", r"[\u201c\u201d\u201e\u201f\u00ab\u00bb]", '"',
          ("\u201ccat\u201d", "\"cat\""), "one quote character for the voice"),
    _rule("curly apostrophes", r"[\u2018\u2019\u201a\u201b\u02bc]", "'",
          ("it\u2019s", "it's"), "one apostrophe character for the voice"),
    _rule("special tokens", r"\[([A-Z]{2,5})\]", _special_token,
          ("[CLS] and [SEP]", "C L S and separator"), "brackets are silent and SEP is read as a word"),
    _rule("word-piece marks", r"##(?=\w)", "",
          ("##ing", "ing"), "'##' is read 'hash hash'"),
    _rule("abbreviations", r"\b(?:e\.g\.|i\.e\.|etc\.|vs\.|et al\.|cf\.)", _abbreviation,
          ("e.g. this, i.e. that", "for example this, that is that"), "espeak spells 'i.e.' as letters",
          re.IGNORECASE),
    _rule("ellipsis", r"\s*(?:\u2026|\.\.\.|\u22ee|\u22ef|\u22f1)\s*", ", ",
          ("0.43, 0.21, \u2026", "0.43, 0.21"), "an ellipsis is silent and runs the words together"),
    _rule("trailing arrow", r"\s*(?:\u2192|->|\u27f6)\s*(?=$|[.,;:!?])", "",
          ("key \u2192", "key"), "an axis label's arrow shows a direction, not a step"),
    _rule("arrow", r"\s*(?:\u2192|->|\u27f6)\s*", ", then ",
          ("x \u2192 heads \u2192 W_O", "x, then heads, then W O"), "'right arrow' would be read by name"),
    _rule("implies", r"\s*(?:\u21d2|=>)\s*", ", so ",
          ("h = 1 \u21d2 one pattern", "h equals 1, so one pattern"), "a double arrow is silent"),
    _rule("word dash", r"(?<=[A-Za-z])\u2013(?=[A-Za-z])", "-",
          ("Jensen\u2013Shannon", "Jensen-Shannon"), "an en dash joining two names is a hyphen"),
    _rule("dash pause", r"\s*(?:\u2014|\u2013|\u2012|\u2015|--)\s*|\s+-\s+", ", ",
          ("heads \u2014 in parallel", "heads, in parallel"), "a dash is a pause: a comma gives one"),
    _rule("bullet", r"\s*[\u2022\u25e6\u2023]\s*", ", ",
          ("\u2022 memory traffic", "memory traffic"), "a bullet is silent"),
    _rule("norm", r"\u2016([^\u2016]+)\u2016", r"the norm of \1",
          ("\u2016change\u2016 / \u2016output\u2016", "the norm of change over the norm of output"),
          "'‖' is silent"),
    _rule("letter list", r"\b[A-Z](?:/[A-Z]){2,}\b", _letter_list,
          ("split Q/K/V", "split Q, K and V"), "a list of matrices, not a division"),
    _rule("slash", r"([^\s/]*)(\s*)/(\s*)(?=(\S*))", _slash,
          ("d_k = d/h", "d k equals d over h"), "espeak says 'slash'"),
    _rule("head index", r"\^\(\(?(\w+)\)?\)|\u207d([\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+)\u207e",
          lambda m: " of head " + unicodedata.normalize("NFKC", m.group(1) or m.group(2)),
          ("W_Q^((1))", "W Q of head 1"), "a bracketed superscript in this lesson numbers the head"),
    _rule("letters transposed", r"\b([A-Z]{2,4})(?=\u1d40|\^T\b|\u22a4)", lambda m: " ".join(m.group(1)),
          ("XW\u1d40", "X W transpose"), "each letter of a matrix product is its own matrix"),
    _rule("transpose", r"\u1d40|\^\{?(?:T|\u22a4)\}?(?![A-Za-z])|\u22a4", " transpose",
          ("K\u1d40", "K transpose"), "ᵀ is read by code point: 'letter 1 D 4 0'"),
    _rule("matrix pairs", r"\b(?:QKV|QK|KV)\b", lambda m: " ".join(m.group(0)),
          ("the KV cache", "the K V cache"), "Q, K and V are separate matrices, not an acronym"),
    _rule("square root of a group", r"(?:\u221a|\bsqrt)\(([^()]*)\)", r"the square root of \1",
          ("sqrt(32)", "the square root of 32"), "'sqrt' is not a word; its brackets are silent"),
    _rule("square root", r"\u221a\s*", "the square root of ",
          ("\u221ad_k", "the square root of d k"), "'√' alone is read 'square root', without 'of'"),
    _rule("power", r"\^\{?(\w+)\}?|([" + _SUPERSCRIPTS + r"]+)", _power,
          ("4d\u00b2", "4 d squared"), "'²' is read as a bare 'two'"),
    _rule("unicode subscript", r"[" + _SUBSCRIPTS + r"]+", _subscript,
          ("q\u1d62", "q i"), "'ᵢ' is read by code point"),
    _rule("coefficient", r"(?<=\d)(?=[a-rt-z]\b)", " ",
          ("4d", "4 d"), "a number times a symbol, written together"),
    _rule("times sign", r"([\w.]*)\s*\u00d7\s*(?=([\w.]*))", _times,
          ("12 \u00d7 32", "12 by 32"), "'×' is always read 'times', also in a shape"),
    _rule("middle dot", r"([\w.]*)(\s*[\u00b7\u22c5\u2219]\s*)(?=([\w.]*))", _dot,
          ("h \u00b7 d_k = d", "h times d k equals d"), "'·' is silent"),
    _rule("function call", r"(?<=[^\W\d_])\(", " of ",
          ("softmax(x)", "softmax of x"), "brackets are silent: 'softmax of' says what they mean"),
    _rule("product after a bracket", r"\)(?=[\w(\u221a])|\)\s*(?=[A-Za-z]_\w|[QKVWX]\b)", " times ",
          ("(a + b)c", "a plus b times c"), "two groups side by side multiply"),
    _rule("bracket before an operator", r"[)\]]\s*(?=[=+\u2212\-<>\u2264\u2265\u2248\u00f7*])", " ",
          ("(a + b) = c", "a plus b equals c"), "no pause inside an equation"),
    _rule("brackets", r"\s*[()\[\]]\s*", ", ",
          ("a weight (hidden rows count too).", "a weight, hidden rows count too."),
          "brackets are silent; a parenthesis is a pause"),
    _rule("braces", r"[{}]", "",
          ("W_{O}", "W O"), "grouping braces are silent"),
    _rule("at most", r"\s*(?:\u2264|<=)\s*", " at most ",
          ("\u2264 1", "at most 1"), "the spoken form of ≤"),
    _rule("at least", r"\s*(?:\u2265|>=)\s*", " at least ",
          ("share \u2265 0.5", "share at least 0.5"), "'≥' is read 'greater or equal to'"),
    _rule("not equal", r"\s*(?:\u2260|!=)\s*", " is not equal to ",
          ("a \u2260 b", "a is not equal to b"), "the spoken form of ≠"),
    _rule("less than", r"\s*<\s*", " less than ",
          ("a < b", "a less than b"), "'<' is silent"),
    _rule("greater than", r"\s*>\s*", " greater than ",
          ("a > b", "a greater than b"), "'>' is silent"),
    _rule("about", r"\s*(?:\u2248|~)\s*", " about ",
          ("\u2248 0.5", "about 0.5"), "'≈' is read 'approximately'; 'about' is shorter"),
    _rule("equals", r"\s*=\s*", " equals ",
          ("d = 512", "d equals 512"), "the spoken form of ="),
    _rule("divided by", r"\s*\u00f7\s*", " divided by ",
          ("x \u00f7 2", "x divided by 2"), "the spoken form of ÷"),
    _rule("plus or minus", r"\s*\u00b1\s*", " plus or minus ",
          ("\u00b1 1", "plus or minus 1"), "the spoken form of ±"),
    _rule("plus", r"\s*\+\s*", " plus ",
          ("+0.12", "plus 0.12"), "a sign, said"),
    _rule("asterisk", r"\s*\*\s*", " times ",
          ("a * b", "a times b"), "'*' is read 'asterisk'"),
    _rule("ampersand", r"\s*&\s*", " and ",
          ("Add & Norm", "Add and Norm"), "the word it stands for"),
    _rule("infinity", r"\u221e", " infinity ",
          ("\u2212\u221e", "minus infinity"), "the spoken form of ∞"),
    _rule("minus sign", r"\s*\u2212\s*", " minus ",
          ("\u22120.31", "minus 0.31"), "U+2212 must be said; the voice's text has no such character"),
    _rule("minus after a symbol", r"\b([a-z])-(?=\d)", r"\1 minus ",
          ("i-1", "i minus 1"), "espeak drops the hyphen in 'i-1' ('I one')"),
    _rule("leading minus", r"(?<![\w)])-(?=\d)", "minus ",
          ("-0.31", "minus 0.31"), "a hyphen as a sign, said"),
    _rule("percent", r"\s*%", " percent",
          ("43%", "43 percent"), "a written symbol for the voice's word"),
    _rule("underscore", r"_", " ",
          ("W_O and d_k", "W O and d k"), "the underscore is silent; the subscript is its own word"),
    _rule("greek", r"[\u0391-\u03a9\u03b1-\u03c9\u0386-\u038f\u03ac-\u03af\u03ca-\u03ce\u00b5]", _greek,
          ("\u03c3(x)", "sigma of x"), "one name per letter, as in a formula"),
    _rule("number possessive", r"\b(\d+)'s\b", _possessive_number,
          ("head 1's output", "head one's output"), "espeak drops 's after digits"),
    _rule("spaces", r"\s+", " ",
          ("a \u2009\n b", "a b"), "one plain space between words"),
    _rule("ends", r"^ | $", "",
          ("a weight, ", "a weight"), "the tidying below looks at the text's first and last characters"),
    _rule("space before punctuation", r" (?=[,.;:?!])", "",
          ("a , b", "a, b"), "punctuation follows its word"),
    _rule("pause before punctuation", r",+(?=[ ]?[,.;:?!]|$)|(?<=[.;:?!]) ?,", "",
          ("a weight, .", "a weight."), "a pause the rules left before another mark, or at the end"),
    _rule("leading pause", r"^[ ,]+", "",
          (", memory", "memory"), "nothing to pause after"),
)


def spoken_form(text: str) -> str:
    """The words the voice should say for the written narration ``text`` (``RULES``); plain English comes back as is."""
    text = unicodedata.normalize("NFC", text)
    for rule in RULES:
        text = rule.pattern.sub(rule.replace, text)
    return text.strip()


# -- the lint --------------------------------------------------------------------------------------
#
# How espeak-ng (Piper's phonemizer) reads a character it has no name for: a letter becomes the
# word "letter" plus its hex code ("ᵀ" -> "lˌɛɾɚwˈʌndˈiːfˈɔːɹzˈiəɹoʊ", "letter 1 D 4 0"), a letter
# of another script "Chinese letter" / "Thai letter ...", a symbol "symbol 2 6 0 5" (★); many
# others it drops in silence (·, …, ⇒, ‖). Silence is caught by ``unplain``. The spoken code point is
# caught in the phonemes: the phonemes of the marker words ("letter", "symbol", "character", got
# from the same voice, stress marks removed) are counted in the text's phonemes, and compared with
# how many the text's own ASCII words account for (each word phonemized alone, cached): "letters"
# or "newsletter" hold the marker too, and an ASCII word cannot be read by code point. A marker
# never spans a space in espeak's output, so the count does not depend on neighbouring words. More
# markers than the words explain means espeak read a code point.

MARKERS = ("letter", "symbol", "character")
_STRESS = str.maketrans("", "", "ˈˌ")
_ASCII_WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")


def _bare(phonemes: str) -> str:
    return phonemes.translate(_STRESS)


@functools.lru_cache(maxsize=16)
def _marker_phonemes(phonemize: Callable[[str], str]) -> tuple[tuple[str, str], ...]:
    return tuple((word, _bare(phonemize(word)).strip(" .,;:?!")) for word in MARKERS)


@functools.lru_cache(maxsize=8192)
def _word_markers(phonemize: Callable[[str], str], word: str) -> tuple[int, ...]:
    bare = _bare(phonemize(word))
    return tuple(bare.count(p) if p else 0 for _, p in _marker_phonemes(phonemize))


def lint(spoken: str, phonemize: Callable[[str], str], known: Collection[str] | None = None) -> list[str]:
    """Problems with one spoken text; [] when the voice can say it as written.

    ``phonemize(text) -> str`` is the voice's phonemizer, e.g.
    ``lambda t: "".join("".join(s) for s in voice.phonemize(t))``; ``known``, if given, is the set of
    phonemes the voice has ids for (``voice.config.phoneme_id_map``): Piper skips any other one.
    """
    problems = [f"{name}: not plain text" for name in unplain(spoken)]
    phonemes = phonemize(spoken)
    bare = _bare(phonemes)
    markers = _marker_phonemes(phonemize)
    found = [bare.count(p) if p else 0 for _, p in markers]
    if any(found):  # rare: only then phonemize the words one by one
        expected = [0] * len(markers)
        for word in _ASCII_WORD.findall(spoken):
            for i, n in enumerate(_word_markers(phonemize, word)):
                expected[i] += n
        for (word, p), n, e in zip(markers, found, expected):
            if n > e:
                at = bare.find(p)
                problems.append(f"espeak reads a code point: {word!r} said {n - e} time(s) more than the text's "
                                f"words explain, in {bare[max(0, at - 12):at + len(p) + 16]!r}")
    if known is not None:
        for ph in dict.fromkeys(ph for ph in phonemes if ph not in known):
            problems.append(f"phoneme {ph!r} (U+{ord(ph):04X}) has no id in the voice: Piper skips it")
    return problems
