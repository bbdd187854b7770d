"""Reading and ordering the builds instances report on GET /version."""

from __future__ import annotations

import pytest

from tasks import contracts
from tasks.domain import versions
from tasks.domain.fleet import Instance
from tests.unit.builders import instance


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.0.274", "1.0.274"),
        ("  1.0.274\r\n", "1.0.274"),
        ("\t1.0.274 ", "1.0.274"),
        ('"1.0.274"', "1.0.274"),
        ("'1.0.274'", "1.0.274"),
        ('  "1.0.274" \n', "1.0.274"),
        ("v1.0.274", "1.0.274"),
        ("V1.0.274", "1.0.274"),
        ('"v1.0.274"\n', "1.0.274"),
        ("' V1.0.274 '", "1.0.274"),
    ],
)
def test_normalize_strips_whitespace_quotes_and_a_leading_v(raw: str, expected: str) -> None:
    assert versions.normalize(raw) == expected


def test_normalize_removes_only_one_leading_v() -> None:
    assert versions.normalize("vv1.0") == "v1.0"


def test_ordering_is_numeric_not_lexical() -> None:
    assert versions.parse("1.0.99") < versions.parse("1.0.100")
    assert versions.highest(["1.0.99", "1.0.100"]) == "1.0.100"
    assert versions.lowest(["1.0.100", "1.0.99"]) == "1.0.99"


def test_trailing_zero_segment_is_the_same_version() -> None:
    assert versions.same("1.0.274", "1.0.274.0")
    assert versions.same("v1.0.274", '"1.0.274.0"')
    assert not versions.same("1.0.274", "1.0.275")
    assert not versions.same("1.0.274", "1.0.27.4")


def test_parse_rejects_text_that_is_not_a_version() -> None:
    with pytest.raises(ValueError, match="not a version: 'latest'"):
        versions.parse("latest")
    assert not versions.is_version("latest")
    assert not versions.is_version("")
    assert versions.is_version("v1.0.274")


def test_highest_and_lowest_over_mixed_spellings() -> None:
    seen = ["1.0.100", "v1.0.99", "1.0.274", '"1.0.9"']
    assert versions.highest(seen) == "1.0.274"
    assert versions.lowest(seen) == '"1.0.9"'


def test_highest_and_lowest_of_nothing_are_none() -> None:
    assert versions.highest([]) is None
    assert versions.lowest([]) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"1.0.274", "1.0.274"),
        (b"1.0.274\n", "1.0.274"),
        (b'"v1.0.274"\r\n', "1.0.274"),
        (b"V1.0.100", "1.0.100"),
    ],
)
def test_read_body_returns_the_normalized_version(body: bytes, expected: str) -> None:
    assert versions.read_body(body) == (expected, None)


def test_read_body_accepts_exactly_the_byte_cap() -> None:
    body = b"1.0.274" + b" " * (versions.MAX_BODY_BYTES - len(b"1.0.274"))
    assert len(body) == 1024
    assert versions.read_body(body) == ("1.0.274", None)


def test_read_body_rejects_a_body_over_1024_bytes() -> None:
    body = b"1.0.274" + b" " * (1025 - len(b"1.0.274"))
    assert versions.read_body(body) == (None, "body over 1024 bytes")


def test_read_body_rejects_bytes_that_are_not_utf8() -> None:
    assert versions.read_body(b"\xff\xfe1.0.274") == (None, "not a version")


@pytest.mark.parametrize(
    "body",
    [
        b"<h1>503 Service Unavailable</h1>",
        b"",
        b"x" * 100,
        b"<html><head><title>secret-token-abc123</title></head></html>",
        b"1.0.274 <script>",
    ],
)
def test_read_body_never_shows_the_body_in_its_reason(body: bytes) -> None:
    """An endpoint's bytes never travel into the execution's records: only that it is not a version."""
    assert versions.read_body(body) == (None, "not a version")


def test_a_version_longer_than_64_characters_is_not_a_version() -> None:
    exactly = "1" + ".0" * 31 + "1"  # 64 characters
    assert len(exactly) == versions.MAX_VERSION_CHARS
    assert versions.read_body(exactly.encode()) == (exactly, None)
    assert versions.read_body((exactly + "1").encode()) == (None, "not a version")


@pytest.mark.parametrize(("length", "kept"), [(0, 0), (120, 120), (121, 120), (5000, 120)])
def test_a_reason_is_cut_at_120_characters(length: int, kept: int) -> None:
    reason = versions.bounded_reason("r" * length)
    assert reason is not None
    assert len(reason) == kept
    assert reason.endswith("...") == (length > kept)
    assert versions.bounded_reason(None) is None


def test_every_instance_record_carries_a_bounded_reason() -> None:
    """Whatever produced it (a probe, a template's long tag name), and however it arrived (a record)."""
    long = "no tag:" + "n" * 2000 + " for the version URL"
    assert len(instance("i-0a01", None, reason=long).to_record()["reason"]) == versions.MAX_REASON_CHARS
    assert len(Instance.from_record({"id": "i-0a01", "az": "a", "reason": long}).reason or "") == 120


def _instance_problems(version: str | None, reason: str | None) -> list[str]:
    """What the claim check's schema says about an instance carrying this reading (ReadVersions' record)."""
    record = instance("i-0a01", version, reason=reason).to_record()
    fleet = {"asg_name": "live_asg_web", "desired": 1, "min_size": 0, "max_size": 2, "instances": [record]}
    stored = {"release_id": "r", "written_by": "ReadVersions", "fleet": fleet}
    return contracts.problems("fleet_record", stored)


def test_a_version_read_from_a_body_always_fits_the_step_schema() -> None:
    long_version = "1" + ".0" * 40  # 81 characters, a valid PEP 440 version
    version, reason = versions.read_body(long_version.encode())
    assert _instance_problems(version, reason) == []


def test_a_reason_from_a_body_always_fits_the_step_schema() -> None:
    body = ("\U000e0001" * 40).encode()  # 160 bytes of valid UTF-8
    version, reason = versions.read_body(body)
    assert version is None
    assert _instance_problems(version, reason) == []
