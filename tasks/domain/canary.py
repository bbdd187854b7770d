"""Automated canary analysis (``canary_analysis``): at a checkpoint, after the bake, each metric's
datapoints from the canary (the instances this release launched that serve the target) are judged
against the baseline's (the instances that still serve the version being replaced), over the bake
that just ended, each side pooling its instances' datapoints.

The method, per metric:

1. NaN values are dropped. Fewer than ``min_samples`` datapoints left on either side is NODATA: the
   metric counts as failed, and a critical one fails the whole analysis.
2. A two-sided Mann-Whitney U test (Wilcoxon rank-sum) asks whether the two sides could come from
   one distribution. It assumes nothing about the shape (latencies are skewed, error counts are
   mostly zero), only that datapoints are independent. Ranks are averaged over ties. The p-value is
   the one ``scipy.stats.mannwhitneyu`` gives with its defaults, re-implemented here in pure Python
   (the Lambda package has no room for scipy): when both sides have more than 8 datapoints, or any
   two datapoints tie, the normal approximation with the tie-corrected variance and the continuity
   correction (scipy's ``method="asymptotic"``); otherwise, with 8 or fewer on one side and no
   ties, the exact distribution of U (scipy's ``method="exact"``), counted in integers.
   Equality is rejected at 98 % confidence: p < 0.02.
3. The median shift is the canary's median minus the baseline's, in percent of the baseline's
   (of its absolute value: "increase" means the canary's median is higher, whatever the sign).
   When the baseline's median is 0 the percentage is undefined (``shift_percent`` is None): a canary
   median of 0 too is no shift, and any other is taken to exceed every tolerance in its direction (an
   error count going from 0 to 1 is the regression a tolerance in percent cannot express; the test
   still has to reject equality for the metric to fail).
4. The metric FAILS when the test rejects equality **and** the shift exceeds ``tolerance_percent``
   in the ``fails_when`` direction (strictly: a shift of exactly the tolerance passes). A significant
   shift the other way (the new build is faster) passes. The test alone would fail a 0.5 % shift
   measured over enough datapoints; the tolerance alone would fail noise: both are needed.

The score is the share of metrics that passed, 0 to 100; a critical metric that failed (NODATA
included) makes it 0 and the verdict FAIL, whatever the thresholds. Otherwise the verdict is PASS
at ``score >= pass_score``, MARGINAL (a human decides) at ``marginal_score <= score < pass_score``,
FAIL below.

Caveats, for whoever reads a verdict:

- **Autocorrelated samples.** The test takes every datapoint as independent; an instance's
  consecutive datapoints are not (a GC pause, a cold cache or a noisy neighbour spans several
  periods). The effective sample is smaller than the count, so p-values come out too small and
  differences look significant too easily: this is why a metric must also exceed its tolerance.
  Longer ``period_seconds`` make datapoints less dependent.
- **Few instances.** Datapoints are pooled per side, so with one canary instance the comparison is
  of that machine against the others: its zone, its hardware, its fresh caches and JIT are confounded
  with the build. Until several instances are replaced, a verdict is evidence about one instance.
  With very few datapoints the test cannot reject at all: with 4 a side the smallest p-value there
  is is 2/70 = 0.029 and no metric can fail; with 5 a side it is 2/252 = 0.008. Keep
  ``min_samples`` at 10 or more.
- **Traffic parity.** Both sides must serve the same traffic: the same load balancer weights and
  request mix. Slow start, sticky sessions or a canary outside the target group shift metrics that
  depend on load (request counts, CPU, a ``Sum``) for reasons that are not the build. Prefer rates
  and latencies (``Average``, ``p99``) to totals.
- **Many metrics.** Each metric is tested at 2 %; with 10 metrics a chance difference in one of them
  is likely. A non-critical metric's failure only lowers the score, and the tolerance filters most.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

ALPHA = 0.02  # two-sided, 98 % confidence
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)  # CloudWatch periods under a minute; others are multiples of 60
EXACT_MAX = 8  # scipy's "auto": the exact distribution when one side has at most this many, no ties
INCREASE = "increase"
DECREASE = "decrease"
PASS = "PASS"
FAIL = "FAIL"
NODATA = "NODATA"
MARGINAL = "MARGINAL"

Method = Literal["auto", "exact", "asymptotic"]


@dataclass(frozen=True)
class CanaryMetric:
    """One metric to judge, read per instance (dimension ``InstanceId``)."""

    namespace: str
    metric_name: str
    fails_when: str  # INCREASE or DECREASE: the direction that is a regression
    statistic: str = "Average"
    tolerance_percent: float = 0
    critical: bool = False

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.metric_name} ({self.statistic})"

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CanaryMetric:
        return cls(**record)


@dataclass(frozen=True)
class CanaryAnalysis:
    """The ``canary_analysis`` input. Its defaults are written here, once: the input schema applies
    only top-level defaults (tasks/contracts.py), so a test should compare the schema's with these."""

    metrics: tuple[CanaryMetric, ...]
    period_seconds: int = 60
    min_samples: int = 20
    pass_score: float = 95
    marginal_score: float = 75

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CanaryAnalysis:
        metrics = tuple(CanaryMetric.from_record(m) for m in record["metrics"])
        return cls(**{**record, "metrics": metrics})

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "metrics": [asdict(m) for m in self.metrics]}


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U of the first sample (scipy's ``statistic``)
    p_value: float  # two-sided
    method: str  # "exact" or "asymptotic"


def mann_whitney_u(x: Sequence[float], y: Sequence[float], method: Method = "auto") -> MannWhitney:
    """Two-sided Mann-Whitney U test of ``x`` against ``y``, as ``scipy.stats.mannwhitneyu(x, y)``
    with ``use_continuity=True`` and the same ``method``. Both samples must be non-empty and NaN-free."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs at least one value on each side")
    doubled_rank_sum, tie_term = _ranks(x, y)
    u1_doubled = doubled_rank_sum - n1 * (n1 + 1)  # 2 * U1: with ties, ranks average to halves
    u_max_doubled = max(u1_doubled, 2 * n1 * n2 - u1_doubled)
    if method == "auto":
        method = "exact" if min(n1, n2) <= EXACT_MAX and tie_term == 0 else "asymptotic"
    if method == "exact":
        # P(U >= U_max) = P(U <= n1*n2 - U_max) by symmetry; scipy truncates a half U (ties) to an int
        p = 2 * _exact_lower_tail(n1 * n2 - u_max_doubled // 2, n1, n2) / math.comb(n1 + n2, n1)
    else:
        p = _asymptotic_p(u_max_doubled, n1, n2, tie_term)
    return MannWhitney(u1_doubled / 2, min(1.0, p), method)


def _ranks(x: Sequence[float], y: Sequence[float]) -> tuple[int, int]:
    """Twice the rank sum of ``x`` in the pooled sample (ties take their average rank), and the
    tie term sum(t**3 - t) over groups of t equal values; integers, so nothing is rounded."""
    pooled = sorted([(v, True) for v in x] + [(v, False) for v in y], key=lambda pair: pair[0])
    doubled_rank_sum = tie_term = 0
    start = 0
    while start < len(pooled):
        end = start
        while end + 1 < len(pooled) and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        size = end - start + 1
        from_x = sum(1 for _, is_x in pooled[start : end + 1] if is_x)
        doubled_rank_sum += from_x * (start + end + 2)  # 1-based ranks start+1..end+1 average (start+end+2)/2
        tie_term += size**3 - size
        start = end + 1
    return doubled_rank_sum, tie_term


def _asymptotic_p(u_max_doubled: int, n1: int, n2: int, tie_term: int) -> float:
    """Normal approximation: z = (U_max - n1*n2/2 - 0.5) / sigma, the variance corrected for ties,
    p = 2 * P(Z > z). Every value tied: sigma is 0, no evidence of a difference, p = 1."""
    n = n1 + n2
    variance_numerator = n1 * n2 * ((n + 1) * n * (n - 1) - tie_term)  # over 12 * n * (n - 1)
    if variance_numerator == 0:
        return 1.0
    sigma = math.sqrt(variance_numerator / (12 * n * (n - 1)))
    z = (u_max_doubled - n1 * n2 - 1) / 2 / sigma
    return math.erfc(z / math.sqrt(2))


def _exact_lower_tail(k: int, n1: int, n2: int) -> int:
    """How many of the comb(n1 + n2, n1) orderings without ties give U <= k: the first k + 1
    coefficients of the Gaussian binomial prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i), m <= n,
    as a power series truncated at q^k (so a small p-value costs little)."""
    m, n = min(n1, n2), max(n1, n2)
    counts = [1] + [0] * k
    for i in range(1, m + 1):
        for u in range(k, n + i - 1, -1):  # times (1 - q^(n+i)), descending: reads old values
            counts[u] -= counts[u - n - i]
        for u in range(i, k + 1):  # divided by (1 - q^i), ascending: reads new values
            counts[u] += counts[u - i]
    return sum(counts)


@dataclass(frozen=True)
class MetricResult:
    """One metric's verdict and what it rests on (a median is None for a side without data)."""

    metric: CanaryMetric
    verdict: str  # PASS, FAIL or NODATA
    canary_samples: int
    baseline_samples: int
    min_samples: int
    canary_median: float | None
    baseline_median: float | None
    shift_percent: float | None  # None: a side has no data, or the baseline's median is 0
    p_value: float | None  # None: NODATA, the test was not run

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def describe(self) -> str:
        """One line, e.g. ``App/Latency (Average): FAIL: canary median 312 vs baseline median 104
        (+200 %, tolerance 10 % increase), p = 1.2e-08, 40 vs 80 datapoints``."""
        head = f"{self.metric.label}: {self.verdict}"
        if self.p_value is None:
            return (
                f"{head}: {self.canary_samples} canary and {self.baseline_samples} baseline datapoints, "
                f"fewer than min_samples {self.min_samples} on a side"
            )
        shift = "from 0" if self.shift_percent is None else f"{self.shift_percent:+.3g} %"
        return (
            f"{head}: canary median {self.canary_median:.6g} vs baseline median {self.baseline_median:.6g} "
            f"({shift}, tolerance {self.metric.tolerance_percent:g} % {self.metric.fails_when}), "
            f"p = {self.p_value:.2g}, {self.canary_samples} vs {self.baseline_samples} datapoints"
        )

    def to_record(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"metric": asdict(self.metric)}


