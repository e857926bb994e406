#!/usr/bin/env bash
# Gate a build on `edgekit check`: does the int8 model fit every board?
#
#   docs/ci/edgekit-gate.sh MODEL.tflite BOARD [BOARD...]
#
# Writes the report into $EDGEKIT_REPORT_DIR (default: edgekit-report/):
#   report.json   the machine-readable verdict (edgekit/schema/report.schema.json)
#   report.html   the same report as one self-contained page: open it offline, no network needed
# and exits as `edgekit check` does:
#   0  the model fits every board
#   1  it does not fit at least one board (report.json and report.html say which budget, by how much)
#   2  bad input or usage (one line `edgekit: PATH: PROBLEM` on stderr; no report)
# Hand the report folder to your CI's artifact upload whatever the exit code, e.g. GitLab:
#   artifacts: { when: always, paths: [edgekit-report/] }
#
# Needs `edgekit` on PATH (EDGEKIT=... to name another command) and, for report.html, a Python
# that imports edgekit and matplotlib (PYTHON=..., default python3). No TensorFlow is imported.
set -uo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 MODEL.tflite BOARD [BOARD...]" >&2
    exit 2
fi
model=$1
shift
out=${EDGEKIT_REPORT_DIR:-edgekit-report}
edgekit=${EDGEKIT:-edgekit}
python=${PYTHON:-python3}

targets=()
for board in "$@"; do
    targets+=(--target "$board")
done

mkdir -p "$out" || exit 2
"$edgekit" check "$model" "${targets[@]}" --json >"$out/report.json"
status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    # edgekit has already said what is wrong; an empty or stale report would only mislead.
    rm -f "$out/report.json" "$out/report.html"
    exit "$status"
fi

# The verdict per board into the build log, and the page for people. A missing page is reported
# but does not change the verdict: the gate is the exit code of `edgekit check`.
"$python" - "$out/report.json" "$out/report.html" <<'PY' || echo "edgekit-gate: could not write $out/report.html" >&2
import json
import sys
from pathlib import Path

from edgekit.report.html import report_html

report = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
Path(sys.argv[2]).write_text(report_html(report), encoding="utf-8")
for target in report["targets"]:
    print(f"edgekit-gate: {target['target']}: {target['reason']}")
PY

if [ "$status" -eq 0 ]; then
    echo "edgekit-gate: $model fits $*"
else
    echo "edgekit-gate: $model does NOT fit every board; see $out/report.html" >&2
fi
exit "$status"
