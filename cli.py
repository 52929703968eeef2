"""mha-explainer: the command line.

    mha-explainer inspect --sentence "The cat sat down." --heads 2 --d-model 8
    mha-explainer render                  # the whole lesson into media/
    mha-explainer chapters
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import stat
import sys
import tempfile
from pathlib import Path

import click

import mha_core
from mha_core.files import FileError, check_path, folder_lock, kind_of
from mha_core.sizes import shown_indices
from mha_core.trace import CONVENTIONS  # the shape convention of every traced stage (torch-free)
from scenes.lesson.chapters import CHAPTER_IDS
from scenes.lesson.config import (
    FLAGS,
    MODEL_KEYS,
    ConfigError,
    flag_choices,
    flag_help,
    load_config,
)


def _usage_error(message: str) -> click.UsageError:
    # One sentence that says what is wrong and how to fix it; click exits with code 2.
    return click.UsageError(message.rstrip(".") + ".")


def _writable_target(path: Path, force: bool = False, example: str = "trace.safetensors") -> Path:
    """Fail early (exit 2) when ``path`` cannot be written, before any work is done: a new file or, with
    ``force``, a regular one (never a directory, device, FIFO, socket or link; mha_core.files)."""
    from mha_core.files import FileError, check_output_file

    try:
        return check_output_file(path, force, example)
    except FileError as err:
        raise _usage_error(str(err)) from None


def _exit_on_signals() -> None:
    """Ctrl-C exits 130 and SIGTERM (a CI timeout, `kill`) 143, as shells expect: SystemExit runs every
    ``finally`` and context manager on the way out (workers stopped, temporary files removed), and
    click does not turn it into "Aborted!" and exit 1.

    A signal that comes during an import is held until the import is done (checked again every
    50 ms): C code that imports modules may swallow the exception (torch does, importing numpy),
    and the command would then run on as if nothing had happened.
    """
    pending = []

    def stop(signum, frame):
        if _importing(frame) and hasattr(signal, "setitimer"):
            pending[:] = [signum]
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            return
        raise SystemExit(128 + signum)

    def retry(_signum, frame):
        if pending:
            stop(pending[0], frame)

    handlers = {signal.SIGINT: stop, signal.SIGTERM: stop}
    if hasattr(signal, "SIGALRM"):
        handlers[signal.SIGALRM] = retry
    for signum, handler in handlers.items():
        try:
            signal.signal(signum, handler)
        except ValueError:  # not the main thread (e.g. click's CliRunner in a test runner's thread)
            return


def _importing(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


def _tolerant_streams() -> None:
    """A character the terminal's encoding lacks (LANG=C and an accented sentence) prints as an escape
    instead of ending the command with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # absent on CliRunner's and other wrapped streams
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # detached or closed
                pass


