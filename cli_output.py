"""What the command line prints: inspect's stages and matrices, the heads tables, the render and training
summaries, and the JSON of inspect, heads and config show.

cli.py parses the command line, does the work and hands the results here; nothing here computes a
number, reads a flag or imports click. Tables are drawn with rich (imported where a table is drawn, so
that a command that prints none does not pay for it); piped output gets a fixed width.

    output.print_tables(trace, profiles, digits=2, title=output.model_title("toy", None), shown=[0, 1])
    click.echo(output.to_json(output.inspect_json(trace, profiles, shown, layer)))
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path

import mha_core
from mha_core.sizes import shown_indices
from mha_core.trace import CONVENTIONS  # the shape convention of every traced stage (torch-free)

PIPED_WIDTH = 132  # piped output gets room for a 12-head table; a terminal keeps its own width


def stdout_console():
    """The console tables go to: the terminal's width, or ``PIPED_WIDTH`` when piped."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)


def stderr_console():
    """The console progress and summaries go to (stdout stays for what a script reads)."""
    from rich.console import Console

    return Console(stderr=True)


def to_json(data) -> str:
    """inspect's and heads' JSON: one space of indent, text as it is (not \\u escapes)."""
    return json.dumps(data, indent=1, ensure_ascii=False)


# -- inspect -----------------------------------------------------------------


def model_title(name: str, layer: int | None) -> str:
    """How inspect's first line names the model traced (by its registry name) and the layer (0-based)."""
    if name == "minilm":
        return f"MiniLM layer {layer + 1}"
    if name == "induction":
        return f"induction model (trained by this project, causal), layer {layer + 1}"
    return "toy model (untrained, random weights)"


def numbered(entry: dict) -> dict:
    """A JSON head entry with its numbers as on screen beside the 0-based indices ("layer", "head") it keeps."""
    numbers = {f"{key}_number": entry[key] + 1 for key in ("layer", "head") if entry.get(key) is not None}
    return {**entry, **numbers}


def trace_json(trace, profiles, shown: list[int]) -> dict:
    """The trace as JSON; the stages with a head axis hold the heads ``shown`` (0-based), in that order."""
    cost = mha_core.attention_cost(trace.d_model, trace.n_head, trace.n_pos)
    tensors = {name: t[shown] if CONVENTIONS[name].startswith("[head,") and len(shown) < trace.n_head else t
               for name, t in trace.tensors().items() if name != "mask"}
    data = {
        "tokens": list(trace.tokens or ()),
        "d_model": trace.d_model,
        "n_head": trace.n_head,
        "d_head": trace.d_head,
        "head_numbers": [h + 1 for h in shown],  # numbered from 1: the heads the per-head stages hold
        "convention": CONVENTIONS,
        "stages": {
            name: {"shape": list(t.shape), "values": _finite(t.detach().cpu().double().tolist())}
            for name, t in tensors.items()
        },
        "cost": {
            "parameters": cost.parameters,
            "stages": [{"name": s.name, "formula": s.formula, "macs": s.macs, "elementwise": s.elementwise}
                       for s in cost.stages],
            "total_macs": cost.total_macs,
            "single_head_total_macs": cost.single_head().total_macs,
        },
    }
    if profiles is not None:
        data["head_profiles"] = [_profile_json(p) for p in profiles]
    return data


def inspect_json(trace, profiles, shown: list[int], layer: int | None) -> dict:
    """inspect --json: the trace, and the layer traced (0-based, and numbered from 1) when the model has layers."""
    data = trace_json(trace, profiles, shown)
    if layer is not None:
        data["layer"], data["layer_number"] = layer, layer + 1
    return data


