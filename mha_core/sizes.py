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


def shown_indices(n: int, limit: int, keep: tuple[int, ...] | list[int] = ()) -> list[int | None]:
    """Which of n rows (columns, heads) to draw, in ``limit`` places at most: all if n <= limit, else the
    first ones, an ellipsis (None) for each gap, and the last; the indices in ``keep`` (e.g. the word the
    lesson follows) are always drawn.

    >>> shown_indices(11, 8)
    [0, 1, 2, 3, 4, 5, None, 10]
    >>> shown_indices(11, 8, keep=[7])
    [0, 1, 2, 3, None, 7, None, 10]
    """
    if n <= limit:
        return list(range(n))
    chosen = {k for k in keep if 0 <= k < n} | {n - 1}

    def places(indices: set[int]) -> int:  # drawn indices and one ellipsis per gap
        ordered = sorted(indices)
        gaps = (ordered[0] > 0) + sum(b - a > 1 for a, b in zip(ordered, ordered[1:]))
        return len(ordered) + gaps

    if places(chosen) > limit:
        raise ValueError(f"cannot keep {sorted(keep)} of {n} in {limit} places")
    for i in range(n):
        if i not in chosen and places(chosen | {i}) <= limit:
            chosen.add(i)
        elif i not in chosen:
            break
    shown: list[int | None] = []
    for i in sorted(chosen):
        if (shown[-1] if shown else -1) is not None and i - (shown[-1] if shown else -1) > 1:
            shown.append(None)
        shown.append(i)
    return shown