class _Command(click.Command):
    """A command whose ``ConfigError`` (scenes/lesson/config.py has no click) or ``FileError`` (a path refused
    by mha_core.files) is a usage error: exit 2, one sentence."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ConfigError, FileError) as err:
            raise click.UsageError(str(err), ctx) from None


class _Group(click.Group):
    command_class = _Command
    group_class = type  # subgroups (config) are _Group too

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ConfigError, FileError) as err:
            raise click.UsageError(str(err), ctx) from None


def _click_type(key: str, kind: str, extra: tuple[str, ...] = ()):
    if kind in {"choice", "multiple"}:
        return click.Choice((*flag_choices(key), *extra))
    if kind == "folder":
        return click.Path(path_type=Path, file_okay=False)
    if kind == "auto-int":
        return click.STRING  # a number or "auto": the config turns "3" into 3 and checks the range
    return {"int": int, "float": float}.get(kind)


def lesson_options(command=None, *, keys: tuple[str, ...] | None = None, extra: dict | None = None):
    """Add ``--config FILE`` and one flag per LessonConfig field (scenes.lesson.config.FLAGS) to a click command.

    The command receives ``config_file`` and keyword arguments named like the fields
    (``None`` / ``()`` when not given), ready for ``load_config(config_file, **overrides)``.
    ``keys`` limits the flags to those fields (``@lesson_options(keys=MODEL_KEYS)``); a
    config file may still set any key. ``extra``: key -> more values a choice flag takes
    (handled by the command before the config is loaded).
    """
    if command is None:
        return lambda command: lesson_options(command, keys=keys, extra=extra)
    for flag, (key, short, kind) in reversed(list(FLAGS.items())):
        if keys is not None and key not in keys:
            continue
        decls = [flag, key] if short is None else [flag, short, key]
        settings = {"multiple": True} if kind == "multiple" else {}
        if key == "chapters":
            settings["metavar"] = "ID,ID,..."
        more = (extra or {}).get(key, ())
        help_text = flag_help(key) + (f" Also: {', '.join(more)}." if more else "")
        command = click.option(*decls, default=None, type=_click_type(key, kind, more), help=help_text,
                               **settings)(command)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="lesson.toml to read (flags override it); write one with `mha-explainer config init`.",
    )(command)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(mha_core.__version__, "--version", "-V", prog_name="mha-explainer")
def main() -> None:
    """Animated lessons on multi-head attention, drawn from the numbers a real model computes."""
    _exit_on_signals()
    _tolerant_streams()


# -- inspect -----------------------------------------------------------------


@main.command()
@lesson_options(keys=MODEL_KEYS, extra={"model": ("induction",)})
@click.option("--tokens", default=None,
              help="With --model induction: the sequence to trace, as syllables or token ids (\"ba ko mi ba\" or "
                   "\"0 38 46 0\"). Default: the lesson's example, a random segment then the same again.")
@click.option("--digits", type=click.IntRange(0, 8), default=2, show_default=True, help="Decimals shown in tables.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of tables.")
@click.option("--save", type=click.Path(path_type=Path, dir_okay=False),
              help="Write every traced tensor to this .safetensors file.")
@click.option("--force", is_flag=True, help="Overwrite the --save file if it exists.")
def inspect(config_file, tokens, digits, as_json, save, force, **overrides):
    """Trace one attention block on a sentence and print every stage.

    Takes the model settings of lesson.toml (--config) and the same flags as render; a
    config file may hold other keys too, which inspect does not use. --model induction
    traces the small causal model this project trains (on --tokens, not a sentence).
    Layers and heads are numbered from 1, as on screen. --head N prints head N's stages
    only (q, k, v, scores, weights, its output); --head auto the head the lesson works
    through; without it (or head = "auto" in a file), every head's attention weights.
    """
    if overrides.get("model") == "induction":
        return _inspect_induction(config_file, tokens, digits, as_json, save, force, overrides)
    if tokens is not None:
        raise _usage_error("--tokens is for --model induction; give a sentence with --sentence instead")
    config = load_config(config_file, **overrides)  # the same checks as render (ConfigError: exit 2)
    if save is not None:
        _writable_target(save, force)
    layer, focus_head = _focus_of(config, lesson_head=overrides.get("head") == "auto")
    trace, mha = _trace_for(config, layer)
    shown = _shown_heads(config.head, focus_head, trace.n_head)
    profiles = _profiles_for(config.model, layer, config.device)
    if profiles is not None:
        profiles = [p for p in profiles if p.head in shown]
    if save is not None:
        _save(trace, save)  # every head: the file is the whole trace, whatever --head shows
    if as_json:
        data = _trace_json(trace, mha, profiles, shown)
        if layer is not None:
            data["layer"], data["layer_number"] = layer, layer + 1
        click.echo(json.dumps(data, indent=1, ensure_ascii=False))
    else:
        _print_tables(trace, mha, profiles, digits, config.model, layer, shown)
    if save is not None and not as_json:
        click.echo(f"Saved {len(trace.tensors())} tensors to {save}")


def _inspect_induction(config_file, tokens, digits, as_json, save, force, overrides) -> None:
    """inspect --model induction: one layer of the trained causal model on a sequence of its tokens."""
    given = [key for key, value in overrides.items() if value not in (None, ()) and key not in ("model", "layer",
                                                                                              "head", "device")]
    if config_file is not None or given:
        what = "--config" if config_file is not None else "--" + given[0].replace("_", "-")
        raise _usage_error(f"{what} does not apply to the induction model; it takes --tokens, --layer, --head and "
                           "--device")
    config = load_config(None, device=overrides.get("device"))  # the device checks of render (ConfigError: exit 2)
    from mha_core.induction import encode, example_sequence, load_induction_model

    model = load_induction_model(mha_core.resolve_device(config.device))
    layer = overrides.get("layer") or "auto"
    if layer == "auto":  # the first induction head's layer: the one that reads what the earlier layer wrote
        layer = min((l for l, _ in model.induction_heads), default=0)
    elif not (layer.isdigit() and 1 <= int(layer) <= model.n_layer):
        raise _usage_error(f"--layer {layer} is out of range; pick 1 to {model.n_layer} (numbered from 1, as on "
                           "screen) or auto")
    else:
        layer = int(layer) - 1
    head = overrides.get("head")
    if head == "auto":  # the layer's first induction head; every head when the layer has none
        shown = [min((h for l, h in model.induction_heads if l == layer), default=None)]
        shown = list(range(model.n_head)) if shown == [None] else shown
    elif head is not None:
        if not (head.isdigit() and 1 <= int(head) <= model.n_head):
            raise _usage_error(f"--head {head} is out of range; pick 1 to {model.n_head} (numbered from 1, as on "
                               "screen) or auto")
        shown = [int(head) - 1]
    else:
        shown = list(range(model.n_head))
    if save is not None:
        _writable_target(save, force)
    try:
        ids = example_sequence() if tokens is None else encode(tokens)
        trace = model.trace(ids, layer)
    except ValueError as err:
        raise _usage_error(str(err)) from None
    scores = model.scores  # the held-out measurement shipped with the weights (`heads --model induction` redoes it)
    if save is not None:
        _save(trace, save)
    if as_json:
        data = _trace_json(trace, model.blocks[layer], None, shown)
        data["token_ids"] = [int(t) for t in ids]
        data["layer"], data["layer_number"] = layer, layer + 1
        data["heads"] = [_numbered(h) for h in _induction_table(scores)["heads"]
                         if h["layer"] == layer and h["head"] in shown]
        click.echo(json.dumps(data, indent=1, ensure_ascii=False))
        return
    _print_tables(trace, model.blocks[layer], None, digits, "induction", layer, shown)
    from rich.console import Console

    Console(width=None if sys.stdout.isatty() else 132).print(_induction_heads_table(scores, layer, shown))
    if save is not None:
        click.echo(f"Saved {len(trace.tensors())} tensors to {save}")


def _induction_table(scores) -> dict:
    from mha_core.induction import head_table

    return head_table(scores)


def _focus_of(config, lesson_head: bool = False) -> tuple[int | None, int | None]:
    """The MiniLM layer to trace, 0-based (the one set, numbered from 1, or with auto the focus head's layer; None
    for the toy model) and, with ``lesson_head`` (--head auto), the head the lesson works through, 0-based."""
    if config.model != "minilm":
        return None, (0 if lesson_head else None)  # the toy lesson works through head 1 (resolve_focus)
    if config.layer != "auto" and not lesson_head:
        return config.layer - 1, None
    from mha_core.relations import relation_heads
    from scenes.lesson.build import resolve_focus

    try:
        focus = resolve_focus(config, tuple(relation_heads(config.device)))
    except ValueError as err:  # e.g. a sentence longer than MiniLM's 512 word pieces
        raise _usage_error(str(err)) from None
    return focus.layer, (focus.head if lesson_head else None)


def _shown_heads(head, focus_head: int | None, n_head: int) -> list[int]:
    """The heads inspect prints, 0-based: ``head`` (the config's, numbered from 1 and checked by it), the
    lesson's head for --head auto, else every head (head = "auto" in a file is the default: every head)."""
    if head != "auto":
        return [head - 1]
    return list(range(n_head)) if focus_head is None else [focus_head]


def _numbered(entry: dict) -> dict:
    """A JSON head entry with its numbers as on screen beside the 0-based indices ("layer", "head") it keeps."""
    numbers = {f"{key}_number": entry[key] + 1 for key in ("layer", "head") if entry.get(key) is not None}
    return {**entry, **numbers}


def _trace_for(config, layer: int | None):
    """The trace (and the attention module) of ``config``'s sentence, model, size, seed, mask, device at ``layer``."""
    try:  # (a causal MiniLM is refused by the config: MiniLM is a bidirectional encoder)
        device = mha_core.resolve_device(config.device)
        if config.model == "minilm":
            trace = mha_core.trace_pretrained(config.sentence, layer=layer, device=device)
            return trace, mha_core.load_minilm(device).attention_module(layer)
        mha, trace = mha_core.toy_block(config.sentence, d_model=config.d_model, n_head=config.heads,
                                        seed=config.seed, causal=config.causal, device=device)
        return trace, mha
    except ValueError as err:  # e.g. a sentence longer than MiniLM's 512 word pieces
        raise _usage_error(str(err)) from None


def _profiles_for(model, layer, device):
    if model != "minilm":
        return None
    from mha_core.analysis import corpus_profiles

    return corpus_profiles(layer, device=device)


def _save(trace, path: Path) -> None:
    # Written under a temporary name and moved into place (mha_core.files.save_safetensors).
    try:
        trace.save(path.expanduser())
    except FileError as err:  # the path became a device, FIFO, link or folder since _writable_target
        raise _usage_error(str(err)) from None
    except OSError as err:  # the folder changed since _writable_target, or the disk is full
        raise _usage_error(f"cannot write {path} ({err.strerror or type(err).__name__}); "
                           "choose another path") from None


def _trace_json(trace, mha, profiles, shown: list[int]) -> dict:
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


def _profile_json(profile) -> dict:
    from dataclasses import asdict

    return _numbered({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                      for k, v in asdict(profile).items()})


def _finite(values):
    # JSON has no -inf: masked scores are written as null.
    if isinstance(values, list):
        return [_finite(v) for v in values]
    return values if math.isfinite(values) else None


def _print_tables(trace, mha, profiles, digits, model, layer, shown: list[int]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    # Piped output gets room for a 12-head table; a terminal keeps its own width.
    console = Console(width=None if sys.stdout.isatty() else 132)
    tokens = list(trace.tokens or [str(i) for i in range(trace.n_pos)])
    if model == "minilm":
        title = f"MiniLM layer {layer + 1}"
    elif model == "induction":
        title = f"induction model (trained by this project, causal), layer {layer + 1}"
    else:
        title = "toy model (untrained, random weights)"
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
    numbered = [f"[{i}] {t}" for i, t in enumerate(tokens)]
    console.print(_matrix_table(escape("x [pos, d_model]"), trace.x, tokens, fmt, show_cols))
    for head in shown:
        if one:  # one head: every stage of it, in computation order (its output is its slice of concat)
            for name in ("q", "k", "v", "scores", "scaled", *(("masked",) if trace.mask is not None else ())):
                axes = CONVENTIONS[name].replace("head, ", "")
                console.print(_matrix_table(escape(f"head {head + 1}: {name} {axes}"), getattr(trace, name)[head],
                                            numbered if "query" in axes else tokens, fmt,
                                            n_cols_max if "key" in axes else show_cols))
        console.print(_matrix_table(escape(f"head {head + 1}: attention weights [query, key] (rows sum to 1; "
                                           "columns are the keys' token numbers)"),
                                    trace.weights[head], numbered, fmt, n_cols_max))
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
    from rich.table import Table

    matrix = matrix.detach().cpu().double()
    n_cols = matrix.shape[-1]
    cols = shown_indices(n_cols, show_cols + 1)  # at most show_cols numbers, and an ellipsis column
    table = Table(title=title, title_justify="left")
    from rich import box
    from rich.markup import escape

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


@main.command()
@click.option("--model", type=click.Choice(["minilm", "induction"]), default="minilm", show_default=True,
              help="minilm: all-MiniLM-L6-v2's 72 heads; induction: the small causal model this project trains.")
@click.option("--json", "as_json", is_flag=True,
              help="Print every head's label and measures as JSON (layers and heads numbered from 0).")
@click.option("--device", default=None, help=flag_help("device"))
def heads(model, as_json, device):
    """Label every head of a trained model by what a measurement shows, against a baseline.

    MiniLM: each relation's best head is chosen on half of the probe sentences and measured on the other
    half against positional baselines (Clark et al. 2019); it is named after the relation only when it
    beats them. Induction model: previous-token and induction scores on held-out repeated sequences, each
    head zeroed in turn, and the circuit (the previous-token heads zeroed together).
    """
    config = load_config(None, device=device)  # the device checks of inspect and render (ConfigError: exit 2)
    if model == "induction":
        from mha_core.induction import load_induction_model, measure

        scores = measure(load_induction_model(mha_core.resolve_device(config.device)))  # measured now, not read
        if as_json:
            click.echo(json.dumps(_induction_table(scores), indent=1, ensure_ascii=False))
        else:
            _print_induction(scores)
        return
    from mha_core.relations import head_table, relation_heads

    try:
        results = relation_heads(device=config.device)
        table = head_table(device=config.device)
    except ValueError as err:  # a missing or malformed probe set (ProbeSetError), an unusable device
        raise _usage_error(str(err)) from None
    if as_json:
        click.echo(json.dumps(table, indent=1, ensure_ascii=False))
    else:
        _print_heads(table, results)


def _print_heads(table: dict, results) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from mha_core.analysis import SIGNATURES
    from mha_core.relations import MARGIN, MIN_ACCURACY, RELATIONS

    console = Console(width=None if sys.stdout.isatty() else 132)
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
                                   f"2, 4, 6, ...; labelled when accuracy > {MIN_ACCURACY:g} and at least "
                                   f"{MARGIN * 100:g} points over the best baseline"), title_justify="left")
    for col in ("relation", "layer", "head", "accuracy", "95% interval", "n", "best baseline", "margin", "label"):
        rel_table.add_column(escape(col), justify="left" if col in ("relation", "best baseline", "label") else "right")
    for r in results:
        rel_table.add_row(
            escape(r.relation), str(r.layer + 1), str(r.head + 1), f"{r.accuracy:.2f}",
            f"{r.interval[0]:.2f}–{r.interval[1]:.2f}", str(r.n),
            escape(f"{r.baseline_name} {r.baseline_accuracy:.2f}"),
            f"{(r.accuracy - r.baseline_accuracy) * 100:+.0f} pts", "earned" if r.labelled else "not earned",
        )
    console.print(rel_table)