def judge_metric(
    metric: CanaryMetric, canary: Sequence[float], baseline: Sequence[float], min_samples: int
) -> MetricResult:
    """One metric's verdict from each side's pooled datapoints."""
    canary_values = [v for v in canary if not math.isnan(v)]
    baseline_values = [v for v in baseline if not math.isnan(v)]
    counts = (len(canary_values), len(baseline_values), min_samples)
    needed = max(min_samples, 1)
    if len(canary_values) < needed or len(baseline_values) < needed:
        medians = (_median(canary_values), _median(baseline_values))
        shift = None if None in medians else shift_percent(*medians)  # type: ignore[arg-type]
        return MetricResult(metric, NODATA, *counts, *medians, shift, None)
    canary_median, baseline_median = statistics.median(canary_values), statistics.median(baseline_values)
    test = mann_whitney_u(canary_values, baseline_values)
    shift = shift_percent(canary_median, baseline_median)
    regressed = _exceeds(metric, canary_median, baseline_median, shift)
    verdict = FAIL if test.p_value < ALPHA and regressed else PASS
    return MetricResult(metric, verdict, *counts, canary_median, baseline_median, shift, test.p_value)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def shift_percent(canary_median: float, baseline_median: float) -> float | None:
    """The canary's median against the baseline's, in percent of the baseline's; None from a
    baseline median of 0 to anything else."""
    if baseline_median == 0:
        return 0.0 if canary_median == 0 else None
    return (canary_median - baseline_median) / abs(baseline_median) * 100


