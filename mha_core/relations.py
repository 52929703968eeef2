"""Which MiniLM heads track which word-to-word relation, measured held-out against baselines (Clark et al. 2019).

The method of Clark et al. 2019, "What does BERT look at?", section 4.2, on a probe set of
annotated sentences (``data/relations.jsonl``):

    word attention   token attention [head, n_tok, n_tok] -> [head, n_words, n_words]: attention TO a
                     split word is the sum over its pieces, attention FROM it the mean over its pieces;
                     [CLS] and [SEP] are dropped (so rows no longer sum to 1)
    prediction       a head predicts, for each word, the other word it attends to most (itself excluded,
                     as in Clark et al.'s code)
    accuracy         for a relation, the fraction of its (dependent, head word) pairs whose dependent's
                     prediction is the head word
    baselines        the best fixed offset (-5..+5, not 0); for pronoun->antecedent also the nearest
                     preceding noun and the first noun

Held out: the sentences are split by line order, lines 1, 3, 5, ... (index 0, 2, 4, ...) for selection and
lines 2, 4, 6, ... for the report. The best head and the best offset of each relation are chosen on the
selection half only; the accuracies shown are the report half's, with a 95% Wilson interval. A head earns a
relation's name only when that held-out accuracy is above ``MIN_ACCURACY``, at least ``MIN_MARGIN`` above the
best baseline's, and the difference holds up on the same pairs: a one-sided exact McNemar test (on the pairs
one gets right and the other wrong) below ``ALPHA``. With 72 heads to choose from, some head matches any
relation a little by chance; the choice is made on the other half, so the test sees one head per relation.

The measurements take the model (``models.load_model("minilm")``): ``probe_attention_of``, ``best_head_of``,
``relation_heads_of``, ``head_table_of``.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

#: The relations of the probe set, in the order results are reported. "a->b": attention from a to b.
RELATIONS = (
    "pronoun->antecedent",
    "determiner->noun",
    "adjective->noun",
    "subject->verb",
    "verb->subject",
    "verb->object",
    "preposition->object",
    "possessive->noun",
    "auxiliary->verb",
)

# The label rule. More than half right means the head gets most instances right, not merely more than any other
# head. Beating the best baseline on the same held-out pairs, significantly (one-sided exact McNemar test, p below
# ALPHA) and by at least MIN_MARGIN, means it does something position alone does not, and by enough to matter:
# a fixed margin alone ignores how many pairs there are (0.95 against 0.82 on 168 pairs is no accident).
MIN_ACCURACY = 0.5
MIN_MARGIN = 0.05
ALPHA = 0.01
# Relative offsets tried as the positional baseline, nearest first (ties go to the nearer offset).
OFFSETS = tuple(sorted((o for o in range(-5, 6) if o != 0), key=lambda o: (abs(o), o)))
Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile: a two-sided 95% interval

#: The shipped probe set: one JSON object per line.
PROBE_SET = resources.files("mha_core") / "data/relations.jsonl"


class ProbeSetError(ValueError):
    """The probe set is missing or malformed (one sentence saying where and what)."""


# -- the probe set ---------------------------------------------------------------


@dataclass(frozen=True)
class ProbeSentence:
    """One annotated sentence: its words, which words are nouns, and each relation's (dependent, head) pairs."""

    words: tuple[str, ...]
    nouns: tuple[int, ...]
    relations: tuple[tuple[str, tuple[tuple[int, int], ...]], ...]  # one entry per RELATIONS name, in order

    @property
    def text(self) -> str:
        # The words are BERT's pre-tokenizer words, so joining by spaces gives them back.
        return " ".join(self.words)

    def pairs(self, relation: str) -> tuple[tuple[int, int], ...]:
        """The (dependent, head) word indices of ``relation`` (0-based; empty when the sentence has none)."""
        return dict(self.relations)[relation]


def relation_name(relation: str) -> str:
    """'pronoun->antecedent' -> 'pronoun → antecedent': a relation as the video and the page name it."""
    return relation.replace("->", " \u2192 ")


def load_probe_set(path: str | Path | None = None) -> list[ProbeSentence]:
    """The probe sentences of ``path`` (default: the shipped ``mha_core/data/relations.jsonl``), in line order."""
    source = PROBE_SET if path is None else Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProbeSetError(f"the probe set {source} does not exist; reinstall mha-explainer or give another file") \
            from None
    except OSError as err:
        raise ProbeSetError(f"cannot read the probe set {source} ({err.strerror or err})") from None
    sentences = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            sentences.append(parse_probe_line(line, f"{source} line {number}"))
    if not sentences:
        raise ProbeSetError(f"the probe set {source} holds no sentences")
    return sentences


