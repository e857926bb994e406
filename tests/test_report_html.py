"""report.html, rendered from real reports: the example converted, and a model that does not fit."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_CALIB, EXAMPLE_EVAL, EXAMPLE_MODEL, REPO, run_edgekit, shared_model

from edgekit.report.html import report_html

EXAMPLE_TARGETS = ("nucleo-l4r5zi", "rpi-pico")
SECTIONS = ("verdict", "layers", "compute", "memory", "artifacts", "accuracy", "notes")


def example_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example converted once per test session: the browser test reads the same folder."""
    out = tmp_path_factory.getbasetemp() / "report-example"
    if not (out / "report.json").exists():
        targets = [arg for name in EXAMPLE_TARGETS for arg in ("-t", name)]
        run = run_edgekit(
            "convert", EXAMPLE_MODEL, "--calib", EXAMPLE_CALIB, "--eval", EXAMPLE_EVAL, *targets, "--out", out
        )
        assert run.code == 0, run.stdout + run.stderr
    return out


def vww_check_report() -> dict[str, Any]:
    """`edgekit check --json` on a model that is far too big for a Black Pill."""
    model = shared_model("mlcommons_tiny/vww_96_int8.tflite")
    run = run_edgekit("check", model, "-t", "blackpill-f401", "--json")
    assert run.code == 1, run.stdout + run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return json.loads((example_out(tmp_path_factory) / "report.json").read_text())


@pytest.fixture(scope="module")
def example_html(example: dict[str, Any]) -> str:
    return report_html(example)


@pytest.fixture(scope="module")
def vww() -> dict[str, Any]:
    return vww_check_report()


@pytest.fixture(scope="module")
def vww_html(vww: dict[str, Any]) -> str:
    return report_html(vww)


def _cards(page: str) -> dict[str, str]:
    """Each target's card, by target name."""
    found = re.findall(r'<article class="card (\w+)" data-target="([^"]+)">(.*?)</article>', page, re.DOTALL)
    return {name: f"{state}\n{body}" for state, name, body in found}


def test_page_references_nothing_outside_itself(example_html: str, vww_html: str) -> None:
    for page in (example_html, vww_html):
        assert not re.search(r"https?:", page, re.IGNORECASE)
        assert '<link rel="stylesheet"' not in page and "@import" not in page and "src=" not in page
        for target in re.findall(r'href="([^"]*)"', page):
            assert target.startswith(("#", "data:")), target
        for target in re.findall(r"url\(([^)]*)\)", page):
            assert target.startswith("#"), target
        # The page forbids every fetch itself, so a reference slipped in later fails loudly in a browser.
        assert "default-src 'none'" in page


def test_text_from_the_report_is_escaped_and_never_spells_a_url(example: dict[str, Any]) -> None:
    report = copy.deepcopy(example)
    report["notes"] = ["see https://example.org/a?b=1 <script>alert(1)</script>"]
    page = report_html(report)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "://" not in page
    assert "https:&#47;&#47;example.org/a?b=1" in page  # shows as the same text