def induction_inspect_json(trace, shown: list[int], token_ids, layer: int, scores) -> dict:
    """inspect --model induction --json: the trace, the sequence's token ids, the layer, and the shown heads'
    measurements (``scores``: the held-out measurement shipped with the weights)."""
    data = trace_json(trace, None, shown)
    data["token_ids"] = [int(t) for t in token_ids]
    data["layer"], data["layer_number"] = layer, layer + 1
    data["heads"] = [numbered(h) for h in induction_table(scores)["heads"]
                     if h["layer"] == layer and h["head"] in shown]
    return data


def _profile_json(profile) -> dict:
    from dataclasses import asdict

    return numbered({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                     for k, v in asdict(profile).items()})


def _finite(values):
    # JSON has no -inf: masked scores are written as null.
    if isinstance(values, list):
        return [_finite(v) for v in values]
    return values if math.isfinite(values) else None


def print_tables(trace, profiles, digits: int, title: str, shown: list[int]) -> None:
    """inspect's tables: the sizes, the tokens, every stage's shape, the matrices of the heads ``shown``
    (0-based; one head: its every stage), the block's output, the head signatures and the cost."""
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console()
    tokens = list(trace.tokens or [str(i) for i in range(trace.n_pos)])
    console.print(
        f"[bold]{title}[/]: {trace.n_pos} tokens, d_model = {trace.d_model}, h = {trace.n_head} heads, "
        f"d_k = d_model / h = {trace.d_head}"
    )
    one = len(shown) < trace.n_head
    console.print(f"Heads numbered from 1; shown: {', '.join(str(h + 1) for h in shown)}" if one
                  else f"Heads numbered from 1; shown: all {trace.n_head} (--head N shows one head's every stage)")
    console.print("Tokens: " + "  ".join(f"[{i}] {t}" for i, t in enumerate(tokens)))

    shapes = Table(title="Stages and shapes", show_lines=False)
    for col in ("stage", "shape", "convention"):
        shapes.add_column(col)
    for name, t in trace.tensors().items():
        shapes.add_row(name, " × ".join(map(str, t.shape)), escape(CONVENTIONS[name]))
    console.print(shapes)

    fmt = f"{{:.{digits}f}}"
    n_cols_max = 16  # attention patterns: every key when it fits, else an ellipsis column
    show_cols = 8  # wider matrices are cut with an ellipsis column
    numbered_tokens = [f"[{i}] {t}" for i, t in enumerate(tokens)]
    console.print(_matrix_table(escape("x [pos, d_model]"), trace.x, tokens, fmt, show_cols))
    for head in shown:
        if one:  # one head: every stage of it, in computation order (its output is its slice of concat)
            for name in ("q", "k", "v", "scores", "scaled", *(("masked",) if trace.mask is not None else ())):
                axes = CONVENTIONS[name].replace("head, ", "")
                console.print(_matrix_table(escape(f"head {head + 1}: {name} {axes}"), getattr(trace, name)[head],
                                            numbered_tokens if "query" in axes else tokens, fmt,
                                            n_cols_max if "key" in axes else show_cols))
        console.print(_matrix_table(escape(f"head {head + 1}: attention weights [query, key] (rows sum to 1; "
                                           "columns are the keys' token numbers)"),
                                    trace.weights[head], numbered_tokens, fmt, n_cols_max))
        if one:
            console.print(_matrix_table(escape(f"head {head + 1}: its output [pos, d_head]"),
                                        trace.heads[head], tokens, fmt, show_cols))
    for name in ("concat", "output"):
        console.print(_matrix_table(escape(f"{name} [pos, d_model]"), getattr(trace, name), tokens, fmt, show_cols))
    if profiles is not None:
        console.print(_profile_table(profiles))
    cost = mha_core.attention_cost(trace.d_model, trace.n_head, trace.n_pos)
    console.print(
        f"Parameters: 4·d² + 4·d = {cost.parameters:,}; multiply-adds: {cost.total_macs:,} "
        f"(one full-width head: {cost.single_head().total_macs:,})"
    )


