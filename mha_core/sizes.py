"""Small counting helpers, free of torch: head counts that split a width, and which of n items to draw.

Kept free of torch so that validating a config (``scenes.lesson.config``) stays cheap.
"""

from __future__ import annotations

# all-MiniLM-L6-v2's depth, for checks that must not load the model (a config's layer range);
# the loader checks it against the model's own config.json.
MINILM_LAYERS = 6
MINILM_HEADS = 12


def divisors(n: int) -> list[int]:
    """The head counts h that divide ``n``: each head then gets d_head = n / h dimensions."""
    return [h for h in range(1, n + 1) if n % h == 0]


def or_list(values: list[int]) -> str:
    """[1, 2, 4, 8] -> "1, 2, 4 or 8" (for error messages)."""
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def shown_indices(n: int, limit: int) -> list[int | None]:
    """Which of n rows (columns, heads) to draw: all if n <= limit, else the first limit-2,
    an ellipsis (None) and the last, so limit places in all."""
    if n <= limit:
        return list(range(n))
    return list(range(limit - 2)) + [None, n - 1]
