"""How far an artifact's outputs are from the float model's, on the user's data."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

DIGITS = 6  # reports carry rounded figures: stable to read, byte-identical run to run


@dataclass(frozen=True)
class Metrics:
    samples: int
    max_abs_error: float
    rmse: float
    cosine_similarity: float
    top1_agreement: float | None  # None when the output has a single value per sample
    accuracy: float | None  # None without labels

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _round(value: float) -> float:
    return float(round(value, DIGITS))


def accuracy(output: np.ndarray, labels: np.ndarray | None) -> float | None:
    if labels is None or output.ndim < 2 or output.shape[-1] < 2:
        return None
    predicted = np.argmax(output.reshape(len(output), -1), axis=1)
    return _round(float(np.mean(predicted == labels)))


def compare(reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray | None) -> Metrics:
    """Compare the first output of a model with the float reference."""
    ref = reference.reshape(len(reference), -1).astype(np.float64)
    got = candidate.reshape(len(candidate), -1).astype(np.float64)
    diff = got - ref
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    dots = np.sum(ref * got, axis=1)
    # Two all-zero vectors point the same way; one zero vector against another does not.
    cosine = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), np.where(np.all(ref == got, axis=1), 1.0, 0.0))
    top1 = None
    if ref.shape[1] > 1:
        top1 = _round(float(np.mean(np.argmax(ref, axis=1) == np.argmax(got, axis=1))))
    return Metrics(
        samples=len(ref),
        max_abs_error=_round(float(np.max(np.abs(diff)))),
        rmse=_round(float(np.sqrt(np.mean(diff**2)))),
        cosine_similarity=_round(float(np.mean(cosine))),
        top1_agreement=top1,
        accuracy=accuracy(candidate, labels),
    )