def _matrix_table(title, matrix, row_labels, fmt, show_cols, col_labels=None):
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    matrix = matrix.detach().cpu().double()
    n_cols = matrix.shape[-1]
    cols = shown_indices(n_cols, show_cols + 1)  # at most show_cols numbers, and an ellipsis column
    table = Table(title=title, title_justify="left")
    table.box = box.SIMPLE
    table.padding = (0, 1)
    table.add_column("", overflow="ellipsis", max_width=12)
    for c in cols:
        label = "…" if c is None else (col_labels[c] if col_labels else str(c))
        table.add_column(escape(label), justify="right", no_wrap=True, min_width=len(fmt.format(-1.0)))
    for r, label in enumerate(row_labels):
        cells = ["…" if c is None else _cell(matrix[r, c].item(), fmt) for c in cols]
        table.add_row(escape(label), *cells)
    return table


def _cell(value: float, fmt: str) -> str:
    if not math.isfinite(value):
        return "-inf"
    text = fmt.format(value)
    return f"[red]{text}[/]" if value < 0 else text


def _profile_table(profiles):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape("Head signatures (mean over the shipped sentences; previous token = key i-1 for query i)"),
                  title_justify="left")
    columns = ("head", "prev", "next", "self", "[CLS]", "[SEP]", "punct", "entropy", "ablation", "label")
    for col in columns:
        table.add_column(escape(col), justify="left" if col == "label" else "right", overflow="fold")
    for p in profiles:
        values = (p.previous, p.next, p.current, p.cls, p.sep, p.punctuation, p.entropy, p.ablation)
        table.add_row(str(p.head + 1), *("–" if v is None else f"{v:.2f}" for v in values), escape(p.label or "–"))
    return table


# -- heads -------------------------------------------------------------------


def print_heads(table: dict, results) -> None:
    """heads (MiniLM): every head's signatures and best relation, then the relation heads against their baselines."""
    from rich.markup import escape
    from rich.table import Table

    from mha_core.analysis import SIGNATURES
    from mha_core.relations import ALPHA, MIN_ACCURACY, MIN_MARGIN, RELATIONS

    console = stdout_console()
    console.print(f"[bold]{table['model']}[/]: {len(table['heads'])} heads. Layers and heads are numbered from 1 "
                  "here (--json numbers them from 0).")
    heads_table = Table(title=escape("Every head: surface signatures (mean over the shipped sentences) and the "
                                     "relation it follows best (held-out accuracy)"), title_justify="left")
    names = {"previous": "prev", "next": "next", "current": "self", "cls": "[CLS]", "sep": "[SEP]",
             "punctuation": "punct", "entropy": "entropy"}
    for col in ("layer", "head", *(names[s] for s in SIGNATURES), "best relation", "label"):
        heads_table.add_column(escape(col), justify="left" if col in ("best relation", "label") else "right")
    for h in table["heads"]:
        m = h["measures"]
        scored = [r for r in RELATIONS if m[r] is not None]
        best = max(scored, key=lambda r: m[r], default=None)  # ties: the first in RELATIONS order
        heads_table.add_row(
            str(h["layer"] + 1), str(h["head"] + 1),
            *("–" if m[s] is None else f"{m[s]:.2f}" for s in SIGNATURES),
            "–" if best is None else f"{best} {m[best]:.2f}", escape(h["label"] or "–"),
        )
    console.print(heads_table)

    rel_table = Table(title=escape(f"Relation heads: chosen on probe lines 1, 3, 5, ..., measured on lines "
                                   f"2, 4, 6, ...; labelled when accuracy > {MIN_ACCURACY:g}, at least "
                                   f"{MIN_MARGIN * 100:g} points over the best baseline and p < {ALPHA:g} "
                                   "(one-sided exact McNemar test on the same pairs: won/lost = pairs only the "
                                   "head / only the baseline gets right)"), title_justify="left")
    for col in ("relation", "layer", "head", "accuracy", "95% interval", "n", "best baseline", "margin", "won/lost",
                "p", "label"):
        rel_table.add_column(escape(col), justify="left" if col in ("relation", "best baseline", "label") else "right")
    for r in results:
        rel_table.add_row(
            escape(r.relation), str(r.layer + 1), str(r.head + 1), f"{r.accuracy:.2f}",
            f"{r.interval[0]:.2f}–{r.interval[1]:.2f}", str(r.n),
            escape(f"{r.baseline_name} {r.baseline_accuracy:.2f}"),
            f"{(r.accuracy - r.baseline_accuracy) * 100:+.0f} pts", f"{r.wins}/{r.losses}", f"{r.p_value:.1g}",
            "earned" if r.labelled else "not earned",
        )
    console.print(rel_table)


