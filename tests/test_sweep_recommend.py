"""The sweep's decision logic on hand-made candidate sets, each answer worked out by hand.

Sizes are in KiB multiples so that the per-KiB figures are easy to check: a gain of 5 points for
10 KiB more flash is 0.5 points per KiB.
"""

from __future__ import annotations

import itertools
import math

import pytest

from edgekit.sweep.recommend import Point, pareto_front, recommend

K = 1024


def pt(
    id: str, acc: float | None, flash_k: float, ram_k: float = 4, fits: bool = True, ms: float | None = None
) -> Point:
    return Point(id, acc, int(flash_k * K), int(ram_k * K), fits, ms, "" if fits else "flash over by 1,000 B")


def test_most_accurate_that_fits_and_the_price_of_each_step() -> None:
    points = [pt("a", 0.90, 10), pt("b", 0.95, 20), pt("c", 0.97, 40)]
    rec = recommend("board", points, eval_samples=1000)
    assert rec.choice == "c"
    assert rec.frontier == ["a", "b", "c"]
    a_b, b_c = rec.steps
    assert (a_b.smaller, a_b.larger) == ("a", "b")
    assert a_b.accuracy_gain == pytest.approx(0.05)
    assert a_b.flash_extra_bytes == 10 * K
    assert a_b.points_per_kib_flash == pytest.approx(0.5)  # 5 points / 10 KiB
    assert b_c.points_per_kib_flash == pytest.approx(0.1)  # 2 points / 20 KiB
    assert "50 more of 1000 eval samples right" in a_b.text
    assert "0.50 points per extra KiB" in a_b.text
    # 2 points on 1000 samples is more than 2 standard errors of 97% (1.08 points): a real gain.
    assert b_c.noise == pytest.approx(2 * math.sqrt(0.97 * 0.03 / 1000))
    assert b_c.within_noise is False
    assert rec.summary.startswith("board: c, the most accurate candidate that fits (97.0% int8 accuracy")
    assert "as good" not in rec.summary
    assert rec.remarks == []


def test_the_biggest_does_not_fit_so_the_next_one_is_chosen() -> None:
    points = [pt("a", 0.90, 10), pt("b", 0.95, 20), pt("c", 0.99, 900, fits=False)]
    rec = recommend("tiny", points)
    assert rec.choice == "b"
    assert rec.frontier == ["a", "b"]  # the frontier is over what fits
    assert [s.larger for s in rec.steps] == ["b"]


def test_nothing_fits_names_the_smallest_and_why() -> None:
    points = [pt("big", 0.99, 500, fits=False), pt("small", 0.90, 300, ram_k=8, fits=False)]
    rec = recommend("tiny", points)
    assert rec.choice is None
    assert rec.frontier == [] and rec.steps == []
    assert "nothing fits" in rec.summary
    assert "small" in rec.summary and "300.0 KiB" in rec.summary and "8.0 KiB" in rec.summary
    assert "flash over by 1,000 B" in rec.summary


def test_no_candidates_at_all() -> None:
    rec = recommend("board", [])
    assert rec.choice is None
    assert "no candidates" in rec.summary


def test_single_candidate() -> None:
    rec = recommend("board", [pt("only", 0.93, 12)], eval_samples=100)
    assert rec.choice == "only"
    assert rec.frontier == ["only"] and rec.steps == []
    assert "only candidate that fits" in rec.summary


def test_single_candidate_that_fits_among_others() -> None:
    rec = recommend("board", [pt("a", 0.90, 10), pt("b", 0.95, 20, fits=False)])
    assert rec.choice == "a"
    assert "only candidate that fits" in rec.summary


def test_tie_on_accuracy_prefers_less_flash() -> None:
    rec = recommend("board", [pt("big", 0.95, 20), pt("small", 0.95, 10)])
    assert rec.choice == "small"
    assert rec.frontier == ["small"]
    assert rec.steps == []
    assert rec.remarks == [
        "big is as accurate as small (95.0%); small is chosen: it needs less flash (10.0 KiB vs 20.0 KiB)."
    ]


def test_tie_on_accuracy_and_flash_prefers_less_ram() -> None:
    rec = recommend("board", [pt("a", 0.95, 10, ram_k=5), pt("b", 0.95, 10, ram_k=4)])
    assert rec.choice == "b"
    assert rec.remarks == ["a is as accurate as b (95.0%); b is chosen: same flash, less RAM (4.0 KiB vs 5.0 KiB)."]


def test_identical_twins_are_split_by_name() -> None:
    rec = recommend("board", [pt("twin-b", 0.95, 10), pt("twin-a", 0.95, 10)])
    assert rec.choice == "twin-a"
    assert "first by name" in rec.remarks[0]


