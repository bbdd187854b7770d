"""The canary judge (tasks/domain/canary.py): its Mann-Whitney U test against scipy's on many random
samples, and the rules that turn each metric's test and median shift into a score and a verdict."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from tasks.domain import canary
from tasks.domain.canary import (
    ALPHA,
    FAIL,
    MARGINAL,
    NODATA,
    PASS,
    CanaryAnalysis,
    CanaryMetric,
    judge,
    judge_metric,
    mann_whitney_u,
    shift_percent,
)

if TYPE_CHECKING:
    from collections.abc import Callable

NAN = float("nan")

# -- the statistics, against scipy ----------------------------------------------------------------

Sample = tuple[list[float], list[float]]


def _normal(r: random.Random, n1: int, n2: int, shift: float) -> Sample:
    return [r.gauss(shift, 1) for _ in range(n1)], [r.gauss(0, 1) for _ in range(n2)]


def _latency(r: random.Random, n1: int, n2: int, factor: float) -> Sample:
    """Skewed, like latencies: the canary's scaled by ``factor``."""
    return [factor * r.lognormvariate(4, 0.5) for _ in range(n1)], [r.lognormvariate(4, 0.5) for _ in range(n2)]


def _heavy_ties(r: random.Random, n1: int, n2: int, values: float) -> Sample:
    """Few distinct values (a count, a rounded gauge): most datapoints tie."""
    return [float(r.randrange(int(values))) for _ in range(n1)], [float(r.randrange(int(values))) for _ in range(n2)]


def _mostly_zero(r: random.Random, n1: int, n2: int, rate: float) -> Sample:
    """An error count: zero almost always, the canary erring ``rate`` of the time."""
    return [float(r.random() < rate) for _ in range(n1)], [float(r.random() < 0.05) for _ in range(n2)]


def _identical(r: random.Random, n1: int, n2: int, _: float) -> Sample:
    values = [round(r.gauss(100, 10), 1) for _ in range(n1)]
    return values, list(values)


def _constant(r: random.Random, n1: int, n2: int, _: float) -> Sample:
    value = float(r.randrange(5))
    return [value] * n1, [value] * n2


GENERATORS: list[tuple[Callable[[random.Random, int, int, float], Sample], tuple[float, ...]]] = [
    (_normal, (0.0, 0.5, 2.0)),
    (_latency, (1.0, 1.2, 3.0)),
    (_heavy_ties, (2, 3, 10)),
    (_mostly_zero, (0.05, 0.5)),
    (_identical, (0,)),
    (_constant, (0,)),
]
SIZES = [(1, 1), (1, 9), (2, 3), (3, 40), (5, 5), (8, 8), (8, 60), (9, 9), (12, 30), (20, 20), (60, 17), (120, 150)]


def _cases() -> list[Any]:
    cases = []
    for generator, parameters in GENERATORS:
        for parameter in parameters:
            for n1, n2 in SIZES:
                cases.append(
                    pytest.param(generator, parameter, n1, n2, id=f"{generator.__name__}-{parameter}-{n1}x{n2}")
                )
    return cases


def _assert_matches_scipy(x: list[float], y: list[float], method: str) -> None:
    ours = mann_whitney_u(x, y, method)  # type: ignore[arg-type]
    theirs = mannwhitneyu(x, y, method=method)
    assert ours.u == float(theirs.statistic), (x, y)
    assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-9, abs=1e-300), (method, x, y)


@pytest.mark.parametrize(("generator", "parameter", "n1", "n2"), _cases())
def test_u_and_p_match_scipy(
    generator: Callable[[random.Random, int, int, float], Sample], parameter: float, n1: int, n2: int
) -> None:
    """20 seeded draws of each kind and size, with scipy's default method and each of the two it
    chooses from; the exact method only where scipy's own is quick."""
    for seed in range(20):
        x, y = generator(random.Random(f"{generator.__name__}{parameter}{n1}{n2}{seed}"), n1, n2, parameter)
        for method in ("auto", "asymptotic") if n1 * n2 > 2000 else ("auto", "asymptotic", "exact"):
            _assert_matches_scipy(x, y, method)
            _assert_matches_scipy(y, x, method)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(st.integers(0, 6) | st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
    st.lists(st.integers(0, 6) | st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40),
)
def test_u_and_p_match_scipy_on_any_sample(x: list[float], y: list[float]) -> None:
    _assert_matches_scipy(x, y, "auto")
    _assert_matches_scipy(x, y, "asymptotic")