def induction_table(scores) -> dict:
    """The induction model's heads as JSON (layers and heads 0-based): what heads --model induction --json prints."""
    from mha_core.induction import head_table

    return head_table(scores)


def print_induction_heads(scores, layer: int | None = None, shown: list[int] | None = None) -> None:
    """The induction model's heads table alone (inspect --model induction: the heads of ``layer`` shown)."""
    stdout_console().print(_induction_heads_table(scores, layer, shown))


def _induction_heads_table(scores, layer: int | None = None, shown: list[int] | None = None):
    from rich.markup import escape
    from rich.table import Table

    shortest, longest = scores.segment_range
    segment = str(shortest) if shortest == longest else f"{shortest}–{longest}"
    table = Table(title=escape(f"Heads measured on {scores.test['sequences']} held-out sequences (random tokens: a "
                               f"segment of {segment} tokens, then the same again); numbered from 1"),
                  title_justify="left")
    for col in ("layer", "head", "previous token", "two back", "induction", "zeroed: induction",
                "zeroed: 2nd-copy loss", "label"):
        table.add_column(escape(col), justify="left" if col == "label" else "right")
    for h in induction_table(scores)["heads"]:
        if (layer is not None and h["layer"] != layer) or (shown is not None and h["head"] not in shown):
            continue
        m = h["measures"]
        zeroed = m["zeroed_induction"]
        table.add_row(str(h["layer"] + 1), str(h["head"] + 1), f"{m['previous_token']:.2f}", f"{m['two_back']:.2f}",
                      f"{m['induction']:.2f}",
                      "–" if zeroed is None else f"{zeroed:.2f}", f"{m['zeroed_loss_second']:.2f}",
                      escape(h["label"] or "–"))
    return table


def print_induction(scores) -> None:
    """The induction model's measurement: its heads, the label rule, the copy losses and the circuit."""
    from mha_core.induction import LABEL_RATIO, LABEL_SCORE, MODEL_NAME, uniform_loss

    console = stdout_console()
    console.print(f"[bold]{MODEL_NAME}[/]")
    console.print(_induction_heads_table(scores))
    console.print(f"Label rule: a score of at least {LABEL_SCORE:g} and {LABEL_RATIO:g} times what attention spread "
                  f"evenly over the visible tokens scores (previous token {scores.previous_baseline:.3f}, "
                  f"two back {scores.two_back_baseline:.3f}, induction {scores.induction_baseline:.3f}).")
    console.print(f"Next-token loss: first copy {scores.loss_first:.2f} nats, second copy {scores.loss_second:.2f} "
                  f"(a guess spread over the vocabulary: {uniform_loss():.2f}).")
    console.print("Probability of the right next token after the 1st, 2nd, ... token of the second copy: "
                  + " ".join(f"{p:.2f}" for p in scores.p_by_position)
                  + "; its share as the top guess: " + " ".join(f"{p:.2f}" for p in scores.top_by_position) + ".")
    if scores.circuit is not None:
        zeroed = ", ".join(f"layer {l + 1} head {h + 1}" for l, h in scores.circuit["zeroed"])
        console.print(f"Circuit: with {zeroed} zeroed, the induction heads' score falls from "
                      f"{scores.induction_mean:.2f} to {scores.circuit['induction']:.2f} and the second-copy loss "
                      f"rises from {scores.loss_second:.2f} to {scores.circuit['loss_second']:.2f}.")


