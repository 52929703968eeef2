"""The focus word: the one token whose attention row the lesson works through, picked by the same rule
wherever a chapter needs it (the mechanics chapters, the gallery's framed row)."""

from __future__ import annotations

from mha_core.relations import relation_of

# Words whose attention row is worth working through: a pronoun has to look elsewhere for its meaning.
_PRONOUNS = {"it", "he", "she", "they", "him", "her", "them", "its", "his", "their", "this", "that", "who", "which"}
_STOPWORDS = {"the", "a", "an", "of", "to", "in", "on", "and", "or", "but", "is", "was", "are", "were", "be"}


def pick_focus(tokens, labelled: tuple[str, ...] = ()) -> int:
    """The query row to work through: a pronoun if there is one (one that refers back first), else a word of a
    relation in ``labelled`` (relations some head was measured to track, e.g. a preposition), else the first
    content word."""
    words = [t.lower().removeprefix("##") for t in tokens]
    # A pronoun that refers back ("it", "she") before one that introduces a clause ("who", "that").
    for i, w in enumerate(words):
        if relation_of(w) == "pronoun->antecedent":
            return i
    for i, w in enumerate(words):
        if w in _PRONOUNS:
            return i
    for i, w in enumerate(words):
        if relation_of(w) in labelled:
            return i
    for i, w in enumerate(words):
        if w.isalpha() and w not in _STOPWORDS and not w.startswith("["):
            return i
    return 0


SPECIAL = ("[CLS]", "[SEP]")  # the tokens BERT adds around a sentence: where attention parks, not words


def where_heads_look(keys) -> tuple[str, dict]:
    """Where heads put most of one word's weight, ``keys`` the token each head's largest weight falls on, as a
    case a script has a sentence for (``LOOK_CASES``) and its values: n_parked (on [CLS] or [SEP]), n_words (the
    other heads' different words), top (the first of those words)."""
    keys = list(keys)
    parked = sum(k in SPECIAL for k in keys)
    words = list(dict.fromkeys(k for k in keys if k not in SPECIAL))  # in head order
    values = {"n_parked": parked, "n_words": len(words), "top": words[0] if words else ""}
    if not words:
        return "all-parked", values
    if parked:
        return ("parked-one-word" if len(words) == 1 else "mixed"), values
    return ("one-word" if len(words) == 1 else "none-parked"), values


#: The cases of ``where_heads_look``: some heads park and the others pick two or more words; some park and the
#: others pick one; none park (two or more words, or one); all park.
LOOK_CASES = ("mixed", "parked-one-word", "none-parked", "one-word", "all-parked")