def _induction_heads_table(scores, layer: int | None = None, shown: list[int] | None = None):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"Heads measured on {scores.test['sequences']} held-out sequences (a random segment of "
                               f"{scores.test['segment']} tokens, then the same again); numbered from 1"),
                  title_justify="left")
    for col in ("layer", "head", "previous token", "two back", "induction", "zeroed: induction",
                "zeroed: 2nd-copy loss", "label"):
        table.add_column(escape(col), justify="left" if col == "label" else "right")
    for h in _induction_table(scores)["heads"]:
        if (layer is not None and h["layer"] != layer) or (shown is not None and h["head"] not in shown):
            continue
        m = h["measures"]
        zeroed = m["zeroed_induction"]
        table.add_row(str(h["layer"] + 1), str(h["head"] + 1), f"{m['previous_token']:.2f}", f"{m['two_back']:.2f}",
                      f"{m['induction']:.2f}",
                      "–" if zeroed is None else f"{zeroed:.2f}", f"{m['zeroed_loss_second']:.2f}",
                      escape(h["label"] or "–"))
    return table


def _print_induction(scores) -> None:
    from rich.console import Console

    from mha_core.induction import LABEL_RATIO, LABEL_SCORE, MODEL_NAME, uniform_loss

    console = Console(width=None if sys.stdout.isatty() else 132)
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


