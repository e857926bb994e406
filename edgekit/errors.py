"""The one error type for user mistakes: a path and a problem, shown as one line, exit code 2."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_VERDICT = 1  # a budget or accuracy gate failed
EXIT_USAGE = 2  # bad input or usage


class EdgekitError(Exception):
    """A problem with something the user gave us: shown as `edgekit: PATH: PROBLEM`."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.problem = problem.strip().replace("\n", " ")
        super().__init__(self.message())

    def message(self) -> str:
        if self.path:
            return f"edgekit: {self.path}: {self.problem}"
        return f"edgekit: {self.problem}"


class EmulationFailure(Exception):
    """The firmware faulted, hung or disagreed with the host: a verdict (exit 1), not a user mistake.

    Anything with a `message()` giving one line; edgekit.emulate.EmulationError is registered as one.
    """

    def message(self) -> str:  # pragma: no cover - subclasses say it
        return f"edgekit: {self}"
