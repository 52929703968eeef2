"""mha-explainer: the command line.

    mha-explainer inspect --sentence "The cat sat down." --heads 2 --d-model 8
    mha-explainer render                  # the whole lesson into media/
    mha-explainer chapters
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import stat
import sys
import tempfile
from pathlib import Path

import click

import cli_output as output
import mha_core
from mha_core.files import FileError, check_path, folder_lock, kind_of
from scenes.lesson.chapters import CHAPTER_IDS
from scenes.lesson.config import ConfigError, load_config
from scenes.lesson.flags import FLAGS, MODEL_KEYS, VALUE_FLAGS, flag_choices, flag_help


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


def _value_dest(flag: str) -> str:
    """The parameter of a value flag: "--scorm-lean" -> "scorm_lean" (folded into its key before the command runs)."""
    return flag.removeprefix("--").replace("-", "_")


def _folding_value_flags(command, keys):
    """``command`` taking each value flag given as its key's value: ``--scorm-lean`` is ``scorm="lean"`` (it wins
    over ``--scorm``/``--no-scorm``, as the more precise of the two)."""
    flags = {_value_dest(flag): (key, value) for flag, (key, value, _) in VALUE_FLAGS.items()
             if keys is None or key in keys}
    if not flags:
        return command

    @functools.wraps(command)
    def run(*args, **kwargs):
        for dest, (key, value) in flags.items():
            if kwargs.pop(dest, False):
                kwargs[key] = value
        return command(*args, **kwargs)

    return run


def lesson_options(command=None, *, keys: tuple[str, ...] | None = None, extra: dict | None = None):
    """Add ``--config FILE`` and one flag per LessonConfig field (scenes.lesson.flags.FLAGS) to a click command,
    and the flags that set a field to one value (``VALUE_FLAGS``: ``--scorm-lean``).

    The command receives ``config_file`` and keyword arguments named like the fields
    (``None`` / ``()`` when not given), ready for ``load_config(config_file, **overrides)``.
    ``keys`` limits the flags to those fields (``@lesson_options(keys=MODEL_KEYS)``); a
    config file may still set any key. ``extra``: key -> more values a choice flag takes
    (handled by the command before the config is loaded).
    """
    if command is None:
        return lambda command: lesson_options(command, keys=keys, extra=extra)
    command = _folding_value_flags(command, keys)
    for flag, (key, short, kind) in reversed(list(FLAGS.items())):
        if keys is not None and key not in keys:
            continue
        decls = [flag, key] if short is None else [flag, short, key]
        settings = {"multiple": True} if kind == "multiple" else {}
        if key == "chapters":
            settings["metavar"] = "ID,ID,..."
        if key == "logo":
            settings["metavar"] = "FILE"
        more = (extra or {}).get(key, ())
        help_text = flag_help(key) + (f" Also: {', '.join(more)}." if more else "")
        for value_flag, (value_key, _, value_help) in reversed(list(VALUE_FLAGS.items())):
            if value_key == key:  # listed after the key's own flag
                command = click.option(value_flag, _value_dest(value_flag), is_flag=True, default=False,
                                       help=value_help)(command)
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
                   "\"0 38 46 0\"). Default: the lesson's example, random syllables, a segment, then the same segment again.")
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
    from scenes.lesson.build import lesson_model

    try:
        model = lesson_model(config)
    except ValueError as err:  # an unusable device
        raise _usage_error(str(err)) from None
    layer, focus_head = _focus_of(config, model, lesson_head=overrides.get("head") == "auto")
    trace = _trace_for(config, layer, model)
    shown = _shown_heads(config.head, focus_head, trace.n_head)
    profiles = _profiles_for(model, layer)
    if profiles is not None:
        profiles = [p for p in profiles if p.head in shown]
    if save is not None:
        _save(trace, save)  # every head: the file is the whole trace, whatever --head shows
    if as_json:
        click.echo(output.to_json(output.inspect_json(trace, profiles, shown, layer)))
    else:
        output.print_tables(trace, profiles, digits, output.model_title(config.model, layer), shown)
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
    from mha_core.induction import encode, example_sequence
    from mha_core.models import load_model

    model = load_model("induction", config.device)  # the shipped weights, with their measured heads and scores
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
        click.echo(output.to_json(output.induction_inspect_json(trace, shown, ids, layer, scores)))
        return
    output.print_tables(trace, None, digits, output.model_title(model.name, layer), shown)
    output.print_induction_heads(scores, layer, shown)
    if save is not None:
        click.echo(f"Saved {len(trace.tensors())} tensors to {save}")


def _focus_of(config, model, lesson_head: bool = False) -> tuple[int | None, int | None]:
    """The layer of the trained ``model`` to trace, 0-based (the one set, numbered from 1, or with auto the focus
    head's layer; None for the untrained toy model) and, with ``lesson_head`` (--head auto), the head the lesson
    works through, 0-based."""
    if not model.trained:
        return None, (0 if lesson_head else None)  # the toy lesson works through head 1 (resolve_focus)
    if config.layer != "auto" and not lesson_head:
        return config.layer - 1, None
    from mha_core.relations import relation_heads_of
    from scenes.lesson.build import resolve_focus

    try:
        focus = resolve_focus(config, model, tuple(relation_heads_of(model)))
    except ValueError as err:  # e.g. a sentence longer than MiniLM's 512 word pieces
        raise _usage_error(str(err)) from None
    return focus.layer, (focus.head if lesson_head else None)


def _shown_heads(head, focus_head: int | None, n_head: int) -> list[int]:
    """The heads inspect prints, 0-based: ``head`` (the config's, numbered from 1 and checked by it), the
    lesson's head for --head auto, else every head (head = "auto" in a file is the default: every head)."""
    if head != "auto":
        return [head - 1]
    return list(range(n_head)) if focus_head is None else [focus_head]


def _trace_for(config, layer: int | None, model):
    """The trace of ``config``'s sentence by ``model`` (the config's, as loaded) at ``layer``: the lesson's own
    (scenes.lesson.build), so inspect prints the numbers the mechanics chapters show."""
    from scenes.lesson.build import mechanics

    try:  # (a causal MiniLM is refused by the config: MiniLM is a bidirectional encoder)
        return mechanics(config, layer, model)[1]
    except ValueError as err:  # e.g. a sentence longer than MiniLM's 512 word pieces
        raise _usage_error(str(err)) from None


def _profiles_for(model, layer):
    """The trained model's heads of ``layer`` profiled over the corpus (None: untrained, nothing measured)."""
    if not model.trained:
        return None
    from mha_core.analysis import corpus_profiles_of

    return corpus_profiles_of(model, layer)


def _save(trace, path: Path) -> None:
    # Written under a temporary name and moved into place (mha_core.files.save_safetensors).
    try:
        trace.save(path.expanduser())
    except FileError as err:  # the path became a device, FIFO, link or folder since _writable_target
        raise _usage_error(str(err)) from None
    except OSError as err:  # the folder changed since _writable_target, or the disk is full
        raise _usage_error(f"cannot write {path} ({err.strerror or type(err).__name__}); "
                           "choose another path") from None


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
    from mha_core.models import load_model

    if model == "induction":
        from mha_core.induction import measure

        scores = measure(load_model("induction", config.device))  # measured now, not read
        if as_json:
            click.echo(output.to_json(output.induction_table(scores)))
        else:
            output.print_induction(scores)
        return
    from mha_core.relations import head_table_of, relation_heads_of

    try:
        measured = load_model(model, config.device)
        results = relation_heads_of(measured)
        table = head_table_of(measured)
    except ValueError as err:  # a missing or malformed probe set (ProbeSetError), an unusable device
        raise _usage_error(str(err)) from None
    if as_json:
        click.echo(output.to_json(table))
    else:
        output.print_heads(table, results)


# -- train -------------------------------------------------------------------


@main.command()
@click.argument("what", type=click.Choice(["induction"]))
@click.option("--out", "-o", type=click.Path(path_type=Path, file_okay=False), default=Path("induction-model"),
              show_default=True, help="Folder to write model.safetensors, config.json and scores.json into.")
@click.option("--steps", type=click.IntRange(1, 1_000_000), default=None,
              help="Training steps. Default: those the shipped weights were trained with.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None,
              help="Seed of the weights and the batches. Default: the shipped weights' seed.")
@click.option("--force", is_flag=True, help="Overwrite those three files if they exist in --out.")
def train(what, out, steps, seed, force):
    """Train the small causal model of the induction chapter from scratch (CPU, seeded), then measure its heads.

    It learns next-token prediction on sequences of random tokens in which a segment is repeated;
    nothing in the objective names a head. Writes only the three files named under --out.
    """
    from dataclasses import replace

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
    console = output.stderr_console()
    with _training_into(target, out):
        with output.training_progress(console, config.steps) as update:
            model, scores, seconds = train_and_measure(config, progress=update)
        try:
            weights = save(model, scores, target, seconds=seconds)  # each file written whole, then moved into place
        except FileError as err:  # one of the three became a device, FIFO, link or folder during training
            raise _usage_error(str(err)) from None
        except OSError as err:  # the folder changed during training, or the disk is full
            raise click.ClickException(f"cannot write the model into {out} ({err.strerror or type(err).__name__})") \
                from None
    output.print_induction(scores)
    output.print_training_summary(console, seconds, out, names, weights.name, sha256_file(weights),
                                  None if shipped is None else differences(scores, shipped))


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
    for line in output.chapter_lines(CHAPTER_IDS, scripts.title):
        click.echo(line)


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
Unchanged chapters come from the render cache, outside OUT (--cache; `mha-explainer
cache info` shows it), so OUT holds only the lesson and can be served as it is.
"""


@main.command(help=RENDER_HELP)
@click.argument("chapter_args", metavar="[CHAPTER]...", nargs=-1)
@lesson_options
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Chapters rendered at once, one process each. Default: one per CPU core.")
@click.option("--no-cache", is_flag=True, help="Render the chosen chapters again even if an identical render is cached.")
def render(chapter_args, config_file, jobs, no_cache, **overrides):
    """The chapters as videos and the lesson folder (help: RENDER_HELP)."""
    from scenes.render import RenderError, unchanged_folder
    from scenes.render.cache_folder import cache_location, check_cache_folder
    from scenes.render.folder import OutputFolderError, owned_files, resolve_out

    if chapter_args:
        if overrides.get("chapters"):
            raise _usage_error("give the chapters either as arguments or with --chapters, not both")
        overrides["chapters"] = tuple(chapter_args)
    config = load_config(config_file, **overrides)  # validated once, before anything renders (ConfigError: exit 2)
    from scenes.voice import resolve_voice

    voice = resolve_voice(config.voice)  # missing or damaged: exit 2 now (VoiceError is a ConfigError); hashed once
    from scenes.lesson.fonts import FONT
    from scenes.lesson.script import check_font, load_scripts

    scripts = load_scripts(config.script)  # every id and placeholder checked now (ScriptError: exit 2)
    check_font(scripts, config.font or FONT)  # and every word drawable in the lesson's font
    try:
        owned_files(resolve_out(config.out))  # whose folder: known before anything heavy is imported
        check_cache_folder(cache_location(config.cache), resolve_out(config.out))  # and whose cache
        from scenes.render.chapter_store import is_store

        if is_store(config.cache):  # and the store behind it: reachable, and ours or new
            from scenes.render.cache_folder import limit_bytes
            from scenes.render.chapter_store import open_store

            open_store(config.cache, limit_bytes(config.cache_size))
    except OutputFolderError as err:
        raise _usage_error(str(err)) from None
    console = output.stderr_console()
    manifest = None if no_cache else unchanged_folder(config, voice, scripts)
    if manifest is not None:  # nothing to do: no torch, no Manim, no Lesson to build
        console.print(f"Nothing changed since the last render into {config.out}: kept as it is "
                      "(--no-cache renders again).")
        output.print_render_summary(console, manifest, config.out, cached=True)
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
    output.print_render_summary(console, json.loads(result.manifest.read_text(encoding="utf-8")), result.out,
                                rendered=rendered)


# -- course ------------------------------------------------------------------


COURSE_HELP = """Render a course: every lesson of COURSE_FILE (a matrix of lesson settings) into one folder.

COURSE_FILE holds a title, a [lesson] table (any lesson.toml key: the base of every lesson), a
[matrix] table of lists (the course is every combination) and optional [[lessons]] entries
(single variants); at most 200 lessons. Every lesson is checked before anything renders.
Writes OUT/index.html (the course page), OUT/course.json (what rendered where) and one lesson
folder per lesson, OUT/NAME/, named from its settings, as `render` writes it. Chapters come from
a shared cache: a second run, or a course that shares lessons with another, renders only what
changed. By default the chapters render in local processes; with --scheduler (or
DASK_SCHEDULER_ADDRESS) on a Dask distributed cluster.
"""


@main.command(help=COURSE_HELP)
@click.argument("course_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "-o", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Course folder (new, empty or a course folder this tool wrote). Default: beside COURSE_FILE, "
                   "named after it (course.toml -> course/).")
@click.option("--scheduler", envvar="DASK_SCHEDULER_ADDRESS", default=None, metavar="ADDRESS",
              help="Render the chapters on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:PORT; also "
                   "DASK_SCHEDULER_ADDRESS). Default: local processes.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
              help="Chapters rendered at once by local processes. Default: one per CPU core (with --scheduler, "
                   "the cluster's workers decide).")
@click.option("--cache", "cache", default=None, metavar="FOLDER|URL",
              help="Render cache shared by lessons and courses: a folder or a file:// URL that every worker "
                   "reaches, or an object store's URL (s3://bucket/renders, through fsspec) the workers share, each "
                   "with its own local cache in front. Default: cache = in COURSE_FILE, else the user's cache "
                   "folder (`mha-explainer cache info` shows it).")
@click.option("--dry-run", is_flag=True, help="Print the plan (lessons, chapters, already cached, left to render) "
                                              "and render nothing.")
def course(course_file, out, scheduler, jobs, cache, dry_run):
    """A course (help: COURSE_HELP)."""
    from scenes.render.course_file import read_course
    from scenes.render.folder import OutputFolderError

    plan_of = read_course(course_file, out)  # every lesson checked (CourseFileError is a ConfigError: exit 2)
    out = Path(out) if out is not None else course_file.parent / course_file.stem
    console = output.stderr_console()
    engine = None
    if scheduler and not dry_run:
        from scenes.render.engines import DaskEngine, EngineError

        try:  # unreachable: one sentence now, before anything is built or written
            engine = DaskEngine(scheduler)
        except EngineError as err:
            raise _usage_error(str(err)) from None
    try:
        from mha_core.minilm_files import verify_model_files

        if any("minilm" in (l.config.model, l.config.specialization_model) for l in plan_of.lessons):
            try:
                verify_model_files()
            except ValueError as err:
                raise _usage_error(str(err)) from None
        from scenes.render.course import CourseError, plan_course, render_course
        from scenes.render.engines import LocalEngine
        from scenes.render.pipeline import RenderError

        try:
            with console.status("Planning the course…") as status:
                plan = plan_course(plan_of, out, cache, dry_run=dry_run, progress=status.update)
        except OutputFolderError as err:
            raise _usage_error(str(err)) from None
        if dry_run:
            output.print_course_plan(console, plan)
            return
        try:
            result = render_course(plan, engine or LocalEngine(jobs), jobs=jobs, console=console)
        except OutputFolderError as err:
            raise _usage_error(str(err)) from None
        except (CourseError, RenderError) as err:
            raise click.ClickException(str(err)) from None
        output.print_course_summary(console, result)
    finally:
        if engine is not None:
            engine.close()


# -- cache -------------------------------------------------------------------


@main.group()
def cache() -> None:
    """The render cache: chapters, speech and joined lessons kept for the next render, outside every lesson folder."""


_CACHE_OPTION = click.option(
    "--cache", "location", default=None, metavar="FOLDER|URL",
    help="The cache to show or clear (a folder or a file:// URL; a store's URL: this machine's cache in front of "
         "it, and what the store holds). Default: cache = in --config, else the user's cache folder.")
_CONFIG_OPTION = click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
                              help="lesson.toml whose cache (and cache_size) to use.")


def _cache_of(config_file, location):
    """(cache folder, size bound in GB, the store's URL or None) from --cache, else --config's cache, else the
    default (exit 2 if bad)."""
    from scenes.render.cache_folder import cache_location
    from scenes.render.folder import OutputFolderError
    from scenes.render.chapter_store import is_store

    config = load_config(config_file, cache=location)
    try:
        return cache_location(config.cache), config.cache_size, config.cache if is_store(config.cache) else None
    except OutputFolderError as err:
        raise _usage_error(str(err)) from None


@cache.command("info")
@_CACHE_OPTION
@_CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def cache_info(location, config_file, as_json):
    """Where the render cache is, what it holds and its size bound."""
    from scenes.render.cache_folder import check_cache_folder, limit_bytes, usage
    from scenes.render.folder import OutputFolderError

    root, size_gb, url = _cache_of(config_file, location)
    stored = None
    try:
        check_cache_folder(root)  # a folder of someone else's is not called empty
        if url is not None:
            from scenes.render.chapter_store import open_store

            stored = (url, *open_store(url, limit_bytes(size_gb), create=False).usage())  # reads only
    except OutputFolderError as err:
        raise _usage_error(str(err)) from None
    found = usage(root)
    if as_json:
        click.echo(output.to_json(output.cache_json(found, limit_bytes(size_gb), stored)))
    else:
        output.print_cache_info(output.stdout_console(), found, limit_bytes(size_gb), size_gb, stored)


@cache.command("clear")
@_CACHE_OPTION
@_CONFIG_OPTION
@click.option("--yes", "-y", is_flag=True, help="Clear without asking.")
def cache_clear(location, config_file, yes):
    """Delete what the render cache holds (the next render renders every chapter again). Files the tool did not
    write there are left alone."""
    from scenes.render.cache_folder import check_cache_folder, clear, usage
    from scenes.render.folder import OutputFolderError

    root, _, url = _cache_of(config_file, location)
    try:
        check_cache_folder(root)
    except OutputFolderError as err:
        raise _usage_error(str(err)) from None
    if url is not None:
        click.echo(f"The store {url} is left as it is: mha-explainer never deletes there (its owner's lifecycle "
                   "rules do); this clears this machine's cache in front of it.", err=True)
    found = usage(root)
    if not found.total:
        click.echo(f"The render cache {root} is empty.")
        return
    if not yes:
        click.confirm(f"Delete {output.size_text(found.total)} of renders from {root}?", abort=True, err=True)
    freed = clear(root)
    click.echo(f"Cleared the render cache {root}: {output.size_text(freed)} freed.")


# -- config ------------------------------------------------------------------


@main.group()
def config() -> None:
    """Write and check lesson.toml (every parameter a course author can set)."""


@config.command("init")
@click.argument("path", type=click.Path(path_type=Path), default="lesson.toml", required=False)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def config_init(path, force):
    """Write a commented default config to PATH (default: lesson.toml)."""
    from scenes.lesson.lesson_toml import write_default_toml

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
        click.echo(output.config_json(effective))
    else:
        click.echo(output.config_text(effective, sources, config_file), nl=False)


if __name__ == "__main__":
    main()