def json_line(line: str, where: str, error: type[ValueError]) -> tuple[dict, list[str]]:
    """A probe file's line as a JSON object, and its ``words`` (a non-empty list of words without spaces);
    ``error`` (the file's own error type) saying where and what is wrong otherwise."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise error(f"{where} is not JSON ({err.msg})") from None
    if not isinstance(obj, dict):
        raise error(f"{where} is not a JSON object")
    words = obj.get("words")
    if not isinstance(words, list) or not words or not all(isinstance(w, str) and w and w.split() == [w]
                                                             for w in words):
        raise error(f"{where}: words must be a non-empty list of words without spaces")
    return obj, words


def parse_probe_line(line: str, where: str = "probe line") -> ProbeSentence:
    """One JSON line ``{"words": [...], "nouns": [...], "relations": {name: [[dep, head], ...]}}``, checked."""
    obj, words = json_line(line, where, ProbeSetError)
    n = len(words)

    def index(value) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
            raise ProbeSetError(f"{where}: {value!r} is not a word index 0-{n - 1}")
        return value

    nouns = obj.get("nouns", [])
    if not isinstance(nouns, list):
        raise ProbeSetError(f"{where}: nouns must be a list of word indices")
    relations = obj.get("relations", {})
    if not isinstance(relations, dict):
        raise ProbeSetError(f"{where}: relations must be an object of relation name -> [[dep, head], ...]")
    unknown = sorted(set(relations) - set(RELATIONS))
    if unknown:
        raise ProbeSetError(f"{where}: unknown relation {unknown[0]!r}; known are {', '.join(RELATIONS)}")
    pairs = {}
    for name in RELATIONS:
        found = relations.get(name, [])
        if not isinstance(found, list) or not all(isinstance(p, list) and len(p) == 2 for p in found):
            raise ProbeSetError(f"{where}: {name} must be a list of [dep, head] pairs")
        checked = tuple((index(dep), index(head)) for dep, head in found)
        if any(dep == head for dep, head in checked):
            raise ProbeSetError(f"{where}: {name} pairs a word with itself")
        pairs[name] = checked
    return ProbeSentence(
        words=tuple(words), nouns=tuple(index(i) for i in nouns), relations=tuple(pairs.items())
    )


def split_halves(items: Sequence) -> tuple[list, list]:
    """(selection, report): items 0, 2, 4, ... choose heads and offsets; items 1, 3, 5, ... measure them.

    Alternating by line order, not cutting the file in two, keeps both halves alike when the probe
    set is written relation by relation.
    """
    return list(items[0::2]), list(items[1::2])


# -- word-level attention --------------------------------------------------------


def word_attention(attention: torch.Tensor, word_ids: Sequence[int | None]) -> torch.Tensor:
    """Token attention ``[..., n_tok, n_tok]`` -> word attention ``[..., n_words, n_words]`` (float64, CPU).

    ``word_ids[t]`` is token t's word (None for [CLS], [SEP]): as Clark et al., attention TO a word is
    summed over its pieces and attention FROM a word averaged over its pieces; special tokens are dropped.
    """
    A = attention.detach().to("cpu", torch.float64)
    if A.shape[-1] != len(word_ids) or A.shape[-2] != len(word_ids):
        raise ValueError(f"attention is {list(A.shape)} but there are {len(word_ids)} word ids.")
    n_words = 1 + max((w for w in word_ids if w is not None), default=-1)
    pieces = torch.zeros(n_words, len(word_ids), dtype=torch.float64)  # [word, token]: 1 where token is in word
    for t, w in enumerate(word_ids):
        if w is not None:
            pieces[w, t] = 1.0
    counts = pieces.sum(dim=-1, keepdim=True)
    if (counts == 0).any():
        raise ValueError(f"word {int((counts[:, 0] == 0).nonzero()[0])} has no token.")
    to_words = A @ pieces.T  # [..., n_tok, n_words]: sum over each key word's pieces
    return (pieces / counts) @ to_words  # [..., n_words, n_words]: mean over each query word's pieces


def probe_attention_of(model, sentences: Sequence[ProbeSentence]) -> list[torch.Tensor]:
    """MiniLM's word attention on each sentence: ``[layer, head, n_words, n_words]`` (float64, CPU) per sentence."""
    from .pretrained import as_minilm

    return list(_probe_attention(as_minilm(model, "the relation probe"), tuple(s.words for s in sentences)))