@main.command()
@click.argument("what", type=click.Choice(["induction"]))
@click.option("--out", "-o", type=click.Path(path_type=Path, file_okay=False), default=Path("induction-model"),
              show_default=True, help="Folder to write model.safetensors, config.json and scores.json into.")
@click.option("--steps", type=click.IntRange(1, 1_000_000), default=None,
              help="Training steps. Default: those the shipped weights were trained with.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None,
              help="Seed of the weights, the language and the batches. Default: the shipped weights' seed.")
@click.option("--force", is_flag=True, help="Overwrite those three files if they exist in --out.")
def train(what, out, steps, seed, force):
    """Train the small causal model of the induction chapter from scratch (CPU, seeded), then measure its heads.

    It learns next-token prediction on sequences of a random Markov language with one segment repeated;
    nothing in the objective names a head. Writes only the three files named under --out.
    """
    from dataclasses import replace

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from mha_core.files import sha256_file
    from mha_core.induction import (
        CONFIG_FILE,
        SCORES_FILE,
        WEIGHTS_FILE,
        InductionConfig,
        differences,
        save,
        shipped_scores,
        train_and_measure,
    )

    names = (WEIGHTS_FILE, CONFIG_FILE, SCORES_FILE)
    target = check_path(out)
    try:
        mode = target.stat().st_mode  # a link to a folder is a folder the user chose
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise _usage_error(f"cannot use {out} as --out ({err.strerror}); give a folder for the model") from None
    if mode is not None and not stat.S_ISDIR(mode):
        raise _usage_error(f"{out} is {kind_of(mode) or 'a file'}, not a folder; give a folder for the model")
    if mode is not None:
        for name in names:  # each a new file, or with --force a regular one: never a device, FIFO or link
            _writable_target(out / name, force, name)
    else:
        parent = target  # the folder is made only when the work starts, and removed if the run ends without a model
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise _usage_error(f"{parent} is not a folder, so {out} cannot be made; choose another --out")
        try:
            tempfile.TemporaryFile(dir=parent).close()
        except OSError:
            raise _usage_error(f"cannot write to {out}; choose a folder you can write to") from None
    config = InductionConfig()
    config = replace(config, **{k: v for k, v in (("steps", steps), ("seed", seed)) if v is not None})
    shipped = shipped_scores() if config == InductionConfig() else None  # read now: --out may be the shipped folder
    console = Console(stderr=True)
    with _training_into(target, out):
        with Progress(TextColumn("training"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                      TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(), console=console) as progress:
            task = progress.add_task("train", total=config.steps, loss="–")
            model, scores, seconds = train_and_measure(
                config, progress=lambda step, loss: progress.update(task, completed=step, loss=f"{loss:.3f}"))
        try:
            weights = save(model, scores, target, seconds=seconds)  # each file written whole, then moved into place
        except FileError as err:  # one of the three became a device, FIFO, link or folder during training
            raise _usage_error(str(err)) from None
        except OSError as err:  # the folder changed during training, or the disk is full
            raise click.ClickException(f"cannot write the model into {out} ({err.strerror or type(err).__name__})") \
                from None
    _print_induction(scores)
    console.print(f"Trained in {seconds:.0f} s. Wrote {', '.join(str(out / n) for n in names)}.")
    console.print(f"SHA-256 of {weights.name}: {sha256_file(weights)}")
    if shipped is not None:
        diff = differences(scores, shipped)
        console.print("The shipped scores are reproduced within the tolerances." if not diff else
                      "Differs from the shipped scores beyond the tolerances: " + "; ".join(diff))


@contextlib.contextmanager
def _training_into(target: Path, out: Path):
    """The --out folder made if new and locked (flock on the folder itself) while ``train`` runs: a second
    train into it exits 2; a run that ends without its model (an error, Ctrl-C) removes the folders it made."""
    made = []
    folder = target
    while not folder.exists():
        made.append(folder)
        folder = folder.parent
    try:
        for folder in reversed(made):
            folder.mkdir()
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(folder_lock(target))
            except BlockingIOError:
                raise _usage_error(f"another mha-explainer is training into {out}; wait for it or choose another "
                                   "--out") from None
            yield
        made = []  # the model is written: the folders stay
    finally:
        for folder in made:  # innermost first; only empty ones (a file someone else put there stays)
            try:
                folder.rmdir()
            except OSError:
                break


# -- chapters ----------------------------------------------------------------


@main.command()
@click.option("--script", "script_folder", type=click.Path(path_type=Path, file_okay=False),
              help="Folder of the lesson's words (`script export` writes one): list its titles.")
def chapters(script_folder) -> None:
    """List the lesson's chapters, in order."""
    from scenes.lesson.script import load_scripts

    scripts = load_scripts(script_folder)  # ScriptError: exit 2
    for number, chapter_id in enumerate(CHAPTER_IDS, start=1):
        click.echo(f"{number:2d}. {chapter_id:<18} {scripts.title(chapter_id)}")


# -- script ------------------------------------------------------------------


@main.group()
def script() -> None:
    """The lesson's words as files an author or translator edits (render them with --script DIR)."""


@script.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite script files already in FOLDER.")
def script_export(folder, force):
    """Write the default scripts into FOLDER: one TOML file per chapter, and shared.toml.

    Change the words, keep the ids and {placeholders}; then `mha-explainer render --script FOLDER`
    (or script = "FOLDER" in lesson.toml). A chapter whose file you delete keeps the default words."""
    from scenes.lesson.script import export_scripts

    written = export_scripts(folder, force=force)  # FileError: exit 2
    click.echo(f"Wrote {len(written)} script files into {folder}. Edit them, then: "
               f"mha-explainer render --script {folder}")


# -- render ------------------------------------------------------------------


RENDER_HELP = f"""Render chapters (default: all) into videos and a lesson folder for a course page.

CHAPTER is one of: {", ".join(CHAPTER_IDS)} (in the order to play).
Writes OUT/chapters/NN-CHAPTER.mp4, the joined OUT/lesson.mp4 with chapter marks,
captions, a poster, a manifest and index.html. OUT must be new, empty or a lesson
folder this tool wrote; only files its manifest lists are replaced or deleted.
Unchanged chapters come from OUT/.mha-explainer/cache.
"""


@main.command(help=RENDER_HELP)
@click.argument("chapter_args", metavar="[CHAPTER]...", nargs=-1)
@lesson_options
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Chapters rendered at once, one process each. Default: one per CPU core.")
@click.option("--no-cache", is_flag=True, help="Render the chosen chapters again even if an identical render is cached.")
def render(chapter_args, config_file, jobs, no_cache, **overrides):
    """The chapters as videos and the lesson folder (help: RENDER_HELP)."""
    from rich.console import Console

    from scenes.render import RenderError, unchanged_folder
    from scenes.render.folder import OutputFolderError, owned_files, resolve_out

    if chapter_args:
        if overrides.get("chapters"):
            raise _usage_error("give the chapters either as arguments or with --chapters, not both")
        overrides["chapters"] = tuple(chapter_args)
    config = load_config(config_file, **overrides)  # validated once, before anything renders (ConfigError: exit 2)
    from scenes.voice import resolve_voice

    voice = resolve_voice(config.voice)  # missing or damaged: exit 2 now (VoiceError is a ConfigError); hashed once
    from scenes.lesson.script import load_scripts

    scripts = load_scripts(config.script)  # every id and placeholder checked now (ScriptError: exit 2)
    try:
        owned_files(resolve_out(config.out))  # whose folder: known before anything heavy is imported
    except OutputFolderError as err:
        raise _usage_error(str(err)) from None
    console = Console(stderr=True)
    manifest = None if no_cache else unchanged_folder(config, voice, scripts)
    if manifest is not None:  # nothing to do: no torch, no Manim, no Lesson to build
        console.print(f"Nothing changed since the last render into {config.out}: kept as it is "
                      "(--no-cache renders again).")
        _print_render_summary(console, manifest, config.out, cached=True)
        return
    from mha_core.minilm_files import ChecksumError, verify_model_files

    try:  # damaged weights: one sentence now, before the folder is touched (hashed once: the render reuses it)
        if "minilm" in (config.model, config.specialization_model):
            verify_model_files()
    except ValueError as err:  # ChecksumError, or the package missing
        raise _usage_error(str(err)) from None
    # Only a real render pays for these imports (torch, Manim: seconds).
    from scenes.render import render_lesson
    from scenes.render.export import ExportError

    try:
        result = render_lesson(config, jobs=jobs, use_cache=not no_cache, console=console, voice=voice,
                               scripts=scripts)
    except (OutputFolderError, ChecksumError) as err:  # busy, someone else's file in the way; damaged weights
        raise _usage_error(str(err)) from None
    except (RenderError, ExportError) as err:
        raise click.ClickException(str(err)) from None
    rendered = {ch.chapter_id: ch.render_seconds for ch in result.chapters if not ch.cached}
    _print_render_summary(console, json.loads(result.manifest.read_text(encoding="utf-8")), result.out,
                          rendered=rendered)


def _print_render_summary(console, manifest: dict, out: Path, *, rendered: dict | None = None,
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


# -- config ------------------------------------------------------------------


@main.group()
def config() -> None:
    """Write and check lesson.toml (every parameter a course author can set)."""


@config.command("init")
@click.argument("path", type=click.Path(path_type=Path), default="lesson.toml", required=False)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def config_init(path, force):
    """Write a commented default config to PATH (default: lesson.toml)."""
    from scenes.lesson.config import write_default_toml

    write_default_toml(path, force=force)  # ConfigError: exit 2
    click.echo(f"Wrote {path}. Edit it, then: mha-explainer render --config {path}")


@config.command("show")
@lesson_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of TOML.")
def config_show(config_file, as_json, **overrides):
    """Print the effective config: defaults <- --config FILE <- flags, with where each value came from."""
    from scenes.lesson.config import load_config_with_sources

    effective, sources = load_config_with_sources(config_file, **overrides)  # validated; ConfigError: exit 2
    if as_json:
        click.echo(json.dumps(effective.model_dump(mode="json"), indent=2))
    else:
        layers = ["defaults"] + [str(config_file)] * bool(config_file) + ["flags"] * ("flag" in sources.values())
        click.echo(f"# effective config: {' <- '.join(layers)}; "
                   f"video {effective.width}x{effective.height} at {effective.frame_rate} fps")
        click.echo(effective.to_toml(sources), nl=False)


if __name__ == "__main__":
    main()