def _exceeds(metric: CanaryMetric, canary_median: float, baseline_median: float, shift: float | None) -> bool:
    """The shift is past the tolerance in the direction that is a regression; from a baseline median
    of 0, any shift in that direction is."""
    sign = 1 if metric.fails_when == INCREASE else -1
    if shift is None:
        return sign * (canary_median - baseline_median) > 0
    return sign * shift > metric.tolerance_percent


@dataclass(frozen=True)
class CanaryJudgement:
    results: tuple[MetricResult, ...]
    score: float  # 0..100
    verdict: str  # PASS, MARGINAL or FAIL
    pass_score: float
    marginal_score: float

    @property
    def failed(self) -> tuple[MetricResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def summary(self, asg_name: str) -> str:
        """The decision line, e.g. ``live_asg_web => canary score 66.7: MARGINAL (2 of 3 metrics
        passed; pass_score 95, marginal_score 50)``."""
        critical = "".join(f"; critical {r.metric.label} {r.verdict}" for r in self.failed if r.metric.critical)
        passed = len(self.results) - len(self.failed)
        return (
            f"{asg_name} => canary score {self.score:.3g}: {self.verdict} ({passed} of {len(self.results)} "
            f"metrics passed{critical}; pass_score {self.pass_score:g}, marginal_score {self.marginal_score:g})"
        )

    def failure_message(self, asg_name: str) -> str:
        """CanaryAnalysisFailedError's text: the summary, then each metric that failed with both
        medians, the shift and the p-value, or how many datapoints there were; then, the same way,
        each that passed (the error is all the history keeps of a failed judgement)."""
        passed = [r for r in self.results if r.passed]
        return f"{self.summary(asg_name)}: " + "; ".join(r.describe() for r in (*self.failed, *passed))

    def to_record(self) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        return record | {"results": [r.to_record() for r in self.results]}


def judge(analysis: CanaryAnalysis, samples: Sequence[tuple[Sequence[float], Sequence[float]]]) -> CanaryJudgement:
    """The verdict; ``samples`` holds each metric's (canary, baseline) datapoints, in the order of
    ``analysis.metrics``."""
    if len(samples) != len(analysis.metrics) or not samples:
        raise ValueError(f"canary analysis: {len(analysis.metrics)} metrics, datapoints for {len(samples)}")
    results = tuple(
        judge_metric(metric, canary, baseline, analysis.min_samples)
        for metric, (canary, baseline) in zip(analysis.metrics, samples, strict=True)
    )
    critical = any(r.metric.critical and not r.passed for r in results)
    score = 0.0 if critical else 100 * sum(r.passed for r in results) / len(results)
    if critical or score < analysis.marginal_score:
        verdict = FAIL
    elif score < analysis.pass_score:
        verdict = MARGINAL
    else:
        verdict = PASS
    return CanaryJudgement(results, score, verdict, analysis.pass_score, analysis.marginal_score)