def test_dominated_candidate_is_off_the_frontier_and_said_so() -> None:
    # b costs more flash than a and is less accurate: never worth it.
    points = [pt("a", 0.90, 10), pt("b", 0.85, 20), pt("c", 0.95, 30)]
    rec = recommend("board", points)
    assert rec.choice == "c"
    assert rec.frontier == ["a", "c"]
    assert [(s.smaller, s.larger) for s in rec.steps] == [("a", "c")]
    assert rec.steps[0].points_per_kib_flash == pytest.approx(0.25)  # 5 points / 20 KiB
    assert rec.remarks == [
        "b is not worth it here: a is at least as accurate (90.0% vs 85.0%) with no more flash (10.0 KiB vs 20.0 KiB)."
    ]


def test_equal_flash_keeps_the_more_accurate_one() -> None:
    rec = recommend("board", [pt("a", 0.80, 10), pt("b", 0.90, 10)])
    assert rec.choice == "b"
    assert rec.frontier == ["b"]
    assert "a is not worth it here: b" in rec.remarks[0]


def test_the_answer_does_not_depend_on_the_order_given() -> None:
    points = [pt("a", 0.90, 10), pt("b", 0.85, 20), pt("c", 0.95, 30), pt("d", 0.95, 30), pt("e", 0.97, 50, fits=False)]
    first = recommend("board", points, 500)
    for order in itertools.permutations(points):
        assert recommend("board", list(order), 500) == first


def test_gains_within_the_noise_of_the_eval_set_point_to_the_smaller_model() -> None:
    # The example sweep: on 360 samples, 2 standard errors of 98.6% are 1.24 points; w0.5 is 1.1 behind.
    points = [pt("w0.25", 0.919, 5.7), pt("w0.5", 0.975, 7.0), pt("w1", 0.978, 10.9), pt("w2", 0.986, 24.0)]
    rec = recommend("board", points, eval_samples=360)
    assert rec.choice == "w2"
    assert [s.within_noise for s in rec.steps] == [False, True, True]
    assert "within the noise of that many samples" in rec.steps[1].text
    assert "w0.5 is as good: 97.5% for 17.0 KiB less flash" in rec.summary
    # Without a sample count there is no noise figure and no such claim.
    quiet = recommend("board", points)
    assert all(s.noise is None and s.within_noise is None for s in quiet.steps)
    assert "as good" not in quiet.summary


def test_latency_per_ms_when_known() -> None:
    points = [pt("a", 0.90, 10, ms=2.0), pt("b", 0.95, 20, ms=4.5), pt("c", 0.96, 30, ms=4.0)]
    rec = recommend("board", points)
    a_b, b_c = rec.steps
    assert a_b.latency_extra_ms == pytest.approx(2.5)
    assert a_b.points_per_ms == pytest.approx(2.0)  # 5 points / 2.5 ms
    assert "2.5 ms slower, 2.00 points per extra ms" in a_b.text
    assert b_c.latency_extra_ms == pytest.approx(-0.5)
    assert b_c.points_per_ms is None
    assert "no slower" in b_c.text
    assert "ms more per inference" not in rec.summary  # the last step is not slower


def test_latency_unknown_is_said_not_guessed() -> None:
    rec = recommend("board", [pt("a", 0.90, 10, ms=1.0), pt("b", 0.95, 20)])
    assert rec.steps[0].latency_extra_ms is None
    assert rec.steps[0].points_per_ms is None
    assert "latency not emulated yet" in rec.steps[0].text


def test_candidates_without_accuracy_are_left_out() -> None:
    rec = recommend("board", [pt("a", None, 10), pt("b", 0.9, 20)])
    assert rec.choice == "b"
    assert rec.remarks == ["Left out, no accuracy figure: a."]
    none = recommend("board", [pt("a", None, 10)])
    assert none.choice is None
    assert "labels" in none.summary


def test_pareto_front_per_cost() -> None:
    points = [
        pt("a", 0.90, 10, ram_k=8, ms=1.0),
        pt("b", 0.95, 20, ram_k=2, ms=None),
        pt("c", 0.93, 5, ram_k=9, ms=3.0),
    ]
    assert pareto_front(points, "flash_bytes") == ["c", "b"]  # a: c is more accurate with less flash
    assert pareto_front(points, "ram_bytes") == ["b"]  # b is the most accurate and the smallest
    assert pareto_front(points, "latency_ms") == ["a", "c"]  # b has no latency: not plotted


def test_to_dict_is_plain_json() -> None:
    import json

    rec = recommend("board", [pt("a", 0.90, 10), pt("b", 0.95, 20)], 200)
    data = json.loads(json.dumps(rec.to_dict()))
    assert data["choice"] == "b"
    assert data["steps"][0]["points_per_kib_flash"] == 0.5
    assert data["steps"][0]["from"] == "a" and data["steps"][0]["to"] == "b"