@functools.lru_cache(maxsize=2)
def _probe_attention(model, sentences: tuple[tuple[str, ...], ...]) -> tuple[torch.Tensor, ...]:
    # Cached so that relation_heads and head_table (and a lesson asking again) pay for one pass over the probe
    # set, and kept on disk (mha_core.store) so that each new process (a course's chapter, a worker) does not
    # pay for it again: a pure function of the verified model, the sentences, this code, the device kind and
    # the dtype.
    from . import attention, pretrained, store

    code = store.source_hash(sys.modules[__name__], pretrained, attention)
    key = store.key_of(pretrained.OFFICIAL_SHA256, sentences, code, torch.__version__, model.device.type,
                       str(model.dtype))
    tensors = store.remembered(
        "probe-attention", key,
        lambda: {str(i): a for i, a in enumerate(_measure_probe_attention(model, sentences))},
        check=lambda t: _a_probe_attention(t, model, sentences))
    return tuple(tensors[str(i)] for i in range(len(sentences)))


def _a_probe_attention(tensors: dict, model, sentences) -> bool:
    # What _measure_probe_attention returns: read back from disk, anything else is computed again.
    if set(tensors) != {str(i) for i in range(len(sentences))}:
        return False
    for i, words in enumerate(sentences):
        a = tensors[str(i)]
        if a.dtype != torch.float64 or tuple(a.shape) != (model.n_layer, model.n_head, len(words), len(words)):
            return False
        # Weights: each row's words share at most 1 (the special tokens take the rest).
        if not (torch.isfinite(a).all() and (a >= 0).all() and (a.sum(-1) <= 1 + 1e-6).all()):
            return False
    return True


def _measure_probe_attention(model, sentences: tuple[tuple[str, ...], ...]) -> tuple[torch.Tensor, ...]:
    # Batches of similar length, so padding costs little.
    encodings = [model.tokenizer.encode(" ".join(words)) for words in sentences]
    for number, (words, enc) in enumerate(zip(sentences, encodings), 1):
        # Each word must be exactly one of BERT's pre-tokenizer words: compare their character spans.
        spans = [(start, start + len(w)) for start, w in zip(_starts(words), words)]
        found = 1 + max((w for w in enc.word_ids if w is not None), default=-1)
        if found != len(words) or [tuple(enc.word_to_chars(i)) for i in range(found)] != spans:
            raise ProbeSetError(
                f"probe sentence {number} ({' '.join(words)!r}): its {len(words)} words are not BERT's "
                f"pre-tokenizer words (it finds {found}); split words at spaces and punctuation as BERT does"
            )
    order = sorted(range(len(sentences)), key=lambda i: len(encodings[i].ids))
    out: list[torch.Tensor | None] = [None] * len(sentences)
    batch = 64
    for start in range(0, len(order), batch):
        chunk = order[start:start + batch]
        traces = model.trace_batch([" ".join(sentences[i]) for i in chunk])  # [layer][sentence]
        for b, i in enumerate(chunk):
            if traces[0][b].tokens != tuple(encodings[i].tokens):
                raise RuntimeError(f"probe sentence {i + 1} was tokenised two different ways.")
            weights = torch.stack([traces[layer][b].weights for layer in range(model.n_layer)])  # [L, H, T, T]
            out[i] = word_attention(weights, encodings[i].word_ids)
    return tuple(out)


def _starts(words: Sequence[str]) -> list[int]:
    """Where each word starts in ``" ".join(words)``."""
    starts, at = [], 0
    for word in words:
        starts.append(at)
        at += len(word) + 1
    return starts


# -- scoring ---------------------------------------------------------------------


def predictions(attention: torch.Tensor) -> torch.Tensor:
    """Each word's most-attended other word: ``[..., n_words, n_words]`` -> ``[..., n_words]``.

    Attention to itself is ignored, as Clark et al. do ("ignore attention to self", attn_head_predictor in
    their attention-analysis code): a word is never its own head, and many heads park weight on the query's
    own position. Ties go to the first word.
    """
    scores = attention.clone()
    scores.diagonal(dim1=-2, dim2=-1).fill_(-math.inf)
    return scores.argmax(dim=-1)


