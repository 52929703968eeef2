"""The meaning probe (mha_core.meaning): scoring on attention whose answer is known, the shipped probe set's design
(no model), and MiniLM's measured result.

Provenance of ``mha_core/data/meaning.jsonl``: 33 sentences written by hand for this project (no corpus), each
with two pairs of nouns from two everyday topics, interleaved, between an unrelated noun at the start and one at
the end; annotated by hand (nouns, their grammatical role, plural nouns, the pairs). See the module doc of
``mha_core.meaning`` for the definition and the baselines.
"""

import json

import pytest
import torch

from mha_core import load_model, meaning
from mha_core.meaning import (
    BASELINES,
    MeaningSentence,
    MeaningSetError,
    baseline_hits,
    describe,
    evaluate,
    item_hits,
    load_meaning_set,
    meaning_head_of,
    parse_meaning_line,
    rule_item_hits,
)
from mha_core.relations import ALPHA, MIN_MARGIN, mcnemar_p, split_halves

# "Last week the cello hit the stadium , so the violin missed the match that evening ."
#   0    1    2   3    4   5    6     7  8   9    10     11    12   13    14    15    16
HAND = MeaningSentence(
    words=tuple("Last week the cello hit the stadium , so the violin missed the match that evening .".split()),
    nouns=(1, 3, 6, 10, 13, 15), roles=("other", "subject", "object", "subject", "object", "other"),
    plural=(), topics=("music", "sport"), pairs=((3, 10), (6, 13)),
)
# The same shape, words moved: the partner of 2 is 9, of 5 is 12.
HAND2 = MeaningSentence(
    words=tuple("Today the nurse met the umbrella , and the hospital saw no rain in the evening .".split()),
    nouns=(0, 2, 5, 9, 12, 15), roles=("other", "subject", "object", "subject", "object", "oblique"),
    plural=(), topics=("medicine", "weather"), pairs=((2, 9), (5, 12)),
)
SENTENCES = [HAND, HAND2] * 4  # lines 1, 3, 5, 7 select; 2, 4, 6, 8 report (16 items each)
N_LAYER, N_HEAD = 3, 4