@pytest.mark.parametrize(
    ("x", "y", "method"),
    [
        ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], "exact"),  # one side of 8 or fewer, no ties
        ([1.0] + [float(i) for i in range(2, 50)], [0.5, 0.25], "exact"),  # however large the other
        ([1.0, 2.0, 2.0], [4.0, 5.0, 6.0, 7.0], "asymptotic"),  # a tie
        ([float(i) for i in range(9)], [float(i) + 0.5 for i in range(9)], "asymptotic"),  # both over 8
    ],
)
def test_the_method_is_scipys_choice(x: list[float], y: list[float], method: str) -> None:
    assert mann_whitney_u(x, y).method == method


def test_far_apart_samples_have_a_tiny_p_value_not_zero() -> None:
    r = random.Random(7)
    x, y = [r.gauss(10, 1) for _ in range(400)], [r.gauss(0, 1) for _ in range(500)]
    _assert_matches_scipy(x, y, "asymptotic")
    assert 0 < mann_whitney_u(x, y).p_value < 1e-100
    top, rest = [3000.5, 3001.5, 3002.5], [float(i) for i in range(3000)]  # exact: 1 ordering of comb(3003, 3)
    _assert_matches_scipy(top, rest, "exact")
    assert mann_whitney_u(top, rest) == canary.MannWhitney(9000, 2 / math.comb(3003, 3), "exact")


def test_known_exact_values() -> None:
    """Without scipy: n1 = n2 = 3 entirely apart is 1 of comb(6, 3) = 20 orderings, both tails 0.1;
    4 a side, 2 of 70; so 4 datapoints a side can never reject at 2 %."""
    assert mann_whitney_u([4, 5, 6], [1, 2, 3]).p_value == pytest.approx(0.1)
    assert mann_whitney_u([5, 6, 7, 8], [1, 2, 3, 4]).p_value == pytest.approx(2 / 70)
    assert mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).p_value == pytest.approx(2 / 252)
    assert mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).u == 25


def test_all_values_tied_is_no_evidence() -> None:
    assert mann_whitney_u([3.0] * 30, [3.0] * 40).p_value == 1.0
    assert mann_whitney_u([3.0], [3.0]).p_value == 1.0


def test_an_empty_side_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney_u([], [1.0])
    with pytest.raises(ValueError, match="at least one value"):
        mann_whitney_u([1.0], [])


# -- one metric ----------------------------------------------------------------------------------

LATENCY = CanaryMetric("App", "Latency", "increase", "Average", tolerance_percent=10, critical=True)
ERRORS = CanaryMetric("App", "Errors", "increase", "Sum", tolerance_percent=0)
THROUGHPUT = CanaryMetric("App", "Requests", "decrease", "Sum", tolerance_percent=10)

BASELINE = [95.0, 100.0, 105.0] * 10  # median 100
UP_10 = [105.0, 110.0, 115.0] * 10  # median 110: +10 %, and p ~ 1e-9
UP_200 = [x * 3 for x in BASELINE]  # median 300: +200 %
DOWN_20 = [75.0, 80.0, 85.0] * 10  # median 80: -20 %


def test_a_significant_shift_past_the_tolerance_fails() -> None:
    result = judge_metric(LATENCY, UP_200, BASELINE, min_samples=20)
    assert (result.verdict, result.canary_median, result.baseline_median, result.shift_percent) == (
        FAIL,
        300,
        100,
        200,
    )
    assert result.p_value is not None and result.p_value < ALPHA
    assert (result.canary_samples, result.baseline_samples) == (30, 30)


@pytest.mark.parametrize(
    ("tolerance", "verdict"),
    [(9.99, FAIL), (10, PASS), (50, PASS)],  # a shift of exactly the tolerance passes
)
def test_the_tolerance_bounds_the_shift(tolerance: float, verdict: str) -> None:
    metric = CanaryMetric("App", "Latency", "increase", tolerance_percent=tolerance)
    result = judge_metric(metric, UP_10, BASELINE, min_samples=20)
    assert result.shift_percent == 10
    assert result.p_value is not None and result.p_value < 1e-6
    assert result.verdict == verdict


