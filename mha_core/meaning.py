"""Does any MiniLM head relate words by meaning? Measured held-out against baselines, as ``relations`` does.

The question. From a noun, does some head's most-attended word (``relations.predictions``: word-level attention,
[CLS]/[SEP] and the word itself excluded) land on the word of the sentence that is related to it in meaning,
when that word is neither its syntactic partner nor reachable by a position rule?

The definition. Each probe sentence (``data/meaning.jsonl``, written for this project) holds two pairs of nouns,
each pair from one everyday topic ("cello" and "violin": music; "nurse" and "hospital": medicine), and no other
word of either topic. A noun's *meaning partner* is the other noun of its topic; every other noun in the sentence
belongs to neither topic. MiniLM itself agrees: embedding each noun alone (``MiniLM.sentence_embedding``), the
partner is the query's most similar noun in the sentence for 130 of the 132 items. The two nouns of a pair never
attach to each other (no dependency arc either way: the partner is never the query's syntactic head or
dependent) and never share a stem or a referent; they sit in different clauses, except in two sentences where
they are two separate dependents of one verb ("the chef ... praised the kitchen", "near the clinic ... told a
doctor").

The layout defeats position rules. Each pair is asked both ways (cello -> violin, violin -> cello), so the partner
lies on the right for half the items and on the left for the other half, 6 to 20 words away. The pairs
interleave (cello ... stadium ... violin ... match), so between a noun and its partner there is always a noun of
the other topic: an unrelated word of the same part of speech, nearer to the query. An unrelated noun opens and
another closes every sentence ("Last week the cello ... that evening"), so the first, last and farthest nouns are
never the partner, and most sentences hold a third one between the pairs. A rule that ignores the query word
(one salient word per sentence) is right for at most one item in four.

Baselines, rules that know the nouns but not the topics: the best fixed offset (-5..+5, chosen on the selection
half); the nearest noun (which is the nearest word of the same part of speech: every query is a noun), the
nearest noun on the left and on the right, the second-nearest noun on the left and on the right, the first, the
last and the farthest noun, the nearest noun across a comma (in another clause, roughly), the nearest noun with
the same grammatical role (subject, object, after a preposition), the nearest noun of the same number (singular
or plural) and the longest other noun (rare words are long). The offset is chosen on the selection half; the
other rules have nothing to tune, and the best of them on the report half is the one the head must beat (as
``relations.evaluate`` does: that can only favour the baseline).

The held-out test and the label rule are ``relations``' own: sentences split by line order (``split_halves``:
lines 1, 3, 5, ... choose the head, lines 2, 4, 6, ... measure it), a 95% Wilson interval, and ``earns_label``:
held-out accuracy above 0.5, at least 5 points above the best baseline, one-sided exact McNemar p below 0.01.

For context only (neither chooses nor labels anything): ``chance_accuracy``, a noun picked at random from the
other nouns; ``embedding_accuracy``, how often the other noun whose MiniLM input embedding (the word-piece
embedding table, averaged over a word's pieces; no position, no context) is most cosine-similar to the query's is
its partner; and ``best_report_accuracy``, the best of the 72 heads on the report half itself, an optimistic
ceiling since that head is chosen on the data that measures it.

``meaning_head_of(model)`` answers for MiniLM (``models.load_model("minilm")``): a few seconds on a laptop CPU,
then kept for the process; ``describe(result)`` says it in one sentence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import torch

from .relations import (
    OFFSETS,
    earns_label,
    json_line,
    mcnemar_p,
    predictions,
    probe_attention_of,
    split_halves,
    wilson_interval,
)

#: The shipped meaning probe set: one JSON object per line.
MEANING_SET = resources.files("mha_core") / "data/meaning.jsonl"
#: A noun's grammatical role, for the same-role baseline: subject, direct object, object of a preposition, other
#: (a bare time noun such as "all morning").
ROLES = ("subject", "object", "oblique", "other")


class MeaningSetError(ValueError):
    """The meaning probe set is missing or malformed (one sentence saying where and what)."""


# -- the probe set ---------------------------------------------------------------


@dataclass(frozen=True)
class MeaningSentence:
    """One probe sentence: its words, its nouns (word indices) with their roles, and its topic pairs."""

    words: tuple[str, ...]
    nouns: tuple[int, ...]
    roles: tuple[str, ...]  # one per noun, in the order of ``nouns``
    plural: tuple[int, ...]  # the nouns that are plural
    topics: tuple[str, ...]  # one per pair
    pairs: tuple[tuple[int, int], ...]  # the two nouns of each topic, word indices

    @property
    def text(self) -> str:
        return " ".join(self.words)  # the words are BERT's pre-tokenizer words

    @property
    def items(self) -> tuple[tuple[int, int], ...]:
        """(query, partner) word indices: each pair asked both ways, in pair order."""
        return tuple(item for a, b in self.pairs for item in ((a, b), (b, a)))

    def role(self, word: int) -> str:
        return self.roles[self.nouns.index(word)]


def load_meaning_set(path: str | Path | None = None) -> list[MeaningSentence]:
    """The sentences of ``path`` (default: the shipped ``mha_core/data/meaning.jsonl``), in line order."""
    source = MEANING_SET if path is None else Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MeaningSetError(f"the meaning probe set {source} does not exist; reinstall mha-explainer or give "
                              f"another file") from None
    except OSError as err:
        raise MeaningSetError(f"cannot read the meaning probe set {source} ({err.strerror or err})") from None
    sentences = [parse_meaning_line(line, f"{source} line {number}")
                 for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not sentences:
        raise MeaningSetError(f"the meaning probe set {source} holds no sentences")
    return sentences


def parse_meaning_line(line: str, where: str = "meaning line") -> MeaningSentence:
    """One JSON line ``{"words", "nouns", "roles", "plural", "topics", "pairs"}``, checked."""
    obj, words = json_line(line, where, MeaningSetError)

    def index(value) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(words):
            raise MeaningSetError(f"{where}: {value!r} is not a word index 0-{len(words) - 1}")
        return value

    nouns, roles, plural, topics, pairs = (obj.get(key) for key in ("nouns", "roles", "plural", "topics", "pairs"))
    if not isinstance(nouns, list) or not isinstance(roles, list) or len(nouns) != len(roles):
        raise MeaningSetError(f"{where}: nouns and roles must be lists of the same length")
    nouns = tuple(index(i) for i in nouns)
    if list(nouns) != sorted(set(nouns)):
        raise MeaningSetError(f"{where}: nouns must be word indices in increasing order, each once")
    if not all(role in ROLES for role in roles):
        raise MeaningSetError(f"{where}: a role must be one of {', '.join(ROLES)}")
    if not isinstance(plural, list) or not set(plural := tuple(index(i) for i in plural)) <= set(nouns):
        raise MeaningSetError(f"{where}: plural must list the plural nouns (word indices among nouns)")
    if not isinstance(pairs, list) or not pairs or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise MeaningSetError(f"{where}: pairs must be a non-empty list of [noun, noun] pairs")
    pairs = tuple((index(a), index(b)) for a, b in pairs)
    members = [w for pair in pairs for w in pair]
    if len(set(members)) != len(members) or not set(members) <= set(nouns):
        raise MeaningSetError(f"{where}: each pair holds two different nouns, and no noun is in two pairs")
    if not isinstance(topics, list) or len(topics) != len(pairs) or not all(isinstance(t, str) for t in topics):
        raise MeaningSetError(f"{where}: topics must name each pair's topic, one string per pair")
    return MeaningSentence(words=tuple(words), nouns=nouns, roles=tuple(roles), plural=plural, topics=tuple(topics),
                           pairs=pairs)


# -- scoring ---------------------------------------------------------------------


def item_hits(sentences: Sequence[MeaningSentence], attention: Sequence[torch.Tensor]) -> tuple[torch.Tensor, int]:
    """(hits ``[layer, head]``, n): how many of the n (query, partner) items each head's prediction gets right.

    ``attention[i]``: sentence i's word attention ``[layer, head, n_words, n_words]`` (``relations.word_attention``).
    """
    if len(sentences) != len(attention):
        raise ValueError(f"{len(sentences)} sentences but {len(attention)} attention maps.")
    hits, n = torch.zeros(attention[0].shape[:-2] if attention else (0, 0), dtype=torch.long), 0
    for sentence, A in zip(sentences, attention):
        if A.shape[-1] != len(sentence.words):
            raise ValueError(f"attention over {A.shape[-1]} words for a sentence of {len(sentence.words)}.")
        queries, partners = torch.tensor(sentence.items).T
        hits += (predictions(A)[..., queries] == partners).sum(dim=-1)
        n += len(sentence.items)
    return hits, n


def head_item_hits(sentences: Sequence[MeaningSentence], attention: Sequence[torch.Tensor], layer: int,
                   head: int) -> list[bool]:
    """Whether head (layer, head) predicts each item's partner, item by item in sentence order."""
    out = []
    for sentence, A in zip(sentences, attention, strict=True):
        predicted = predictions(A[layer, head])
        out += [bool(predicted[q] == p) for q, p in sentence.items]
    return out


