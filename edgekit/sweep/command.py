"""The `edgekit sweep` click command. Only click is imported at module level: `edgekit --help` lists
this command without importing TensorFlow or matplotlib. Registered in edgekit/cli.py."""

from __future__ import annotations

import sys
from pathlib import Path

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _progress(quiet: bool):  # -> Callable[[str], None]
    if quiet or not sys.stderr.isatty():
        return lambda _msg: None
    return lambda msg: click.echo(click.style(f"  … {msg}", dim=True), err=True)


@click.command("sweep", context_settings=CONTEXT)
@click.argument("models", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--target",
    "-t",
    "targets",
    multiple=True,
    required=True,
    metavar="BOARD",
    help="Board to budget against and recommend for (repeatable). See `edgekit targets`.",
)
@click.option(
    "--eval",
    "eval_data",
    type=click.Path(path_type=Path),
    required=True,
    metavar="DATA.npz",
    help="Held-out data with labels: arrays x and y. Candidates are ranked by int8 accuracy on it.",
)
@click.option(
    "--calib",
    metavar="DATA",
    help="Calibration data for int8 quantization (.npz x, .npy, image folder or 'random'). "
    "With --builder, default: 200 samples of the training data.",
)
@click.option(
    "--builder",
    metavar="FILE.py:FUNC",
    help="A function build(width) returning an uncompiled Keras model, as FILE.py:FUNCTION or "
    "MODULE:FUNCTION. edgekit imports and runs it: it is your own code, trusted like any script you run.",
)
@click.option("--widths", metavar="W,W,...", help="Widths to build with --builder, e.g. 0.25,0.5,1,2.")
@click.option(
    "--train",
    type=click.Path(path_type=Path),
    metavar="DATA.npz",
    help="Training data for --builder: arrays x and y (class indices).",
)
@click.option("--epochs", type=int, metavar="N", help="Training epochs per width with --builder (default 40).")
@click.option("--out", "-o", type=click.Path(path_type=Path), help="Output folder (default build/sweep).")
@click.option(
    "--targets-dir",
    "targets_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra folder of board TOML files (also: EDGEKIT_TARGETS_DIR).",
)
@click.option("--no-cache", is_flag=True, help="Recompute every candidate, even unchanged ones.")
@click.option("--json", "as_json", is_flag=True, help="Print sweep.json to stdout instead of the summary.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
def sweep_command(
    models: tuple[Path, ...],
    targets: tuple[str, ...],
    eval_data: Path,
    calib: str | None,
    builder: str | None,
    widths: str | None,
    train: Path | None,
    epochs: int | None,
    out: Path | None,
    targets_dirs: tuple[Path, ...],
    no_cache: bool,
    as_json: bool,
    quiet: bool,
) -> int:
    """Compare model sizes on accuracy, flash, RAM and latency per board, and recommend one per board.

    Candidates are MODEL files (.keras, .h5, SavedModel, int8 .tflite), or one builder function trained
    at several widths. Each is converted to int8, scored on --eval, and budgeted on every --target.
    Writes sweep.json, sweep.html (Pareto plots) and candidates/<id>/ (the models) into --out.
    Unchanged candidates are reused from the previous run in --out (content-hash cache).

    Exit 0 when something fits every board, 1 when nothing fits some board, 2 on bad input.

    \b
    Examples:
      edgekit sweep --builder examples/digits_family.py:build --widths 0.25,0.5,1,2 \\
          --train examples/digits_train.npz --eval examples/digits_eval.npz \\
          -t nano33ble -t rpi-pico -t blackpill-f401 --out build/sweep
      edgekit sweep small.keras big.keras --calib calib.npz --eval eval.npz -t nano33ble
    """
    from edgekit.errors import EXIT_OK, EXIT_VERDICT
    from edgekit.sweep.run import sweep

    result = sweep(
        models=models,
        targets=targets,
        eval_data=eval_data,
        calib=calib,
        out=out,
        builder=builder,
        widths=widths,
        train=train,
        epochs=epochs,
        targets_dirs=targets_dirs,
        use_cache=not no_cache,
        progress=_progress(quiet),
    )
    if as_json:
        click.echo((result.out_dir / "sweep.json").read_text(), nl=False)
    else:
        from edgekit.sweep.report import sweep_summary

        click.echo(sweep_summary(result))
    return EXIT_OK if result.all_boards_served else EXIT_VERDICT
