"""The relation probe set (``mha_core/data/relations.jsonl``): every annotation checked, no model run.

Provenance. The sentences were written by hand for this project (not taken from a corpus or from
``data/sentences.txt``): plain English, everyday topics, no proper names, 6-25 words. Each was annotated
by hand at word level, for the head-labelling measurement of Clark et al. 2019 ("What does BERT look
at?"): a head's prediction for a word is the word it attends to most, scored per relation against the
pairs below and against baselines (best fixed offset, nearest preceding noun, first noun).

Format: one JSON object per line, ``{"words", "nouns", "pronouns", "relations"}``. ``words`` is exactly
what BERT's pre-tokenizer gives for ``" ".join(words)`` (punctuation separate; no contractions, no
"'s"). ``nouns``: indices of every common noun. ``pronouns``: indices of every pronoun and possessive
pronoun word (I, me, my, it, its, everyone, "one" in "one of them", ...). ``relations``: name -> list of
``[dependent, head]`` word indices (0-based), each name at most once, omitted when absent.

Annotation guidelines, in short:

* ``pronoun->antecedent``: he/she/it/they/him/her/them/his/its/their -> the head noun of the noun
  phrase it refers back to ("the old dog" -> "dog"). Only unambiguous cases (gender, number or sense
  decide); every third-person pronoun in the set has one, and it always precedes the pronoun (no
  cataphora was written). Antecedents were placed on purpose in every position: the subject, the
  object, the second noun, an earlier clause, a noun that is neither the first nor the nearest
  preceding noun.
* ``determiner->noun``: the/a/an/this/these/those/every/each/some -> the head noun (over adjectives).
* ``adjective->noun``: attributive adjectives only ("the old man"); predicative ones ("was bored") not.
* ``subject->verb`` and its reverse ``verb->subject``: the subject's head noun or pronoun -> its main
  verb ("had fixed" -> "fixed"). Left out on purpose: copular clauses ("it was cold", "were lost"),
  whose head is the predicate in Universal Dependencies but the copula in older schemes; and only the
  first conjunct of a coordinated subject ("A boy and his dog walked" -> "boy").
* ``verb->object``: a verb -> the head of its direct object; in "gave the cat some milk" the direct
  object "milk", not the indirect object "cat". Clausal complements ("said that ...") are not objects.
* ``preposition->object``: a preposition -> the head noun or pronoun of its object (particles such as
  "knocked it over", "slowed down" and the infinitive "to" are not prepositions).
* ``possessive->noun``: my/your/his/her/its/our/their -> the possessed noun.
* ``auxiliary->verb``: has/have/had/is/are/was/were/been/did/does/will/would/can/could/should ->
  the main verb, across "not" ("could not find" -> "find").

When an instance was doubtful it was left out rather than guessed.
"""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from mha_core.relations import RELATIONS

DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "every", "each", "some", "any", "no",
               "another", "either", "neither"}
AUXILIARIES = {"am", "is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "do", "does",
               "did", "will", "would", "shall", "should", "can", "could", "may", "might", "must"}
ANAPHORS = {"he", "she", "it", "they", "him", "her", "them", "his", "its", "their",
            "himself", "herself", "itself", "themselves"}
POSSESSIVES = {"my", "your", "his", "her", "its", "our", "their"}
PRONOUNS = ANAPHORS | {"i", "me", "we", "us", "you", "my", "your", "our", "everyone", "one"}
ARTICLES = {"the", "a", "an"}
ONLY_POSSESSIVE = {"my", "your", "our", "their", "its", "his"}  # "her" may be an object: not here
MIN_SENTENCES, MIN_PER_RELATION, BASELINE_CEILING = 80, 40, 0.6