Rule = Callable[[MeaningSentence, int], "int | None"]


def _offset(sentence: MeaningSentence, query: int, offset: int) -> int | None:
    target = query + offset
    return target if 0 <= target < len(sentence.words) else None


def _others(sentence: MeaningSentence, query: int) -> list[int]:
    return [i for i in sentence.nouns if i != query]


def _nearest(candidates: Sequence[int], query: int) -> int | None:
    return min(candidates, key=lambda i: (abs(i - query), i), default=None)  # a tie goes to the left


def _kth(candidates: Sequence[int], k: int) -> int | None:
    return candidates[k] if len(candidates) > k else None


def _rules() -> dict[str, Rule]:
    """The baselines: every fixed offset, then the noun rules (see the module doc)."""
    rules: dict[str, Rule] = {f"offset {o:+d}": functools.partial(_offset, offset=o) for o in OFFSETS}
    rules |= {
        "nearest noun": lambda s, q: _nearest(_others(s, q), q),
        "nearest noun on the left": lambda s, q: _kth([i for i in reversed(s.nouns) if i < q], 0),
        "nearest noun on the right": lambda s, q: _kth([i for i in s.nouns if i > q], 0),
        "second-nearest noun on the left": lambda s, q: _kth([i for i in reversed(s.nouns) if i < q], 1),
        "second-nearest noun on the right": lambda s, q: _kth([i for i in s.nouns if i > q], 1),
        "first noun": lambda s, q: _kth(_others(s, q), 0),
        "last noun": lambda s, q: _kth(_others(s, q)[::-1], 0),
        "farthest noun": lambda s, q: max(_others(s, q), key=lambda i: (abs(i - q), -i), default=None),
        "nearest noun across a comma": lambda s, q: _nearest(
            [i for i in _others(s, q) if "," in s.words[min(i, q):max(i, q)]], q),
        "nearest noun in the same role": lambda s, q: _nearest(
            [i for i in _others(s, q) if s.role(i) == s.role(q)], q),
        "nearest noun of the same number": lambda s, q: _nearest(
            [i for i in _others(s, q) if (i in s.plural) == (q in s.plural)], q),
        "longest noun": lambda s, q: max(_others(s, q), key=lambda i: (len(s.words[i]), -abs(i - q)), default=None),
    }
    return rules