# -- train -------------------------------------------------------------------


@contextlib.contextmanager
def training_progress(console, steps: int):
    """The training bar on ``console`` (steps done, the loss, the time left); yields ``update(step, loss)``."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                  TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(), console=console) as progress:
        task = progress.add_task("train", total=steps, loss="–")
        yield lambda step, loss: progress.update(task, completed=step, loss=f"{loss:.3f}")


def print_training_summary(console, seconds: float, out: Path, names, weights_name: str, weights_sha256: str,
                           differences: list[str] | None) -> None:
    """After train: how long it took, the files written, the weights' hash and (for the shipped settings)
    whether the shipped scores were reproduced (``differences``: None when not compared)."""
    console.print(f"Trained in {seconds:.0f} s. Wrote {', '.join(str(out / n) for n in names)}.")
    console.print(f"SHA-256 of {weights_name}: {weights_sha256}")
    if differences is not None:
        console.print("The shipped scores are reproduced within the tolerances." if not differences else
                      "Differs from the shipped scores beyond the tolerances: " + "; ".join(differences))


# -- chapters, render, config --------------------------------------------------


def chapter_lines(chapter_ids, title_of) -> list[str]:
    """chapters: one line per chapter, numbered in order: " 1. intro              The question"."""
    return [f"{number:2d}. {chapter_id:<18} {title_of(chapter_id)}"
            for number, chapter_id in enumerate(chapter_ids, start=1)]


def print_render_summary(console, manifest: dict, out: Path, *, rendered: dict | None = None,
                         cached: bool = False) -> None:
    """The chapters table and where the videos and the page are, read from the folder's manifest.

    ``rendered``: {chapter id: seconds} of the chapters rendered now (the others came from the cache).
    """
    from rich.table import Table

    video = manifest["video"]
    title = f"{len(manifest['chapters'])} chapters, {video['width']}×{video['height']} at {video['fps']} fps"
    table = Table(title=title, title_justify="left")
    for col, justify in (("#", "right"), ("chapter", "left"), ("duration", "right"), ("render", "right")):
        table.add_column(col, justify=justify)
    for ch in manifest["chapters"]:
        seconds = (rendered or {}).get(ch["id"])
        how = "unchanged" if cached else f"{seconds:.1f} s" if seconds is not None else "cached"
        table.add_row(str(ch["number"]), ch["title"], f"{ch['duration']:.1f} s", how)
    console.print(table)
    out = Path(out).expanduser().resolve()
    narration = manifest.get("narration") or {}
    if narration.get("loudness"):
        console.print(f"Narration: the {narration['voice']} voice ({narration['engine']}), "
                      f"{narration['beats']} beats at {narration['loudness']['lufs']:g} LUFS")
    else:
        console.print("Narration: none (a silent lesson; captions are timed to reading speed)")
    for fmt, name in manifest["lesson"]["videos"].items():
        console.print(f"Lesson video ({fmt}, {video['duration']:.1f} s): {out / name}")
    console.print(f"Lesson page: {out / manifest['lesson']['page']}")


def print_course_plan(console, plan) -> None:
    """course --dry-run: each lesson, its chapters, how many the cache has, what is left to render."""
    from rich.table import Table

    todo = plan.todo()
    table = Table(title=f"{plan.course.title}: {len(plan.lessons)} lessons into {plan.out}", title_justify="left")
    for col, justify in (("#", "right"), ("lesson folder", "left"), ("chapters", "right"), ("cached", "right"),
                         ("to render", "right")):
        table.add_column(col, justify=justify)
    for number, lesson in enumerate(plan.lessons, 1):
        chapters = len(lesson.lesson.config.chapters)
        if lesson.unchanged is not None:
            cached, left = "all (folder unchanged)", 0
        else:
            left = sum(1 for cid in lesson.missing if todo.get(lesson.keys[cid], (None,))[0] is lesson)
            cached = str(chapters - len(lesson.missing))
        table.add_row(str(number), lesson.name, str(chapters), cached, str(left))
    console.print(table)
    console.print(f"Cache: {plan.cache}")
    if plan.store is not None:
        fetched = {lesson.keys[cid] for lesson in plan.lessons for cid in lesson.stored}
        console.print(f"Store: {plan.store.url}, where {len(fetched)} of the chapters this machine's cache lacks are "
                      "made already (fetched, not rendered)")
    console.print(f"{plan.chapters} chapters in all: {plan.chapters - len(todo)} already made, {len(todo)} to render "
                  "(a chapter shared by several lessons renders once).")


def print_course_summary(console, result) -> None:
    """The end of a course: what rendered, what was reused, where the course page is."""
    if result.kept:
        console.print(f"Nothing changed since the last run into {result.out}: kept as it is.")
    lessons = result.record.get("lessons", []) if isinstance(result.record, dict) and not result.kept else []
    for lesson in lessons:
        made = sum(c.get("status") == "rendered" for c in lesson.get("chapters", []))
        console.print(f"  {lesson.get('name')}: {made} rendered, {len(lesson.get('chapters', [])) - made} reused")
    console.print(f"{result.rendered} chapters rendered, {result.reused} reused. "
                  f"Course page: {Path(result.page).expanduser().resolve()}")


def size_text(n: int) -> str:
    """Bytes as people read them: 1.2 GB, 340 MB, 12 kB (powers of 1000, as ``cache_size`` counts)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def cache_json(found, limit: int, stored=None) -> dict:
    """``stored``: (the store's URL, its chapters, their bytes), when the cache stands in front of a store."""
    return {"folder": str(found.root), "exists": found.exists, "bytes": found.total, "limit_bytes": limit,
            "items": {kind: {"count": found.counts[kind], "bytes": found.bytes[kind]} for kind in found.counts},
            **({"store": dict(zip(("url", "chapters", "bytes"), stored))} if stored else {})}


