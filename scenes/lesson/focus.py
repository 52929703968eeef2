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
