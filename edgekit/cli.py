"""The `edgekit` command line: click commands that call the stages and render their results.

Exit codes: 0 fits / ok, 1 a budget or accuracy gate failed, 2 bad input or usage.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from edgekit import __version__
from edgekit.errors import EXIT_OK, EXIT_USAGE, EXIT_VERDICT, EdgekitError, EmulationFailure

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _progress(quiet: bool):  # -> Callable[[str], None]
    if quiet or not sys.stderr.isatty():
        return lambda _msg: None
    return lambda msg: click.echo(click.style(f"  … {msg}", dim=True), err=True)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="edgekit")
def cli() -> None:
    """Prove that a small model fits a microcontroller or a Raspberry Pi, and how fast it runs there.

    \b
    Exit codes: 0 fits / ok, 1 does not fit a budget, 2 bad input or usage.
    """


max_latency_option = click.option(
    "--max-latency-ms",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MS",
    help="Latency budget per inference on every board: exit 1 when a board's figure exceeds it. "
    "A board without a latency figure says so in its verdict.",
)

targets_dir_option = click.option(
    "--targets-dir",
    "targets_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra folder of board TOML files (also: EDGEKIT_TARGETS_DIR).",
)


@cli.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--target",
    "-t",
    "targets",
    multiple=True,
    metavar="BOARD",
    help="Board to budget against (repeatable; default nano33ble). See `edgekit targets`.",
)
@click.option("--calib", metavar="DATA", help="Calibration data: .npz (x), .npy, image folder, or 'random'.")
@click.option(
    "--eval",
    "eval_data",
    type=click.Path(path_type=Path),
    metavar="DATA",
    help="Evaluation data: .npz (x and optional labels y) or .npy; default: the calibration data.",
)
@click.option("--out", "-o", type=click.Path(path_type=Path), help="Output folder (default build/<model name>).")
@targets_dir_option
@click.option(
    "--engine",
    type=click.Choice(["tflm", "edgekit"]),
    default="tflm",
    show_default=True,
    help="Which runtime the board verdict is for.",
)
@click.option("--no-emulate", is_flag=True, help="Skip building firmware and running it in QEMU.")
@max_latency_option
@click.option("--json", "as_json", is_flag=True, help="Print report.json to stdout instead of the summary.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
def convert(
    model: Path,
    targets: tuple[str, ...],
    calib: str | None,
    eval_data: Path | None,
    out: Path | None,
    targets_dirs: tuple[Path, ...],
    engine: str,
    no_emulate: bool,
    max_latency_ms: float | None,
    as_json: bool,
    quiet: bool,
) -> int:
    """Convert MODEL to int8 TFLite and ONNX, check them on your data, and budget them per board.

    MODEL is a .keras, .h5, SavedModel folder, .onnx or .tflite file. A Raspberry Pi target also
    gets OUT/pi/: the model, a LiteRT runner (run_model.py) and its pinned requirements.

    \b
    Example:
      edgekit convert examples/digits_cnn.keras --calib examples/digits_calib.npz \\
          --eval examples/digits_eval.npz --target nucleo-l4r5zi --target rpi-pico
    """
    from edgekit.convert.pipeline import convert as run_convert

    result = run_convert(
        model,
        targets=targets,
        calib=calib,
        eval_data=eval_data,
        out=out,
        targets_dirs=targets_dirs,
        progress=_progress(quiet),
        engine=engine,
        emulate=not no_emulate,
        max_latency_ms=max_latency_ms,
    )
    if as_json:
        click.echo((result.out_dir / "report.json").read_text(), nl=False)
    else:
        from edgekit.report.terminal import convert_summary

        click.echo(convert_summary(result, color=sys.stdout.isatty()))
    return EXIT_OK if result.fits else EXIT_VERDICT


@cli.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--target",
    "-t",
    "targets",
    multiple=True,
    metavar="BOARD",
    help="Board to check against (repeatable; default nano33ble).",
)
@click.option(
    "--engine",
    type=click.Choice(["tflm", "edgekit"]),
    default="tflm",
    show_default=True,
    help="Which runtime the budget is for.",
)
@targets_dir_option
@max_latency_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (report.json schema).")
def check(
    model: Path,
    targets: tuple[str, ...],
    engine: str,
    targets_dirs: tuple[Path, ...],
    max_latency_ms: float | None,
    as_json: bool,
) -> int:
    """Budget an int8 MODEL.tflite against boards: a cheap CI gate (no TensorFlow).

    Exit 0 when it fits every board, 1 when it does not fit one, 2 on bad input.

    \b
    Example:
      edgekit check build/digits_cnn/model_int8.tflite -t nano33ble -t rpi-pico
    """
    if model.suffix == ".tflite" and model.is_file():
        _prefetch_measurements(model.read_bytes(), targets, engine, targets_dirs)
    from edgekit.convert.pipeline import check as run_check

    result = run_check(
        model, targets=targets, engine=engine, targets_dirs=targets_dirs, max_latency_ms=max_latency_ms
    )
    if as_json:
        from edgekit.report.json_report import report_json

        click.echo(report_json(result).decode(), nl=False)
    else:
        from edgekit.report.terminal import check_summary

        click.echo(check_summary(result, color=sys.stdout.isatty()))
    return EXIT_OK if result.fits else EXIT_VERDICT


def _prefetch_measurements(data: bytes, names: tuple[str, ...], engine: str, targets_dirs: tuple[Path, ...]) -> None:
    """Start the slow measurements `check` will need in the background, before it parses the model."""
    from edgekit.convert.pipeline import DEFAULT_TARGET
    from edgekit.targets import get_target

    try:
        boards = [get_target(name, targets_dirs) for name in names or (DEFAULT_TARGET,)]
    except EdgekitError:
        return  # `check` itself reports it
    if engine == "tflm" and any(board.is_mcu for board in boards):
        from edgekit.ir.tflm_arena import prefetch_tflm_arena

        prefetch_tflm_arena(data)
    if not all(board.is_mcu for board in boards):
        from edgekit.pi.memory import prefetch_litert_memory

        prefetch_litert_memory(data)


@cli.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--calib",
    metavar="DATA",
    help="For a float model: calibration data for the int8 conversion (default: random inputs; "
    "shapes and MACs do not depend on it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
def analyze(model: Path, calib: str | None, as_json: bool) -> int:
    """Per-layer table of MODEL: shapes, params, MACs, bytes, quantization, op support, memory plan.

    A .tflite is read as it is, without TensorFlow; a Keras, SavedModel or ONNX model is analysed
    as the int8 TFLite that `edgekit convert` would make of it.

    \b
    Example:
      edgekit analyze model_int8.tflite
      edgekit analyze examples/digits_cnn.keras --json
    """
    from edgekit.analyze import analyze_model

    report = analyze_model(model, calib)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        from edgekit.report.analysis_table import analysis_text

        click.echo(analysis_text(report.model_file, report.analysis, report.plan, report.op_support, report.notes))
    return EXIT_OK


@cli.group(context_settings=CONTEXT)
def export() -> None:
    """Write a model as sources for firmware."""


@export.command("tflm", context_settings=CONTEXT)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option(
    "--name",
    default="model",
    show_default=True,
    help="Prefix of the files and symbols (snake_case), e.g. g_<name>_data.",
)
def export_tflm(model: Path, out: Path, name: str) -> int:
    """The TFLM bundle for an int8 MODEL.tflite: C array, op resolver with exactly its ops, arena size.

    \b
    Writes NAME_data.h / NAME_data.cc (16-byte aligned const array), NAME_ops.h
    (a MicroMutableOpResolver sized and filled for the model) and NAME_arena.h (the arena the
    tflite-micro interpreter measured, plus headroom).

    \b
    Example:
      edgekit export tflm build/digits_cnn/model_int8.tflite --out firmware/model
    """
    from edgekit.export import export_tflm as run_export

    for written in run_export(model, out, name):
        click.echo(str(written))
    return EXIT_OK


@export.command("pi", context_settings=CONTEXT)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
def export_pi(model: Path, out: Path) -> int:
    """The Raspberry Pi bundle for an int8 MODEL.tflite: the model, a LiteRT runner, pinned requirements.

    \b
    Writes model_int8.tflite, run_model.py (runs the model with ai_edge_litert on a .npy/.npz or a
    zero input, quantizes float data, prints or writes the int8 outputs and the latency over N runs),
    requirements.txt and README.md. `edgekit convert` writes the same into OUT/pi/ for a Pi target.

    \b
    Example:
      edgekit export pi build/digits_cnn/model_int8.tflite --out deploy/pi
      # on the Pi: pip install -r requirements.txt && python run_model.py --input x.npy
    """
    from edgekit.export import export_pi as run_export

    for written in run_export(model, out):
        click.echo(str(written))
    return EXIT_OK


@export.command("c", context_settings=CONTEXT)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--name", default="model", show_default=True, help="Prefix of the files and C symbols.")
@click.option("--kernels", type=click.Choice(["reference", "arm_dsp"]), default="reference", show_default=True,
              help="Kernel family: portable C, or Arm DSP (SMLAD) for Cortex-M4/M7/M33.")
def export_c(model: Path, out: Path, name: str, kernels: str) -> int:
    """edgekit's own C engine for an int8 MODEL.tflite: no interpreter, static arena, bit-exact with TFLM.

    \b
    Writes NAME.h / NAME.c (int NAME_invoke(const int8_t *in, int8_t *out), NAME_ARENA_SIZE, ...)
    and the kernels the model needs; the folder compiles on its own (cc -c *.c). With --kernels
    arm_dsp the kernels that have a DSP version use it (same results; build with -mcpu=cortex-m4 or
    another core with the DSP extension for the fast path, other compilers get portable C).

    \b
    Example:
      edgekit export c build/digits_cnn/model_int8.tflite --out firmware/model
    """
    from edgekit.export import export_c as run_export

    for written in run_export(model, out, name, family=kernels):
        click.echo(str(written))
    return EXIT_OK


def _board_model(source: Path) -> Path:
    """A convert output folder (its model_int8.tflite) or a .tflite file."""
    model = source / "model_int8.tflite" if source.is_dir() else source
    if not model.is_file():
        raise EdgekitError(source, "expected an `edgekit convert` output folder or an int8 .tflite file")
    return model


def board_build_options(command: Callable[..., int]) -> Callable[..., int]:
    """SOURCE, --target, --opt and --out: shared by `firmware` and `emulate`."""
    command = click.option(
        "--out",
        "-o",
        type=click.Path(path_type=Path),
        help="Where to write (default SOURCE/boards/BOARD for a convert folder).",
    )(command)
    command = click.option("--opt", default="-O2", show_default=True, help="Optimisation level: -O2, -O3, -Os, ...")(
        command
    )
    command = click.option(
        "--target",
        "-t",
        "targets",
        multiple=True,
        required=True,
        metavar="BOARD",
        help="Microcontroller board (repeatable).",
    )(command)
    return click.argument("source", type=click.Path(path_type=Path))(command)


@cli.command(context_settings=CONTEXT)
@board_build_options
@targets_dir_option
def firmware(source: Path, targets: tuple[str, ...], opt: str, out: Path | None, targets_dirs: tuple[Path, ...]) -> int:
    """Build the edgekit engine into firmware for each board with arm-none-eabi-gcc (no run).

    SOURCE is an `edgekit convert` output folder or an int8 .tflite. Writes firmware.elf, .bin, .hex
    and .map, and the engine sources, per board; the images embed two test input vectors and a
    harness that reports outputs over semihosting (see `edgekit emulate`).

    \b
    Example:
      edgekit firmware build/digits_cnn --target nucleo-l4r5zi --opt -Os
    """
    from edgekit.board_command import build_boards

    for folder in build_boards(_board_model(source), source, targets, opt, out, targets_dirs):
        click.echo(str(folder))
    return EXIT_OK


@cli.command(context_settings=CONTEXT)
@board_build_options
@click.option("--timeout", "timeout_s", default=300.0, show_default=True, help="Seconds before a hang is declared.")
@targets_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def emulate(
    source: Path,
    targets: tuple[str, ...],
    opt: str,
    out: Path | None,
    timeout_s: float,
    targets_dirs: tuple[Path, ...],
    as_json: bool,
) -> int:
    """Build firmware for each board, run it in QEMU, prove its outputs, count instructions.

    A Raspberry Pi board (rpi-zero-2w, rpi3bp, rpi4-*, rpi5-*) gets the engine with NEON kernels
    cross-compiled for its Cortex-A core (aarch64-linux-gnu-gcc, static) and run under qemu-aarch64;
    its ms are single-thread estimates from docs/cycle_model_aarch64.md.

    SOURCE is an `edgekit convert` output folder or an int8 .tflite. The edgekit engine is built with
    arm-none-eabi-gcc for the board's core and run on the QEMU machine with that core; its outputs must
    equal the host build's and the tflite-micro interpreter's byte for byte (else exit 1, naming the
    first differing byte). Instructions are measured per layer; cycles and ms are estimated from a
    per-core cycle model (docs/cycle_model.md) at the board's clock.

    \b
    Example:
      edgekit emulate build/digits_cnn --target nucleo-l4r5zi --target corstone-300
      edgekit emulate model_int8.tflite --target rpi4-2gb
    """
    from edgekit.board_command import emulate_boards

    runs = emulate_boards(_board_model(source), source, targets, opt, out, timeout_s, targets_dirs)
    from edgekit.report.terminal import emulation_summary

    if as_json:
        click.echo(json.dumps([run.as_dict() for run in runs], indent=2))
    else:
        click.echo(emulation_summary(runs))
    return EXIT_OK if all(run.first_difference() is None for run in runs) else EXIT_VERDICT


@cli.command(context_settings=CONTEXT)
@targets_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the boards as JSON.")
def targets(targets_dirs: tuple[Path, ...], as_json: bool) -> int:
    """List the boards edgekit knows, with their core, clock, RAM and flash.

    \b
    Example:
      edgekit targets
      EDGEKIT_TARGETS_DIR=my_boards edgekit targets --json
    """
    from edgekit.report.format import table
    from edgekit.targets import load_targets, targets_table

    rows = targets_table(list(load_targets(targets_dirs).values()))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return EXIT_OK
    from edgekit.report.format import kib

    headers = ["board", "title", "core", "MHz", "RAM", "flash", "usable RAM", "usable flash", "emulated on"]
    cells = [
        [
            r["name"],
            r["title"],
            r["core"],
            f"{r['clock_mhz']:g}",
            kib(r["ram_kib"] * 1024),
            kib(r["flash_kib"] * 1024),
            kib(r["usable_ram_kib"] * 1024),
            kib(r["usable_flash_kib"] * 1024),
            r["qemu_machine"],
        ]
        for r in rows
    ]
    click.echo(table(headers, cells))
    click.echo("\nusable = total minus the reserve for the application (or the OS) in the board's TOML file.")
    return EXIT_OK


_interrupted: list[int] = []  # signals received; a library may turn the interrupt into its own error


def _interrupt(signum: int, _frame: object) -> None:
    # SIGTERM (a CI job cancelled, `timeout`) ends the run like Ctrl-C does: through the finally
    # blocks that remove the half-written staging folder.
    _interrupted.append(signum)
    raise KeyboardInterrupt


def _exit_interrupted() -> None:
    # The finally blocks have already removed the staging folder. An interrupt can leave TensorFlow
    # objects half-built, and their __del__ prints a traceback during normal interpreter teardown:
    # flush and leave without that teardown.
    click.echo("edgekit: interrupted; the output folder was left as it was", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _register_plugins() -> None:
    from edgekit.sweep.command import sweep_command

    cli.add_command(sweep_command)


_register_plugins()


def main(argv: list[str] | None = None) -> None:
    """The console command: the process ends when this returns."""
    import signal

    try:
        run_command(argv)
    finally:
        # The run is over and its output in place (or left as it was). Python's teardown puts the
        # default signal actions back and TensorFlow's teardown takes a second or two: a signal then
        # would kill the process, and the caller would see a signal instead of edgekit's exit code.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_command(argv: list[str] | None = None) -> None:
    """Run one command line and leave through SystemExit with its exit code (usable in-process)."""
    import signal

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        code = cli.main(args=argv, prog_name="edgekit", standalone_mode=False)
    except Exception as exc:
        # The interrupt is raised wherever Python happens to be, which may be inside TensorFlow: it can
        # come out as a conversion failure or even a SystemError from a half-run C call. Once a signal
        # has arrived, the run was interrupted, whatever it turned into.
        if _interrupted:
            _exit_interrupted()
        _exit_for(exc)
    except KeyboardInterrupt:
        _exit_interrupted()
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _exit_for(exc: Exception) -> None:
    if isinstance(exc, EmulationFailure):
        click.echo(exc.message(), err=True)
        sys.exit(EXIT_VERDICT)
    if isinstance(exc, EdgekitError):
        click.echo(exc.message(), err=True)
        sys.exit(EXIT_USAGE)
    if isinstance(exc, click.exceptions.Exit):
        sys.exit(exc.exit_code)
    if isinstance(exc, click.Abort):
        _exit_interrupted()
    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(EXIT_USAGE)
    raise exc


if __name__ == "__main__":
    main()