def print_cache_info(console, found, limit: int, size_gb: float, stored=None) -> None:
    """``mha-explainer cache info``: where, how full, what it holds (and the store behind it: ``cache_json``)."""
    from rich.table import Table

    if stored:
        url, chapters, size = stored
        console.print(f"Store: {url} holds {chapters} rendered chapter{'' if chapters == 1 else 's'} "
                      f"({size_text(size)}); mha-explainer never deletes there. This machine's cache in front of it:")
    if not found.exists:
        console.print(f"No render cache at {found.root} yet: the first render makes it.")
        return
    console.print(f"Render cache: {found.root}")
    console.print(f"Holds {size_text(found.total)} of at most {size_text(limit)} (cache_size = "
                  f"{size_gb:g}); the least recently used go first.")
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("kept")
    table.add_column("count", justify="right")
    table.add_column("size", justify="right")
    names = {"chapter": "rendered chapters", "lesson": "joined lessons", "speech": "spoken beats"}
    for kind, name in names.items():
        table.add_row(name, str(found.counts[kind]), size_text(found.bytes[kind]))
    console.print(table)


def config_json(config) -> str:
    """config show --json: every key's effective value."""
    return json.dumps(config.model_dump(mode="json"), indent=2)


def config_text(config, sources: dict[str, str], config_file) -> str:
    """config show: a comment line (what was merged; the video's size and rate), then the effective config as
    TOML with where each value came from."""
    layers = ["defaults"] + [str(config_file)] * bool(config_file) + ["flags"] * ("flag" in sources.values())
    return (f"# effective config: {' <- '.join(layers)}; "
            f"video {config.width}x{config.height} at {config.frame_rate} fps\n" + config.to_toml(sources))
