"""Shared visual parts: regressions found by looking at frames."""

from scenes import parts, style


def test_token_row_keeps_one_glyph_per_character_in_ligature_words():
    # Pango joins "fl"/"fi" into one glyph unless told not to; the row cuts words out of one line.
    words = ["The", "scientist", "reviewed", "flawed", "fifty", "offices", "."]
    row = parts.TokenRow(style.theme("light"), words)
    assert [w.text for w in row.words] == words
    assert [len(w.submobjects) for w in row.words] == [len(w) for w in words]
    lefts = [w.get_left()[0] for w in row.words]
    assert lefts == sorted(lefts)  # left to right, none collapsed
    # Each word is exactly its own glyphs: as wide as the word set on its own.
    th = style.theme("light")
    for word, glyphs in zip(words, row.words):
        alone = parts.text(th, word)
        assert abs(glyphs.width - alone.width) < 0.02 * alone.width + 0.01, word