def test_a_large_shift_the_test_does_not_confirm_passes() -> None:
    """Medians 22.5 against 20.5 (+9.8 %, past a 5 % tolerance), but the samples overlap: p ~ 0.46."""
    metric = CanaryMetric("App", "Latency", "increase", tolerance_percent=5)
    result = judge_metric(metric, [float(i) for i in range(3, 43)], [float(i) for i in range(1, 41)], 20)
    assert result.shift_percent is not None and result.shift_percent > 5
    assert result.p_value is not None and result.p_value > ALPHA
    assert result.verdict == PASS


@pytest.mark.parametrize(
    ("metric", "canary_values", "verdict"),
    [
        (LATENCY, UP_200, FAIL),  # slower, and slower is worse
        (LATENCY, DOWN_20, PASS),  # faster: a significant shift the good way
        (THROUGHPUT, DOWN_20, FAIL),  # fewer requests served, and fewer is worse
        (THROUGHPUT, UP_200, PASS),
    ],
)
def test_only_the_fails_when_direction_fails(metric: CanaryMetric, canary_values: list[float], verdict: str) -> None:
    result = judge_metric(metric, canary_values, BASELINE, min_samples=20)
    assert result.p_value is not None and result.p_value < ALPHA
    assert result.verdict == verdict


def test_nan_values_are_dropped() -> None:
    result = judge_metric(LATENCY, [*UP_200, NAN, NAN], [NAN, *BASELINE, NAN], min_samples=30)
    assert (result.canary_samples, result.baseline_samples) == (30, 30)
    assert (result.canary_median, result.baseline_median, result.verdict) == (300, 100, FAIL)
    # NaN left in, the medians would be wrong and the ranks meaningless:
    assert result.p_value == mann_whitney_u(UP_200, BASELINE).p_value


@pytest.mark.parametrize(
    ("canary_values", "baseline_values", "verdict"),
    [
        (UP_200[:19], BASELINE, NODATA),  # the canary short of min_samples
        (UP_200, BASELINE[:19], NODATA),  # the baseline short
        (UP_200[:19] + [NAN] * 5, BASELINE, NODATA),  # short once NaN is dropped
        (UP_200[:20], BASELINE[:20], FAIL),  # exactly min_samples is enough
    ],
)
def test_fewer_than_min_samples_is_nodata(
    canary_values: list[float], baseline_values: list[float], verdict: str
) -> None:
    result = judge_metric(LATENCY, canary_values, baseline_values, min_samples=20)
    assert result.verdict == verdict
    assert (result.p_value is None) == (verdict == NODATA)


def test_nodata_keeps_what_it_has() -> None:
    some = judge_metric(LATENCY, UP_200[:3], BASELINE, min_samples=20)
    assert (some.canary_median, some.baseline_median, some.shift_percent, some.p_value) == (300, 100, 200, None)
    none = judge_metric(LATENCY, [NAN, NAN], BASELINE, min_samples=20)
    assert (none.canary_samples, none.canary_median, none.baseline_median, none.shift_percent) == (0, None, 100, None)
    assert none.describe() == (
        "App/Latency (Average): NODATA: 0 canary and 30 baseline datapoints, fewer than min_samples 20 on a side"
    )


def test_an_empty_side_is_nodata_even_without_min_samples() -> None:
    assert judge_metric(LATENCY, [], BASELINE, min_samples=0).verdict == NODATA
    assert judge_metric(LATENCY, [1.0], BASELINE, min_samples=0).verdict == PASS  # p ~ 0.13


ZEROS = [0.0] * 30 + [1.0] * 5  # median 0: an error count that rarely errs


@pytest.mark.parametrize(
    ("metric", "canary_values", "shift", "verdict"),
    [
        (ERRORS, [1.0] * 30 + [0.0] * 5, None, FAIL),  # from 0 to 1: past any tolerance in percent
        (CanaryMetric("App", "Errors", "increase", tolerance_percent=1e9), [1.0] * 30 + [0.0] * 5, None, FAIL),
        (CanaryMetric("App", "Successes", "decrease"), [1.0] * 30 + [0.0] * 5, None, PASS),  # the good way
        (ERRORS, [0.0] * 32 + [1.0] * 3, 0.0, PASS),  # 0 and 0: no shift
    ],
)
def test_a_baseline_median_of_zero(
    metric: CanaryMetric, canary_values: list[float], shift: float, verdict: str
) -> None:
    result = judge_metric(metric, canary_values, ZEROS, min_samples=20)
    assert (result.baseline_median, result.shift_percent, result.verdict) == (0, shift, verdict)