#: The baselines' names, offsets first.
BASELINES = tuple(_rules())


def rule_item_hits(sentences: Sequence[MeaningSentence], name: str) -> list[bool]:
    """Whether baseline ``name`` predicts each item's partner, in the order of ``head_item_hits``."""
    rule = _rules()[name]
    return [rule(sentence, q) == p for sentence in sentences for q, p in sentence.items]


def baseline_hits(sentences: Sequence[MeaningSentence]) -> dict[str, tuple[int, int]]:
    """baseline name -> (hits, n) over the items of ``sentences``."""
    out = {}
    for name in BASELINES:
        hits = rule_item_hits(sentences, name)
        out[name] = (sum(hits), len(hits))
    return out


# -- held-out evaluation ---------------------------------------------------------


@dataclass(frozen=True)
class MeaningResult:
    """The meaning probe's best head (chosen on the selection half), measured on the report half.

    As ``relations.RelationResult``: 0-based ``layer``/``head``; ``accuracy`` over ``n`` report items with its 95%
    Wilson ``interval``; the best baseline and the paired test against it (``wins``: items the head gets right and
    the baseline wrong; ``losses``: the reverse); ``labelled``: ``relations.earns_label``. ``baselines``: every
    baseline's report-half accuracy (name, accuracy), the chosen offset first. Context, no part of the label:
    ``selection_accuracy`` (the head on the half that chose it), ``best_report_accuracy`` and
    ``best_report_head`` (the best head picked on the report half itself: optimistic), ``chance_accuracy`` (a
    random other noun, on average), ``embedding_accuracy`` (the input-embedding similarity rule on the report
    half; None when no model was given).
    """

    layer: int
    head: int
    accuracy: float
    interval: tuple[float, float]
    n: int
    baseline_name: str
    baseline_accuracy: float
    wins: int
    losses: int
    p_value: float
    labelled: bool
    baselines: tuple[tuple[str, float], ...]
    selection_accuracy: float
    best_report_accuracy: float
    best_report_head: tuple[int, int]
    chance_accuracy: float
    embedding_accuracy: float | None = None