def test_same_report_same_bytes(example: dict[str, Any], example_html: str, tmp_path: Path) -> None:
    assert report_html(copy.deepcopy(example)) == example_html
    # A fresh process (another hash seed) with a user's matplotlibrc that changes colours and fonts.
    rc_dir = tmp_path / "mplconfig"
    rc_dir.mkdir()
    (rc_dir / "matplotlibrc").write_text("axes.facecolor: red\nfont.size: 20\nsvg.fonttype: none\nsvg.hashsalt: x\n")
    source = tmp_path / "report.json"
    source.write_text(json.dumps(example))
    probe = (
        "import hashlib, json, sys\nfrom edgekit.report.html import report_html\n"
        f"page = report_html(json.loads(open({str(source)!r}).read()))\n"
        "print(hashlib.sha256(page.encode()).hexdigest())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "MPLCONFIGDIR": str(rc_dir), "PYTHONHASHSEED": "random"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == hashlib.sha256(example_html.encode()).hexdigest()


def test_every_section_is_there(example: dict[str, Any], example_html: str) -> None:
    page = example_html
    positions = [page.index(f'<section id="{key}">') for key in SECTIONS]
    assert positions == sorted(positions)  # verdict first
    for figure in ("plot-budget", "plot-macs", "plot-memory", "plot-sizes"):
        match = re.search(rf'<figure id="{figure}">\s*<svg class="plot"[^>]*viewBox="0 0 ([\d.]+) ([\d.]+)"', page)
        assert match, figure
        assert float(match.group(1)) > 100 and float(match.group(2)) > 50
    # convert emulated the example on each microcontroller when the toolchain is installed
    assert ('<figure id="plot-time">' in page) is bool(example.get("emulation"))

    table = re.search(r'<table id="layer-table".*?</table>', page, re.DOTALL)
    assert table
    layers = example["analysis"]["layers"]
    assert table.group(0).count("<tr>") == len(layers) + 2  # header, one per layer, totals
    for title in ("op", "input", "output", "params", "MACs", "weight bytes", "activation bytes"):
        assert f">{title}</th>" in table.group(0), title
    assert f">{layers[4]['macs']:,}</td>" in table.group(0)

    for artifact in example["artifacts"]:
        assert f"<code>{artifact['file']}</code>" in page
    accuracy = page[page.index('<section id="accuracy">') : page.index('<section id="notes">')]
    assert accuracy.count("<tr>") == len(example["validation"]) + 1
    assert "96.7%" in accuracy  # the float model's accuracy on the eval data
    for size in example["sizes"]:
        assert f"<td>{size['format']}</td>" in page


def test_a_model_that_fits_says_so(example_html: str) -> None:
    assert 'class="overall fits"' in example_html and "Fits every target (2)" in example_html
    cards = _cards(example_html)
    assert set(cards) == set(EXAMPLE_TARGETS)
    for card in cards.values():
        assert card.startswith("fits") and "gauge over" not in card and "headroom" in card


def test_a_model_that_does_not_fit_is_marked(vww: dict[str, Any], vww_html: str) -> None:
    page = vww_html
    assert 'class="overall over"' in page and "Does not fit: blackpill-f401" in page
    assert '<body class="verdict-over">' in page
    card = _cards(page)["blackpill-f401"]
    assert card.startswith("over")
    assert '<span class="badge">does not fit</span>' in card
    assert vww["targets"][0]["reason"] in card  # "RAM over by 61,888 B; flash over by ..."
    assert card.count('<div class="gauge over">') == 2
    assert "over by 60.4 KiB" in card
    # A check report has no artifacts or accuracy, and says so instead of showing empty tables.
    assert "No artifacts: this report budgets the model file as given" in page
    assert "No accuracy figures" in page
    # The board's 64 KiB is on the activations' scale (peak 54 KiB), so the timeline draws it.
    assert "Dashed red: all the RAM of blackpill-f401 (64.0 KiB)" in page


def test_boards_far_above_the_peak_are_named_not_drawn(example_html: str) -> None:
    assert "Not drawn, being more than 4\u00d7 the peak: nucleo-l4r5zi RAM 640.0 KiB, rpi-pico RAM 264.0 KiB" in (
        example_html
    )


def with_emulation(report: dict[str, Any], flat: bool = False) -> dict[str, Any]:
    """The example plus emulation figures shaped as edgekit.emulate's EmulationResult.as_dict()."""
    report = copy.deepcopy(report)
    layers = []
    for layer in report["analysis"]["layers"]:
        instructions, cycles = 1000 + 3 * layer["macs"], 1500 + 4 * layer["macs"]
        if flat:
            layers.append(
                {
                    "index": layer["index"],
                    "instructions": instructions,
                    "estimated_cycles": cycles,
                    "estimated_ms": cycles / 120e3,
                }
            )
        else:
            layers.append(
                {
                    "index": layer["index"],
                    "op": layer["op_type"],
                    "measured": {"instructions": instructions},
                    "estimated": {"cycles": cycles, "ms": cycles / 120e3},
                }
            )
    if flat:
        report["emulation"] = {"target": "nucleo-l4r5zi", "layers": layers}
        return report
    total = sum(layer["measured"]["instructions"] for layer in layers) + 500  # + the invoke function's own code
    report["emulation"] = [
        {
            "target": "nucleo-l4r5zi",
            "core": "cortex-m4",
            "clock_mhz": 120.0,
            "emulation_note": "",
            "measured": {"instructions": total},
            "estimated": {"cycles": 2 * total, "ms": 2 * total / 120e3},
            "inferences": [{"index": 0, "layers": layers}],
        }
    ]
    return report


def test_emulation_figures_when_present(example: dict[str, Any]) -> None:
    report = with_emulation(example)
    page = report_html(report)
    run = report["emulation"][0]
    assert '<figure id="plot-time">' in page
    assert 'instructions<span class="sub">nucleo-l4r5zi</span>' in page
    assert f'<td class="num">{run["measured"]["instructions"]:,}</td>' in page  # the run's total, foot of the table
    first = run["inferences"][0]["layers"][0]
    assert f'data-v="{first["measured"]["instructions"]}"' in page
    card = _cards(page)["nucleo-l4r5zi"]
    assert f"{run['estimated']['cycles']:,} cycles" in card and "per inference (estimated, " in card
    assert "instructions (measured in emulation)" in card and "Emulated: cortex-m4; 120 MHz" in card
    assert "per inference" not in _cards(page)["rpi-pico"]
    assert "No emulation figures" not in page


def test_emulation_figures_in_the_flat_shape(example: dict[str, Any]) -> None:
    report = with_emulation(example, flat=True)
    page = report_html(report)
    layers = report["emulation"]["layers"]
    assert '<figure id="plot-time">' in page
    assert f'<td class="num">{sum(layer["instructions"] for layer in layers):,}</td>' in page  # summed


def test_a_report_without_a_verdict_or_analysis(example: dict[str, Any]) -> None:
    # What `convert` writes for an ONNX model today: artifacts and accuracy, no int8 TFLite to budget.
    report = copy.deepcopy(example)
    report.update(analysis=None, memory_plan=None, tflm_arena=None, op_support=[], targets=[], verdict="not_evaluated")
    page = report_html(report)
    assert 'class="overall none"' in page and "No board verdict" in page
    assert "No per-layer analysis" in page and "No memory plan" in page
    assert '<figure id="plot-sizes">' in page
    for key in SECTIONS:
        assert f'<section id="{key}">' in page


def test_without_matplotlib_the_page_still_renders(example: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    page = report_html(example)
    assert "<svg" not in page
    assert "Plots are missing: matplotlib is not installed" in page
    assert '<table id="layer-table"' in page


def test_convert_writes_this_page(tmp_path_factory: pytest.TempPathFactory, example_html: str) -> None:
    written = example_out(tmp_path_factory) / "report.html"
    if not written.exists():
        pytest.skip("edgekit convert does not write report.html yet")
    assert written.read_text(encoding="utf-8") == example_html


@pytest.mark.parametrize("argv", [("--help",), ("check", "{vww}", "-t", "blackpill-f401")])
def test_cheap_commands_never_import_matplotlib(argv: tuple[str, ...]) -> None:
    model = str(shared_model("mlcommons_tiny/vww_96_int8.tflite"))
    args = [a.replace("{vww}", model) for a in argv]
    probe = (
        "import sys\nimport edgekit.report.html\nfrom edgekit.cli import main\n"
        f"sys.argv = ['edgekit', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MATPLOTLIB', 'matplotlib' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "MATPLOTLIB False" in proc.stdout, proc.stdout + proc.stderr


# ---------------------------------------------------------------- the CI examples in docs/ci, run as written

CI_DOCS = REPO / "docs" / "ci"


def _ci_env(tmp_path: Path) -> dict[str, str]:
    """The environment a CI job has after installing edgekit: `edgekit` and its Python on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHON": sys.executable}


def test_ci_shell_gate(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    fits = example_out(tmp_path_factory) / "model_int8.tflite"
    too_big = shared_model("mlcommons_tiny/vww_96_int8.tflite")
    env = {**_ci_env(tmp_path), "EDGEKIT_REPORT_DIR": str(tmp_path / "report")}

    def gate(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(CI_DOCS / "edgekit-gate.sh"), *map(str, args)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=300,
        )

    run = gate(too_big, "blackpill-f401", "nucleo-h743zi")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "blackpill-f401: RAM over by" in run.stdout and "nucleo-h743zi: fits" in run.stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["verdict"] == "does_not_fit"
    assert (tmp_path / "report" / "report.html").read_text(encoding="utf-8") == report_html(report)

    run = gate(fits, *EXAMPLE_TARGETS)
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads((tmp_path / "report" / "report.json").read_text())["verdict"] == "fits"

    run = gate(tmp_path / "missing.tflite", "nano33ble")
    assert run.returncode == 2
    assert run.stderr.strip().startswith("edgekit: ") and "missing.tflite" in run.stderr
    assert not (tmp_path / "report" / "report.json").exists() and not (tmp_path / "report" / "report.html").exists()


def test_github_workflow_steps(tmp_path: Path) -> None:
    """The workflow's own gate and render steps, run as Actions would run them (bash -e, python)."""
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((CI_DOCS / "github-actions.yml").read_text())
    steps = {step.get("name"): step for step in workflow["jobs"]["fits"]["steps"]}
    assert steps["Upload the report"]["uses"].startswith("actions/upload-artifact@")
    assert "steps.gate.outputs.status == '1'" in steps["Upload the report"]["if"]  # uploads when it does not fit

    outputs, summary = tmp_path / "github_output", tmp_path / "summary.md"
    env = {
        **_ci_env(tmp_path),
        "MODEL": str(shared_model("mlcommons_tiny/vww_96_int8.tflite")),
        "TARGETS": "blackpill-f401 nucleo-h743zi",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    gate = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", steps["Does the model fit?"]["run"]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert outputs.read_text().strip() == "status=1"
    assert steps["Render the report"]["shell"] == "python"
    render = subprocess.run(
        [sys.executable, "-c", steps["Render the report"]["run"]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert render.returncode == 0, render.stderr
    page = (tmp_path / "edgekit-report" / "report.html").read_text(encoding="utf-8")
    assert "Does not fit: blackpill-f401" in page
    assert "| blackpill-f401 |" in summary.read_text() and "**does not fit**" in summary.read_text()