def load_relations(path) -> list[dict]:
    """The probe set: one dict per non-empty line (``words``, ``nouns``, ``pronouns``, ``relations``
    with ``[dependent, head]`` pairs turned into tuples)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        row["relations"] = {name: [tuple(pair) for pair in pairs] for name, pairs in row["relations"].items()}
        rows.append(row)
    return rows


def first_noun_guess(row: dict, pronoun: int) -> int | None:
    """Baseline: the first noun of the sentence."""
    return row["nouns"][0] if row["nouns"] else None


def nearest_preceding_noun_guess(row: dict, pronoun: int) -> int | None:
    """Baseline: the closest noun before the pronoun."""
    before = [n for n in row["nouns"] if n < pronoun]
    return before[-1] if before else None


def baseline_accuracy(rows: list[dict], guess) -> float:
    pairs = [(row, d, h) for row in rows for d, h in row["relations"].get("pronoun->antecedent", [])]
    return sum(guess(row, d) == h for row, d, h in pairs) / len(pairs)


@pytest.fixture(scope="module")
def path() -> Path:
    return Path(str(resources.files("mha_core").joinpath("data/relations.jsonl")))


@pytest.fixture(scope="module")
def rows(path) -> list[dict]:
    return load_relations(path)


@pytest.fixture(scope="module")
def tokenizer():
    tokenizers = pytest.importorskip("tokenizers")
    from mha_core.pretrained import model_dir

    return tokenizers.Tokenizer.from_file(str(model_dir() / "tokenizer.json"))


def pairs(row: dict, name: str) -> list[tuple[int, int]]:
    return row["relations"].get(name, [])


def lower(row: dict, i: int) -> str:
    return row["words"][i].lower()


def where(k: int, row: dict) -> str:
    return f"line {k + 1}: {' '.join(row['words'])!r}"


# -- the file and the loader ----------------------------------------------------------------------


def test_loader_reads_every_line_into_tuples(path, rows):
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    assert text.lstrip().startswith("{"), "JSONL: the first line must be a JSON object, not a comment"
    assert len(rows) == len(lines) >= MIN_SENTENCES
    first = rows[0]
    assert first["words"] == ["The", "dog", "chased", "the", "ball", "because", "it", "was", "bored", "."]
    assert first["relations"]["pronoun->antecedent"] == [(6, 1)]  # "it" -> "dog"
    assert first["relations"]["determiner->noun"] == [(0, 1), (3, 4)]
    assert all(isinstance(p, tuple) for row in rows for ps in row["relations"].values() for p in ps)


def test_every_line_is_one_object_with_each_key_once(path):
    def no_duplicates(items):
        keys = [k for k, _ in items]
        assert len(keys) == len(set(keys)), f"repeated key in {keys}"
        return dict(items)

    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        row = json.loads(line, object_pairs_hook=no_duplicates)
        assert set(row) == {"words", "nouns", "pronouns", "relations"}, f"line {k + 1}"


def test_schema_indices_and_relation_names(rows):
    for k, row in enumerate(rows):
        words, n = row["words"], len(row["words"])
        assert all(isinstance(w, str) and w and not any(c.isspace() for c in w) for w in words), where(k, row)
        for field in ("nouns", "pronouns"):
            idx = row[field]
            assert idx == sorted(set(idx)), f"{field} not sorted/unique, {where(k, row)}"
            assert all(isinstance(i, int) and 0 <= i < n for i in idx), f"{field}, {where(k, row)}"
        assert not set(row["nouns"]) & set(row["pronouns"]), where(k, row)
        assert set(row["relations"]) <= set(RELATIONS), where(k, row)
        for name, ps in row["relations"].items():
            assert ps, f"empty {name}: omit it instead, {where(k, row)}"
            assert len(ps) == len(set(ps)), f"repeated pair in {name}, {where(k, row)}"
            for pair in ps:
                assert len(pair) == 2 and all(isinstance(i, int) and 0 <= i < n for i in pair), where(k, row)
                assert pair[0] != pair[1], f"{name} {pair} points at itself, {where(k, row)}"


def test_sentences_are_distinct_and_of_the_stated_length(rows):
    texts = [" ".join(row["words"]).lower() for row in rows]
    assert len(set(texts)) == len(texts)
    for k, row in enumerate(rows):
        real_words = [w for w in row["words"] if any(c.isalnum() for c in w)]
        assert 6 <= len(real_words) <= 25, where(k, row)
        assert row["words"][-1] in {".", "?", "!"}, where(k, row)


# -- the words are BERT's words -------------------------------------------------------------------


def test_words_round_trip_through_the_bert_pre_tokenizer(rows, tokenizer):
    for k, row in enumerate(rows):
        split = [w for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(" ".join(row["words"]))]
        assert split == row["words"], where(k, row)


def test_every_word_gets_word_pieces(rows, tokenizer):
    for k, row in enumerate(rows):
        ids = [i for i in tokenizer.encode(" ".join(row["words"])).word_ids if i is not None]
        assert sorted(set(ids)) == list(range(len(row["words"]))), where(k, row)


# -- enough of everything -------------------------------------------------------------------------


def test_enough_sentences_and_instances_per_relation(rows):
    counts = Counter({name: 0 for name in RELATIONS})
    for row in rows:
        for name, ps in row["relations"].items():
            counts[name] += len(ps)
    assert len(rows) >= MIN_SENTENCES
    short = {name: c for name, c in counts.items() if c < MIN_PER_RELATION}
    assert not short, f"fewer than {MIN_PER_RELATION} instances: {short}"


# -- each relation's words are of the right kind --------------------------------------------------


def test_dependents_come_from_closed_lists(rows):
    closed = {"determiner->noun": DETERMINERS, "auxiliary->verb": AUXILIARIES,
              "pronoun->antecedent": ANAPHORS, "possessive->noun": POSSESSIVES}
    for k, row in enumerate(rows):
        for name, allowed in closed.items():
            for d, _ in pairs(row, name):
                assert lower(row, d) in allowed, f"{name}: {row['words'][d]!r}, {where(k, row)}"
        for i in row["pronouns"]:
            assert lower(row, i) in PRONOUNS, f"pronoun {row['words'][i]!r}, {where(k, row)}"


def test_heads_that_must_be_nouns_are_listed_nouns(rows):
    for k, row in enumerate(rows):
        nouns, pronouns = set(row["nouns"]), set(row["pronouns"])
        for name in ("determiner->noun", "adjective->noun", "possessive->noun", "pronoun->antecedent"):
            for d, h in pairs(row, name):
                assert h in nouns, f"{name} {row['words'][d]!r} -> {row['words'][h]!r}, {where(k, row)}"
        for d, h in pairs(row, "preposition->object"):
            assert h in nouns or h in pronouns, f"{row['words'][d]!r} -> {row['words'][h]!r}, {where(k, row)}"
        for d, h in pairs(row, "pronoun->antecedent"):
            assert d in pronouns, where(k, row)
        for name, side in (("subject->verb", 0), ("verb->object", 1)):
            for pair in pairs(row, name):
                assert pair[side] in nouns or pair[side] in pronouns, f"{name} {pair}, {where(k, row)}"


def test_nouns_and_verbs_are_not_function_words(rows):
    function_words = DETERMINERS | AUXILIARIES | PRONOUNS
    for k, row in enumerate(rows):
        for i in row["nouns"]:
            assert lower(row, i) not in function_words and row["words"][i].isalpha(), where(k, row)
        verbs = {h for _, h in pairs(row, "subject->verb")} | {v for v, _ in pairs(row, "verb->object")}
        assert not verbs & set(row["nouns"]), f"a word is both verb and noun, {where(k, row)}"
        assert not any(lower(row, v) in DETERMINERS | PRONOUNS for v in verbs), where(k, row)


def test_auxiliaries_attach_to_verbs_with_a_subject(rows):
    for k, row in enumerate(rows):
        verbs_with_subject = {h for _, h in pairs(row, "subject->verb")}
        for d, h in pairs(row, "auxiliary->verb"):
            assert h in verbs_with_subject, f"{row['words'][d]!r} -> {row['words'][h]!r}, {where(k, row)}"
            assert lower(row, h) not in AUXILIARIES, f"an auxiliary is not a main verb, {where(k, row)}"


def test_verb_subject_is_subject_verb_reversed(rows):
    for k, row in enumerate(rows):
        forward = sorted(pairs(row, "subject->verb"))
        backward = sorted((s, v) for v, s in pairs(row, "verb->subject"))
        assert forward == backward, where(k, row)


def test_one_head_per_dependent(rows):
    for k, row in enumerate(rows):
        for name, ps in row["relations"].items():
            dependents = [d for d, _ in ps]
            assert len(dependents) == len(set(dependents)), f"{name}, {where(k, row)}"


def test_word_order_of_english_modifiers(rows):
    """Determiners, attributive adjectives, possessives, prepositions and auxiliaries come before
    their head in this set (no questions without "did", no stranded prepositions); antecedents come
    before their pronoun (no cataphora was written)."""
    before_head = ("determiner->noun", "adjective->noun", "possessive->noun", "preposition->object",
                   "auxiliary->verb", "subject->verb")
    for k, row in enumerate(rows):
        for name in before_head:
            for d, h in pairs(row, name):
                assert d < h, f"{name} {row['words'][d]!r} -> {row['words'][h]!r}, {where(k, row)}"
        for d, h in pairs(row, "pronoun->antecedent"):
            assert h < d, f"antecedent after {row['words'][d]!r}, {where(k, row)}"


def test_nothing_obvious_is_left_unannotated(rows):
    """Articles are always determiners, my/your/our/their/its/his always possessives here, and every
    third-person pronoun has its antecedent: an annotator who skipped one would fail this."""
    for k, row in enumerate(rows):
        det = {d for d, _ in pairs(row, "determiner->noun")}
        poss = {d for d, _ in pairs(row, "possessive->noun")}
        anaphora = {d for d, _ in pairs(row, "pronoun->antecedent")}
        for i, w in enumerate(row["words"]):
            w = w.lower()
            assert w not in ARTICLES or i in det, f"{w!r} at {i}, {where(k, row)}"
            assert w not in ONLY_POSSESSIVE or i in poss, f"{w!r} at {i}, {where(k, row)}"
            assert w not in ANAPHORS or i in anaphora, f"{w!r} at {i}, {where(k, row)}"
            assert w not in PRONOUNS or i in row["pronouns"], f"{w!r} at {i}, {where(k, row)}"


# -- the coreference baselines are not already good -----------------------------------------------


def test_baseline_guesses_on_a_hand_example():
    row = {"words": "The man put the keys on the table , but he lost them .".split(),
           "nouns": [1, 4, 7], "relations": {"pronoun->antecedent": [(10, 1), (12, 4)]}}
    assert first_noun_guess(row, 12) == 1 and nearest_preceding_noun_guess(row, 12) == 7
    assert nearest_preceding_noun_guess(row, 1) is None
    assert baseline_accuracy([row], first_noun_guess) == 0.5
    assert baseline_accuracy([row], nearest_preceding_noun_guess) == 0.0


def test_coreference_baselines_score_below_the_ceiling(rows):
    first = baseline_accuracy(rows, first_noun_guess)
    nearest = baseline_accuracy(rows, nearest_preceding_noun_guess)
    assert first < BASELINE_CEILING, f"first noun {first:.3f}"
    assert nearest < BASELINE_CEILING, f"nearest preceding noun {nearest:.3f}"
    # and the positions really vary: some antecedents are neither the first nor the nearest noun
    neither = sum(
        h != first_noun_guess(row, d) and h != nearest_preceding_noun_guess(row, d)
        for row in rows for d, h in pairs(row, "pronoun->antecedent")
    )
    assert neither >= 20, neither
