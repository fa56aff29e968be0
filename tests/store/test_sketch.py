"""The latency sketch answers quantiles within its stated relative error, whatever the data."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightdeck.store.sketch import MIN_VALUE, RELATIVE_ACCURACY, LatencySketch

# Durations as they occur: sub-millisecond to minutes, with duplicates and heavy tails.
durations = st.lists(
    st.one_of(
        st.floats(min_value=0.002, max_value=600_000, allow_nan=False, allow_infinity=False),
        st.sampled_from([1.0, 10.0, 100.0, 1000.0, 1.02**50]),  # exact bucket boundaries
    ),
    min_size=1,
    max_size=400,
)
quantile = st.floats(min_value=0.0, max_value=1.0)


def exact(values: list[float], q: float) -> float:
    """The value of rank floor(q·(n-1)) in sorted order: the definition the sketch follows."""
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def close(estimate: float | None, truth: float) -> bool:
    assert estimate is not None
    return abs(estimate - truth) <= RELATIVE_ACCURACY * truth * (1 + 1e-9)


def test_stated_accuracy_is_about_one_percent() -> None:
    assert 0.0098 < RELATIVE_ACCURACY < 0.0100


@settings(max_examples=300, deadline=None)
@given(values=durations, q=quantile)
def test_quantile_is_within_the_relative_error_of_the_exact_quantile(values: list[float], q: float) -> None:
    sketch = LatencySketch()
    sketch.extend(values)
    assert sketch.count == len(values)
    assert close(sketch.quantile(q), exact(values, q))


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(durations, min_size=1, max_size=6), q=quantile)
def test_merged_sketches_answer_like_one_sketch_of_all_values(parts: list[list[float]], q: float) -> None:
    merged = LatencySketch()
    for part in parts:
        s = LatencySketch()
        s.extend(part)
        merged.merge(LatencySketch.from_json(json.loads(json.dumps(s.to_json()))))  # through storage
    everything = [v for part in parts for v in part]
    whole = LatencySketch()
    whole.extend(everything)
    assert merged == whole
    assert close(merged.quantile(q), exact(everything, q))


@settings(max_examples=100, deadline=None)
@given(values=durations, qs=st.lists(quantile, min_size=1, max_size=5))
def test_several_quantiles_at_once_equal_one_at_a_time(values: list[float], qs: list[float]) -> None:
    sketch = LatencySketch()
    sketch.extend(values)
    assert sketch.quantiles(qs) == [sketch.quantile(q) for q in qs]


def test_an_empty_sketch_has_no_quantiles() -> None:
    sketch = LatencySketch.from_json({})
    assert sketch.quantile(0.5) is None
    assert sketch.quantiles([0.5, 0.99]) == [None, None]
    assert not sketch


def test_tiny_values_count_as_zero_and_keep_ranks_right() -> None:
    sketch = LatencySketch()
    sketch.extend([0.0, MIN_VALUE / 2, 0.0, 50.0])
    assert sketch.zero_count == 3
    assert sketch.quantile(0.5) == 0.0
    assert close(sketch.quantile(1.0), 50.0)


def test_storage_is_sparse_json() -> None:
    sketch = LatencySketch()
    sketch.extend([12.0] * 1000 + [480.0])
    stored = sketch.to_json()
    assert isinstance(stored["b"], dict)
    assert len(stored["b"]) == 2  # two distinct values → two buckets, whatever the count
    assert LatencySketch.from_json(json.loads(json.dumps(stored))) == sketch


def test_a_sketch_from_another_gamma_is_refused() -> None:
    with pytest.raises(ValueError, match="γ"):
        LatencySketch.from_json({"g": 1.05, "z": 0, "b": {"1": 2}})


def test_quantile_outside_zero_one_is_refused() -> None:
    sketch = LatencySketch()
    sketch.add(1.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        sketch.quantile(1.5)