def head_hits(sentences: Sequence[ProbeSentence], attention: Sequence[torch.Tensor]) -> dict[str, tuple]:
    """relation -> (hits ``[layer, head]``, n): how many of its n pairs each head predicts right."""
    if len(sentences) != len(attention):
        raise ValueError(f"{len(sentences)} sentences but {len(attention)} attention maps.")
    shape = attention[0].shape[:-2] if attention else (0, 0)  # [layer, head]
    hits = {r: torch.zeros(shape, dtype=torch.long) for r in RELATIONS}
    counts = {r: 0 for r in RELATIONS}
    for sentence, A in zip(sentences, attention):
        if A.shape[-1] != len(sentence.words):
            raise ValueError(f"attention over {A.shape[-1]} words for a sentence of {len(sentence.words)}.")
        predicted = predictions(A)  # [layer, head, word]
        for r in RELATIONS:
            pairs = sentence.pairs(r)
            if pairs:
                deps, heads = torch.tensor(pairs).T
                hits[r] += (predicted[..., deps] == heads).sum(dim=-1)
                counts[r] += len(pairs)
    return {r: (hits[r], counts[r]) for r in RELATIONS}


def head_pair_hits(sentences: Sequence[ProbeSentence], attention: Sequence[torch.Tensor], relation: str,
                   layer: int, head: int) -> list[bool]:
    """Whether head (layer, head) predicts each of ``relation``'s pairs right, pair by pair in sentence order."""
    hits = []
    for sentence, A in zip(sentences, attention, strict=True):
        predicted = predictions(A[layer, head])  # [word]
        hits += [bool(predicted[dep] == target) for dep, target in sentence.pairs(relation)]
    return hits


def _rules(relation: str) -> dict:
    """The baselines of ``relation``: every offset, and for pronoun->antecedent the noun rules."""
    rules = {f"offset {o:+d}": functools.partial(_offset, offset=o) for o in OFFSETS}
    if relation == "pronoun->antecedent":
        rules |= {"nearest preceding noun": _nearest_preceding_noun, "first noun": _first_noun}
    return rules


def rule_pair_hits(sentences: Sequence[ProbeSentence], relation: str, name: str) -> list[bool]:
    """Whether baseline ``name`` predicts each of ``relation``'s pairs right, in the order of ``head_pair_hits``."""
    rule = _rules(relation)[name]
    return [rule(sentence, dep) == target for sentence in sentences for dep, target in sentence.pairs(relation)]


def baseline_hits(sentences: Sequence[ProbeSentence], relation: str) -> dict[str, tuple[int, int]]:
    """baseline name -> (hits, n) on ``relation``: every offset, and for pronoun->antecedent the noun rules."""
    out = {}
    for name in _rules(relation):
        hits = rule_pair_hits(sentences, relation, name)
        out[name] = (sum(hits), len(hits))
    return out


def _offset(sentence: ProbeSentence, dep: int, offset: int) -> int | None:
    target = dep + offset
    return target if 0 <= target < len(sentence.words) else None  # off the sentence: no prediction, wrong


def _nearest_preceding_noun(sentence: ProbeSentence, dep: int) -> int | None:
    return max((i for i in sentence.nouns if i < dep), default=None)


def _first_noun(sentence: ProbeSentence, dep: int) -> int | None:
    return min((i for i in sentence.nouns if i != dep), default=None)