def evaluate(sentences: Sequence[MeaningSentence], attention: Sequence[torch.Tensor]) -> MeaningResult:
    """The best head, chosen on the selection half (lines 1, 3, 5, ...) and measured on the report half."""
    if len(sentences) != len(attention):
        raise ValueError(f"{len(sentences)} sentences but {len(attention)} attention maps.")
    selection, report = split_halves(range(len(sentences)))
    if not selection or not report:
        raise MeaningSetError("the meaning probe set needs at least two sentences: one per half")
    layer, head, offset, selection_accuracy = choose([sentences[i] for i in selection],
                                                     [attention[i] for i in selection])  # the only look at them
    report_sentences, report_attention = [sentences[i] for i in report], [attention[i] for i in report]
    hits, n = item_hits(report_sentences, report_attention)
    right = int(hits[layer, head])
    baselines = baseline_hits(report_sentences)
    candidates = [offset] + [name for name in BASELINES if not name.startswith("offset")]
    base_name = max(candidates, key=lambda name: baselines[name][0])  # the first listed on a tie
    paired = zip(head_item_hits(report_sentences, report_attention, layer, head),
                 rule_item_hits(report_sentences, base_name), strict=True)
    outcomes = [mine for mine, theirs in paired if mine != theirs]
    wins, losses = sum(outcomes), len(outcomes) - sum(outcomes)
    p = mcnemar_p(wins, losses)
    accuracy, baseline = right / n, baselines[base_name][0] / n
    best = int(torch.argmax(hits.flatten()))
    return MeaningResult(
        layer=layer, head=head, accuracy=accuracy, interval=wilson_interval(right, n), n=n,
        baseline_name=base_name, baseline_accuracy=baseline, wins=wins, losses=losses, p_value=p,
        labelled=earns_label(accuracy, baseline, p),
        baselines=tuple((name, baselines[name][0] / n) for name in candidates),
        selection_accuracy=selection_accuracy, best_report_accuracy=int(hits.flatten()[best]) / n,
        best_report_head=(best // hits.shape[-1], best % hits.shape[-1]),
        chance_accuracy=sum(1 / len(_others(s, q)) for s in report_sentences for q, _ in s.items) / n,
    )


def choose(sentences: Sequence[MeaningSentence], attention: Sequence[torch.Tensor]) -> tuple[int, int, str, float]:
    """(layer, head, best offset's name, the head's accuracy) on these (selection) sentences: the most accurate
    head (ties: the lowest layer, then head) and offset (ties: the nearest)."""
    hits, n = item_hits(sentences, attention)
    best = int(torch.argmax(hits.flatten()))  # the first maximum
    offsets = baseline_hits(sentences)
    offset = max((f"offset {o:+d}" for o in OFFSETS), key=lambda name: offsets[name][0])
    return best // hits.shape[-1], best % hits.shape[-1], offset, int(hits.flatten()[best]) / n


# -- MiniLM ----------------------------------------------------------------------


def embedding_item_hits(model, sentences: Sequence[MeaningSentence]) -> list[bool]:
    """Whether the input-embedding rule picks each item's partner: the other noun whose word-piece embedding
    (MiniLM's table, mean over the word's pieces, no position or context) is most cosine-similar to the query's."""
    from .pretrained import as_minilm

    model = as_minilm(model, "the meaning probe")
    table = model.params["embeddings.word_embeddings.weight"].detach().to("cpu", torch.float64)

    def vector(word: str) -> torch.Tensor:
        ids = model.tokenizer.encode(word, add_special_tokens=False).ids
        return torch.nn.functional.normalize(table[ids].mean(dim=0), dim=0)

    out = []
    for s in sentences:
        for q, p in s.items:
            others = _others(s, q)
            similarity = [float(vector(s.words[q]) @ vector(s.words[i])) for i in others]
            out.append(others[max(range(len(others)), key=similarity.__getitem__)] == p)
    return out


def meaning_head_of(model, sentences: Sequence[MeaningSentence] | None = None) -> MeaningResult:
    """MiniLM's best meaning head, chosen and measured held-out (see the module doc), with the embedding rule's
    report-half accuracy for context. On the shipped set it is computed once per process."""
    if sentences is None:
        return _shipped(model)
    return _measure(model, list(sentences))


@functools.lru_cache(maxsize=2)
def _shipped(model) -> MeaningResult:
    return _measure(model, load_meaning_set())


def _measure(model, sentences: list[MeaningSentence]) -> MeaningResult:
    result = evaluate(sentences, probe_attention_of(model, sentences))
    _, report = split_halves(sentences)
    hits = embedding_item_hits(model, report)
    return replace(result, embedding_accuracy=sum(hits) / len(hits))


def held_out_accuracy(sentences: Sequence[MeaningSentence], attention: Sequence[torch.Tensor]) -> torch.Tensor:
    """Every head's accuracy ``[layer, head]`` on the report half (context: choosing by it is choosing on it)."""
    _, report = split_halves(range(len(sentences)))
    hits, n = item_hits([sentences[i] for i in report], [attention[i] for i in report])
    return hits.double() / n


def describe(result: MeaningResult) -> str:
    """One true sentence about the result, heads numbered from 1 (as the lesson numbers them)."""
    head = f"layer {result.layer + 1}, head {result.head + 1}"
    p = "p < 0.001" if result.p_value < 0.001 else f"p = {result.p_value:.2g}"
    numbers = (f"{result.accuracy:.0%} of {result.n} held-out items against {result.baseline_accuracy:.0%} for "
               f"the best rule ({result.baseline_name}), {p}")
    task = "attends from a noun to the other noun of its topic in the sentence (cello to violin)"
    if result.labelled:
        return f"One head, {head}, {task}: {numbers}."
    return f"No head passes the test: the best at it, {head}, {task} for {numbers}."