def test_a_zero_baseline_that_the_test_does_not_confirm_passes() -> None:
    result = judge_metric(ERRORS, [1.0] * 18 + [0.0] * 17, [0.0] * 18 + [1.0] * 17, min_samples=20)
    assert (result.canary_median, result.baseline_median, result.shift_percent) == (1, 0, None)
    assert result.p_value is not None and result.p_value > ALPHA
    assert result.verdict == PASS


@pytest.mark.parametrize(
    ("canary_median", "baseline_median", "shift"),
    [
        (110, 100, 10.0),
        (90, 100, -10.0),
        (-50, -100, 50.0),  # a negative baseline: higher is still an increase
        (-150, -100, -50.0),
        (0, 0, 0.0),
        (1, 0, None),
        (-1, 0, None),
    ],
)
def test_shift_percent(canary_median: float, baseline_median: float, shift: float | None) -> None:
    assert shift_percent(canary_median, baseline_median) == shift


def test_a_negative_baseline_median_is_judged_by_direction() -> None:
    negative = [-x for x in BASELINE]  # median -100
    result = judge_metric(LATENCY, [x / 2 for x in negative], negative, min_samples=20)  # median -50
    assert (result.shift_percent, result.verdict) == (50, FAIL)


# -- the score and the verdict -------------------------------------------------------------------


def _analysis(*metrics: CanaryMetric, pass_score: float = 95, marginal_score: float = 75) -> CanaryAnalysis:
    return CanaryAnalysis(
        metrics, period_seconds=60, min_samples=20, pass_score=pass_score, marginal_score=marginal_score
    )


def _metric(name: str, critical: bool = False) -> CanaryMetric:
    return CanaryMetric("App", name, "increase", tolerance_percent=10, critical=critical)


GOOD = (BASELINE, BASELINE)
BAD = (UP_200, BASELINE)
MISSING = (UP_200[:5], BASELINE)


@pytest.mark.parametrize(
    ("outcomes", "pass_score", "marginal_score", "score", "verdict"),
    [
        ([GOOD, GOOD, GOOD], 95, 75, 100, PASS),
        ([GOOD, GOOD, BAD], 95, 60, 200 / 3, MARGINAL),
        ([GOOD, GOOD, BAD], 95, 70, 200 / 3, FAIL),
        ([GOOD, GOOD, GOOD, BAD], 75, 50, 75, PASS),  # score == pass_score passes
        ([GOOD, GOOD, GOOD, BAD], 95, 75, 75, MARGINAL),  # score == marginal_score is marginal
        ([GOOD, MISSING], 95, 50, 50, MARGINAL),  # NODATA counts as failed
        ([BAD, BAD], 95, 0, 0, MARGINAL),
        ([GOOD, GOOD, GOOD], 100, 100, 100, PASS),
    ],
)
def test_score_and_verdict(
    outcomes: list[tuple[list[float], list[float]]],
    pass_score: float,
    marginal_score: float,
    score: float,
    verdict: str,
) -> None:
    analysis = _analysis(
        *(_metric(f"M{i}") for i in range(len(outcomes))), pass_score=pass_score, marginal_score=marginal_score
    )
    judgement = judge(analysis, outcomes)
    assert judgement.score == pytest.approx(score)
    assert judgement.verdict == verdict
    assert len(judgement.results) == len(outcomes)


@pytest.mark.parametrize("outcome", [BAD, MISSING])
def test_a_failed_critical_metric_fails_whatever_the_scores(outcome: tuple[list[float], list[float]]) -> None:
    analysis = _analysis(_metric("Latency", critical=True), _metric("A"), _metric("B"), pass_score=0, marginal_score=0)
    judgement = judge(analysis, [outcome, GOOD, GOOD])
    assert (judgement.score, judgement.verdict) == (0, FAIL)


def test_a_critical_metric_that_passes_leaves_the_score_alone() -> None:
    analysis = _analysis(_metric("Latency", critical=True), _metric("A"), marginal_score=50)
    judgement = judge(analysis, [GOOD, BAD])
    assert (judgement.score, judgement.verdict) == (50, MARGINAL)