def wilson_interval(hits: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion hits/n (95% by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # The interval always contains p (at p = 1 its top is exactly 1); min/max undo rounding that says otherwise.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def mcnemar_p(wins: int, losses: int) -> float:
    """One-sided exact McNemar test on paired right/wrong outcomes: ``wins`` pairs the head gets right and the
    baseline wrong, ``losses`` the other way round. If neither were better, each of these wins + losses
    discordant pairs would be a fair coin: p = P(X >= wins), X ~ Binomial(wins + losses, 1/2); 1 when none differ."""
    if wins < 0 or losses < 0:
        raise ValueError(f"counts cannot be negative: {wins}, {losses}")
    n = wins + losses
    return math.fsum(math.comb(n, k) for k in range(wins, n + 1)) / 2 ** n


def earns_label(accuracy: float, baseline_accuracy: float, p_value: float) -> bool:
    """The label rule: held-out accuracy above MIN_ACCURACY, at least MIN_MARGIN over the best baseline, and
    the paired test's p (``mcnemar_p``) below ALPHA."""
    # The tolerance keeps 0.60 - 0.55 (0.0499999...) on the side of the rule it is meant to be on.
    return accuracy > MIN_ACCURACY and accuracy - baseline_accuracy >= MIN_MARGIN - 1e-9 and p_value < ALPHA


# -- held-out evaluation ---------------------------------------------------------


@dataclass(frozen=True)
class RelationResult:
    """A relation's best head (chosen on the selection half), measured on the report half.

    ``layer``/``head`` are 0-based; ``interval`` is the 95% Wilson interval of ``accuracy`` over ``n`` pairs.
    ``wins``: pairs the head gets right and the baseline wrong; ``losses``: the reverse; ``p_value``: the one-sided
    exact McNemar test of the two (``mcnemar_p``).
    """

    relation: str
    layer: int
    head: int
    accuracy: float
    interval: tuple[float, float]
    n: int
    baseline_name: str  # e.g. "offset -1", "nearest preceding noun"
    baseline_accuracy: float
    wins: int
    losses: int
    p_value: float
    labelled: bool


def evaluate(sentences: Sequence[ProbeSentence], attention: Sequence[torch.Tensor]) -> list[RelationResult]:
    """The best head per relation, chosen on the selection half and measured on the report half.

    ``attention[i]`` is sentence i's word attention ``[layer, head, n_words, n_words]``. Only the selection
    half's sentences and attention reach the choice of head and offset.
    """
    if len(sentences) != len(attention):
        raise ValueError(f"{len(sentences)} sentences but {len(attention)} attention maps.")
    selection, report = split_halves(range(len(sentences)))
    chosen = choose([sentences[i] for i in selection], [attention[i] for i in selection])  # the only look at them
    report_sentences = [sentences[i] for i in report]
    report_hits = head_hits(report_sentences, [attention[i] for i in report])
    results = []
    for r in RELATIONS:
        layer, head, offset_name = chosen[r]
        hits, n = report_hits[r]
        if n == 0:
            raise ProbeSetError(f"the probe set's report half (lines 2, 4, 6, ...) has no {r} pair; add some")
        right = int(hits[layer, head])
        baselines = baseline_hits(report_sentences, r)
        # The offset was chosen on the selection half; the noun rules have nothing to tune. Taking the
        # best of them on the report half can only favour the baseline, so the label rule stays strict.
        candidates = [offset_name] + [name for name in baselines if not name.startswith("offset")]
        base_name = _best(candidates, lambda name: baselines[name][0])
        base_hits = baselines[base_name][0]
        accuracy, baseline = right / n, base_hits / n
        paired = zip(head_pair_hits(report_sentences, [attention[i] for i in report], r, layer, head),
                     rule_pair_hits(report_sentences, r, base_name), strict=True)
        outcomes = [mine for mine, theirs in paired if mine != theirs]  # True: the head right, the rule wrong
        wins, losses = sum(outcomes), len(outcomes) - sum(outcomes)
        p = mcnemar_p(wins, losses)
        results.append(RelationResult(
            relation=r, layer=layer, head=head, accuracy=accuracy, interval=wilson_interval(right, n), n=n,
            baseline_name=base_name, baseline_accuracy=baseline, wins=wins, losses=losses, p_value=p,
            labelled=earns_label(accuracy, baseline, p),
        ))
    return results


def earned_relations(results: Sequence[RelationResult]) -> dict[tuple[int, int], RelationResult]:
    """(layer, head) -> the relation that head earned, for every head that earned one: a head that earned several
    (one head can be the best for two relations) is named by its most accurate, the first in RELATIONS on a tie."""
    earned: dict[tuple[int, int], RelationResult] = {}
    for result in results:
        key = (result.layer, result.head)
        if result.labelled and (key not in earned or result.accuracy > earned[key].accuracy):
            earned[key] = result
    return earned


def choose(sentences: Sequence[ProbeSentence], attention: Sequence[torch.Tensor]) -> dict[str, tuple[int, int, str]]:
    """relation -> (layer, head, best offset's name), the most accurate on these (selection) sentences.

    Ties go to the lowest layer, then head, and to the nearest offset.
    """
    hits = head_hits(sentences, attention)
    chosen = {}
    for r in RELATIONS:
        right, n = hits[r]
        if n == 0:
            raise ProbeSetError(f"the probe set's selection half (lines 1, 3, 5, ...) has no {r} pair; add some")
        best = int(torch.argmax(right.flatten()))  # the first maximum: lowest layer, then head
        n_head = right.shape[-1]
        offsets = baseline_hits(sentences, r)
        offset = _best([f"offset {o:+d}" for o in OFFSETS], lambda name: offsets[name][0])
        chosen[r] = (best // n_head, best % n_head, offset)
    return chosen


def _best(names: list[str], hits) -> str:
    """The name with the most hits; the first one listed on a tie."""
    return max(names, key=hits)  # max keeps the first of equal keys


def held_out_accuracy(sentences: Sequence[ProbeSentence], attention: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """relation -> every head's accuracy ``[layer, head]`` on the report half (NaN where it has no pair)."""
    _, report = split_halves(range(len(sentences)))
    hits = head_hits([sentences[i] for i in report], [attention[i] for i in report])
    return {r: right.double() / n if n else torch.full(right.shape, math.nan, dtype=torch.float64)
            for r, (right, n) in hits.items()}


# -- the model's heads -----------------------------------------------------------

# Closed-class words and the relation they are the dependent of, so that a lesson can follow a word through
# the head measured for its relation. Open-class words (nouns, verbs) need a parser to classify; they get None.
WORD_RELATIONS = {
    "pronoun->antecedent": ("it", "he", "she", "they", "him", "them", "itself", "himself", "herself", "themselves"),
    "possessive->noun": ("its", "his", "their", "my", "your", "our", "her"),
    "determiner->noun": ("the", "a", "an", "this", "that", "these", "those", "every", "each", "some"),
    "auxiliary->verb": ("is", "was", "are", "were", "be", "been", "has", "have", "had", "will", "would", "can",
                        "could", "should", "must", "may", "might", "do", "does", "did"),
    "preposition->object": ("in", "on", "at", "with", "from", "to", "of", "by", "for", "under", "over", "into",
                            "near", "about", "after", "before", "behind", "across", "through", "beside"),
}
_RELATION_OF_WORD = {word: relation for relation, words in WORD_RELATIONS.items() for word in words}


def relation_of(word: str) -> str | None:
    """The probe relation whose dependent ``word`` is ("it" -> "pronoun->antecedent"), or None."""
    return _RELATION_OF_WORD.get(word.lower().removeprefix("##"))


def best_head_of(model, relation: str, layer: int | None = None,
                 sentences: Sequence[ProbeSentence] | None = None) -> tuple[int, int]:
    """(layer, head), 0-based: the head most accurate on ``relation`` over the selection half, within ``layer``
    if given. With no layer this is ``relation_heads_of``' choice; the report half stays unseen either way."""
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r}; known are {', '.join(RELATIONS)}")
    sentences = load_probe_set() if sentences is None else list(sentences)
    attention = probe_attention_of(model, sentences)
    selection, _ = split_halves(range(len(sentences)))
    hits, _ = head_hits([sentences[i] for i in selection], [attention[i] for i in selection])[relation]
    if layer is not None:
        return layer, int(torch.argmax(hits[layer]))  # the first maximum: the lowest head
    best = int(torch.argmax(hits.flatten()))
    return best // hits.shape[-1], best % hits.shape[-1]


def relation_heads_of(model, sentences: Sequence[ProbeSentence] | None = None) -> list[RelationResult]:
    """MiniLM's best head for each relation of RELATIONS, chosen and measured held-out (see the module doc)."""
    sentences = load_probe_set() if sentences is None else list(sentences)
    return evaluate(sentences, probe_attention_of(model, sentences))


def head_table_of(model, sentences: Sequence[ProbeSentence] | None = None) -> dict:
    """Every MiniLM head (layer, head 0-based) with its label and measures, ready for JSON.

    ``label``: the relation the head earned under the label rule (``earned_relations``), else its surface
    signature label from ``analysis`` (e.g. "previous-token"), else None. Only the head chosen for a relation on
    the selection half can earn it: labelling every head that clears the rule on the report half would be
    choosing on the report half. ``measures``: the surface signatures
    (mean over the shipped sentences) and, per relation, the head's held-out accuracy.
    """
    from .analysis import SIGNATURES, corpus_profiles_of

    sentences = load_probe_set() if sentences is None else list(sentences)
    attention = probe_attention_of(model, sentences)
    earned = earned_relations(evaluate(sentences, attention))
    held_out = held_out_accuracy(sentences, attention)
    heads = []
    for layer in range(model.n_layer):
        for profile in corpus_profiles_of(model, layer):
            key = (layer, profile.head)
            measures = {name: profile.get(name) for name in SIGNATURES}
            measures |= {r: _json_number(held_out[r][key]) for r in RELATIONS}
            label = earned[key].relation if key in earned else profile.label
            heads.append({"layer": layer, "head": profile.head, "label": label, "measures": measures})
    return {"model": model.display_name, "heads": heads}


def _json_number(value: torch.Tensor) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None  # JSON has no NaN: no pairs in the report half