def noise(sentences, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [0.1 * torch.rand(N_LAYER, N_HEAD, len(s.words), len(s.words), generator=g, dtype=torch.float64)
            for s in sentences]


def plant(attention, sentences, layer, head, target):
    """Head (layer, head) attends from each query to ``target(sentence, query)``."""
    for s, A in zip(sentences, attention):
        for q, _ in s.items:
            A[layer, head, q, target(s, q)] = 1.0


def partner(s, q):
    return dict(s.items)[q]


# -- scoring on known answers ------------------------------------------------------------------


def test_items_ask_each_pair_both_ways():
    assert HAND.items == ((3, 10), (10, 3), (6, 13), (13, 6))


@pytest.mark.parametrize("name, query, expected", [
    ("offset +3", 3, 6),
    ("nearest noun", 3, 1),
    ("nearest noun on the left", 3, 1),
    ("nearest noun on the right", 3, 6),
    ("second-nearest noun on the left", 3, None),
    ("second-nearest noun on the right", 3, 10),
    ("first noun", 3, 1),
    ("last noun", 3, 15),
    ("farthest noun", 3, 15),
    ("nearest noun across a comma", 3, 10),
    ("nearest noun across a comma", 6, 10),
    ("nearest noun in the same role", 3, 10),
    ("nearest noun in the same role", 13, 6),
    ("nearest noun of the same number", 3, 1),
    ("longest noun", 3, 6),  # stadium and evening have 7 letters: the nearer one
    ("longest noun", 13, 15),
])
def test_each_baseline_on_a_hand_worked_sentence(name, query, expected):
    assert meaning._rules()[name](HAND, query) == expected


def test_the_same_number_rule_reads_the_plural_nouns():
    plural = MeaningSentence(HAND.words, HAND.nouns, HAND.roles, (3, 13), HAND.topics, HAND.pairs)
    assert meaning._rules()["nearest noun of the same number"](plural, 3) == 13


def test_rule_hits_follow_the_items():
    # across a comma: cello -> violin right, stadium -> violin wrong, violin -> stadium wrong, match -> stadium right
    assert rule_item_hits([HAND], "nearest noun across a comma") == [True, False, False, True]
    assert baseline_hits([HAND])["farthest noun"] == (0, 4)
    assert set(baseline_hits([HAND])) == set(BASELINES)


def test_item_hits_excludes_self_and_counts_per_head():
    attention = noise([HAND])
    plant(attention, [HAND], 2, 1, partner)
    attention[0][0, 0].fill_diagonal_(9.0)  # a head that looks only at itself predicts its second-best word
    hits, n = item_hits([HAND], attention)
    assert n == 4 and hits.shape == (N_LAYER, N_HEAD) and hits[2, 1] == 4


def test_a_planted_meaning_head_is_found_and_earns_the_label():
    attention = noise(SENTENCES)
    plant(attention, SENTENCES, 1, 2, partner)
    result = evaluate(SENTENCES, attention)
    assert (result.layer, result.head) == (1, 2) and result.accuracy == 1.0 and result.n == 16
    # the best rule here: the nearest noun in the same role, right on every item of these two sentences
    assert result.baseline_name == "nearest noun in the same role" and result.baseline_accuracy == 1.0
    assert not result.labelled  # ... so the head does nothing a rule does not
    assert result.selection_accuracy == 1.0 and result.best_report_head == (1, 2)
    assert result.chance_accuracy == pytest.approx(1 / 5)


def test_a_head_that_beats_every_rule_earns_the_label():
    # Roles that no longer give the partner away: the best rule is right on half the items at most.
    sentences = [MeaningSentence(s.words, s.nouns, ("other",) * 6, s.plural, s.topics, s.pairs) for s in SENTENCES]
    attention = noise(sentences)
    plant(attention, sentences, 1, 2, partner)
    result = evaluate(sentences, attention)
    assert (result.layer, result.head) == (1, 2) and result.accuracy == 1.0
    assert result.baseline_accuracy == 0.5 and (result.wins, result.losses) == (8, 0)
    assert result.p_value == mcnemar_p(8, 0) < ALPHA and result.labelled
    assert dict(result.baselines)[result.baseline_name] == result.baseline_accuracy
    assert "One head, layer 2, head 3" in describe(result)


def test_a_positional_head_does_not_earn_it():
    sentences = [MeaningSentence(s.words, s.nouns, ("other",) * 6, s.plural, s.topics, s.pairs) for s in SENTENCES]
    attention = noise(sentences)
    plant(attention, sentences, 0, 3, meaning._rules()["nearest noun across a comma"])
    result = evaluate(sentences, attention)
    assert (result.layer, result.head) == (0, 3) and result.accuracy == 0.5
    # the rule it follows is among the best rules (another, listed earlier, ties with it)
    assert result.baseline_accuracy == 0.5 == dict(result.baselines)["nearest noun across a comma"]
    assert result.wins <= result.losses and not result.labelled
    assert describe(result).startswith("No head passes the test")


def test_selection_never_sees_the_report_half(monkeypatch):
    attention = noise(SENTENCES)
    plant(attention, SENTENCES, 1, 2, partner)
    seen = []
    real = meaning.choose
    monkeypatch.setattr(meaning, "choose", lambda s, a: seen.append((list(s), list(a))) or real(s, a))
    before = evaluate(SENTENCES, attention)
    assert len(seen) == 1 and seen[0][0] == SENTENCES[0::2]
    assert [id(A) for A in seen[0][1]] == [id(A) for A in attention[0::2]]
    # another head perfect on the report half only: the choice stays, the measure follows the report half
    for i in split_halves(range(len(SENTENCES)))[1]:
        attention[i] = noise([SENTENCES[i]], seed=i)[0]
        plant(attention[i:i + 1], SENTENCES[i:i + 1], 2, 0, partner)
    after = evaluate(SENTENCES, attention)
    assert (after.layer, after.head) == (before.layer, before.head) == (1, 2)
    assert after.accuracy < 0.5 and after.best_report_head == (2, 0) and after.best_report_accuracy == 1.0


@pytest.mark.parametrize("line, message", [
    ("not json", "is not JSON"),
    ('{"words": ["a", "b c"]}', "words must be"),
    ('{"words": ["a", "b"], "nouns": [0, 1], "roles": ["subject"], "plural": [], "topics": ["x"], '
     '"pairs": [[0, 1]]}', "same length"),
    ('{"words": ["a", "b"], "nouns": [0, 1], "roles": ["subject", "boss"], "plural": [], "topics": ["x"], '
     '"pairs": [[0, 1]]}', "a role must be"),
    ('{"words": ["a", "b", "c"], "nouns": [0, 1], "roles": ["subject", "object"], "plural": [], "topics": ["x"], '
     '"pairs": [[0, 2]]}', "two different nouns"),
    ('{"words": ["a", "b"], "nouns": [0, 1], "roles": ["subject", "object"], "plural": [], "topics": [], '
     '"pairs": [[0, 1]]}', "topics must"),
    ('{"words": ["a", "b"], "nouns": [0, 1], "roles": ["subject", "object"], "plural": [5], "topics": ["x"], '
     '"pairs": [[0, 1]]}', "not a word index"),
])
def test_malformed_lines_are_one_clear_error(line, message):
    with pytest.raises(MeaningSetError, match=message):
        parse_meaning_line(line)


def test_a_missing_file_is_one_clear_error(tmp_path):
    with pytest.raises(MeaningSetError, match="does not exist"):
        load_meaning_set(tmp_path / "missing.jsonl")


# -- the shipped probe set's design (no model) ---------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return load_meaning_set()


def test_the_shipped_set_is_large_enough_and_unique(shipped):
    items = [(s, q, p) for s in shipped for q, p in s.items]
    assert len(shipped) == 33 and len(items) == 132
    assert len({s.text for s in shipped}) == len(shipped)
    lines = meaning.MEANING_SET.read_text(encoding="utf-8").splitlines()
    assert all(set(json.loads(line)) == {"words", "nouns", "roles", "plural", "topics", "pairs"} for line in lines)


def test_the_partner_is_never_the_nearest_noun_nor_at_the_edges(shipped):
    for s in shipped:
        assert len(s.pairs) == 2 and len(set(s.topics)) == 2
        members = {w for pair in s.pairs for w in pair}
        assert s.nouns[0] not in members and s.nouns[-1] not in members, s.text  # an unrelated noun at each end
        for q, p in s.items:
            nearer = [i for i in s.nouns if i not in (q, p) and abs(i - q) < abs(p - q)]
            assert nearer, f"{s.words[q]} -> {s.words[p]}: no unrelated noun nearer to the query"
            a, b = s.words[q].lower(), s.words[p].lower()
            assert a[:4] != b[:4], f"{a} and {b} share a stem"


def test_the_partners_lie_on_both_sides_at_many_distances(shipped):
    offsets = [p - q for s in shipped for q, p in s.items]
    assert sum(o > 0 for o in offsets) == sum(o < 0 for o in offsets)
    distances = {abs(o) for o in offsets}
    assert min(distances) <= 6 and max(distances) >= 20 and len(distances) >= 10


def test_no_baseline_comes_near_the_partner(shipped):
    hits = baseline_hits(shipped)
    assert all(right / n <= 0.2 for right, n in hits.values()), hits
    for half in split_halves(shipped):
        assert all(right / n <= 0.25 for right, n in baseline_hits(half).values())


# -- MiniLM ----------------------------------------------------------------------------------


def test_minilm_agrees_with_the_annotation(shipped):
    """The partner is the query's most similar noun by MiniLM's own sentence embedding of each noun alone."""
    model = load_model("minilm")
    words = sorted({s.words[i].lower() for s in shipped for i in s.nouns})
    vectors = dict(zip(words, model.sentence_embedding(words)))
    agree = 0
    for s in shipped:
        for q, p in s.items:
            others = [i for i in s.nouns if i != q]
            best = max(others, key=lambda i: float(vectors[s.words[q].lower()] @ vectors[s.words[i].lower()]))
            agree += best == p
    assert agree >= 130  # of 132, as the module doc says


# The declared result (all-MiniLM-L6-v2 on the shipped set, CPU float32): heads 0-based here, as in the API.
DECLARED = {"layer": 4, "head": 3, "n": 64, "hits": 37, "baseline_name": "longest noun", "baseline_hits": 10}


def test_minilm_has_a_meaning_head_as_declared():
    model = load_model("minilm")
    result = meaning_head_of(model)
    assert meaning_head_of(model) is result  # kept for the process
    assert (result.layer, result.head, result.n) == (DECLARED["layer"], DECLARED["head"], DECLARED["n"])
    assert result.accuracy == DECLARED["hits"] / DECLARED["n"]
    assert result.baseline_name == DECLARED["baseline_name"]
    assert result.baseline_accuracy == DECLARED["baseline_hits"] / DECLARED["n"]
    assert result.accuracy - result.baseline_accuracy >= MIN_MARGIN and result.p_value < 1e-4 and result.labelled
    low, high = result.interval
    assert low <= result.accuracy <= high and low > result.baseline_accuracy
    assert result.chance_accuracy < 0.2 and result.embedding_accuracy > 0.9
    assert result.best_report_accuracy >= result.accuracy
    assert describe(result).startswith("One head, layer 5, head 4, attends from a noun to the other noun")