def test_datapoints_for_each_metric_are_needed() -> None:
    with pytest.raises(ValueError, match="2 metrics, datapoints for 1"):
        judge(_analysis(_metric("A"), _metric("B")), [GOOD])
    with pytest.raises(ValueError, match="0 metrics"):
        judge(_analysis(), [])


def test_the_failure_message_names_each_failed_metric() -> None:
    analysis = _analysis(
        LATENCY, _metric("Cpu"), CanaryMetric("App", "Errors", "increase", "Sum", critical=False), _metric("Disk")
    )
    judgement = judge(analysis, [BAD, GOOD, ([1.0] * 30 + [0.0] * 5, ZEROS), MISSING])
    p = judgement.results[0].p_value
    assert judgement.failure_message("live_asg_web") == (
        "live_asg_web => canary score 0: FAIL (1 of 4 metrics passed; critical App/Latency (Average) FAIL; "
        "pass_score 95, marginal_score 75): "
        f"App/Latency (Average): FAIL: canary median 300 vs baseline median 100 (+200 %, tolerance 10 % increase), "
        f"p = {p:.2g}, 30 vs 30 datapoints; "
        f"App/Errors (Sum): FAIL: canary median 1 vs baseline median 0 (from 0, tolerance 0 % increase), "
        f"p = {judgement.results[2].p_value:.2g}, 35 vs 35 datapoints; "
        "App/Disk (Average): NODATA: 5 canary and 30 baseline datapoints, fewer than min_samples 20 on a side; "
        f"App/Cpu (Average): PASS: canary median 100 vs baseline median 100 (+0 %, tolerance 10 % increase), "
        f"p = {judgement.results[1].p_value:.2g}, 30 vs 30 datapoints"
    )  # failed metrics first, then those that passed: the error is all a failed checkpoint's history keeps


def test_the_summary_of_a_pass() -> None:
    judgement = judge(_analysis(_metric("A"), _metric("B"), _metric("C")), [GOOD, GOOD, GOOD])
    assert judgement.summary("live_asg_web") == (
        "live_asg_web => canary score 100: PASS (3 of 3 metrics passed; pass_score 95, marginal_score 75)"
    )
    assert judgement.failed == ()
    marginal = judge(_analysis(_metric("A"), _metric("B"), _metric("C"), marginal_score=50), [GOOD, GOOD, BAD])
    assert marginal.summary("w").startswith("w => canary score 66.7: MARGINAL (2 of 3 metrics passed;")


# -- the input and the records -------------------------------------------------------------------


def test_the_input_shape_with_its_defaults() -> None:
    record = {"metrics": [{"namespace": "App", "metric_name": "Latency", "fails_when": "increase"}]}
    analysis = CanaryAnalysis.from_record(record)
    assert analysis == CanaryAnalysis(
        (CanaryMetric("App", "Latency", "increase", "Average", 0, False),), 60, 20, 95, 75
    )
    full = analysis.to_record()
    assert full == {
        "metrics": [
            {
                "namespace": "App",
                "metric_name": "Latency",
                "fails_when": "increase",
                "statistic": "Average",
                "tolerance_percent": 0,
                "critical": False,
            }
        ],
        "period_seconds": 60,
        "min_samples": 20,
        "pass_score": 95,
        "marginal_score": 75,
    }
    assert CanaryAnalysis.from_record(full) == analysis


def test_the_judgement_record_is_json() -> None:
    judgement = judge(_analysis(LATENCY, _metric("Disk")), [BAD, MISSING])
    record = json.loads(json.dumps(judgement.to_record(), allow_nan=False))
    assert record["verdict"] == FAIL
    assert record["score"] == 0
    latency, disk = record["results"]
    assert latency["metric"]["metric_name"] == "Latency"
    assert (latency["verdict"], latency["canary_median"], latency["baseline_median"], latency["shift_percent"]) == (
        FAIL,
        300,
        100,
        200,
    )
    assert latency["p_value"] < ALPHA
    assert (disk["verdict"], disk["canary_samples"], disk["p_value"]) == (NODATA, 5, None)


def test_the_module_stays_pure() -> None:
    """No AWS, no environment: the judge decides from what it is given."""
    text = Path(canary.__file__).read_text(encoding="utf-8")
    assert "boto3" not in text
    assert "os.environ" not in text
