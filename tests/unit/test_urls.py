"""The operator's version URL template: what it may name, and that values cannot rewrite it."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from tasks.domain import urls

VALUES = {
    "InstanceId": "i-0ae0",
    "PrivateIpAddress": "10.1.2.3",
    "PrivateDnsName": "ip-10-1-2-3.ec2.internal",
    "PublicIpAddress": "198.51.100.7",
    "PublicDnsName": "ec2-198-51-100-7.compute-1.amazonaws.com",
    "AvailabilityZone": "eu-west-1b",
    "tag:Name": "web-7",
}


@pytest.mark.parametrize(
    "template",
    [
        "http://{PrivateIpAddress}:80/version",
        "https://{PrivateDnsName}/version",
        "http://{PublicIpAddress}:8080/build/version",
        "https://{PublicDnsName}/version",
        "http://{InstanceId}.svc.internal/version",
        "http://{AvailabilityZone}.example.internal/version",
        "http://{tag:Name}.internal:8080/version",
        "http://{tag:aws:autoscaling:groupName}.internal/version",
        "http://{PrivateIpAddress}/version?id={InstanceId}&az={AvailabilityZone}&name={tag:Name}",
        "http://version.internal/{InstanceId}",
    ],
)
def test_template_problem_accepts_every_attribute_and_tags(template: str) -> None:
    assert urls.template_problem(template) is None


@pytest.mark.parametrize("name", ["PrivateIP", "privateIpAddress", "", "tag:", "Tag:Name", "InstanceId "])
def test_template_problem_names_an_unknown_placeholder(name: str) -> None:
    problem = urls.template_problem(f"http://{{PrivateIpAddress}}/version?x={{{name}}}")
    assert problem is not None
    assert problem.startswith(f"unknown placeholder {{{name}}}; use one of ")
    for known in ("{InstanceId}", "{PrivateIpAddress}", "{PublicDnsName}", "{AvailabilityZone}", "{tag:NAME}"):
        assert known in problem


@pytest.mark.parametrize(
    "template",
    [
        "ftp://{PrivateIpAddress}/version",
        "file:///etc/version",
        "{PrivateIpAddress}:80/version",
        "http:///version",
        "http://:80/version",
        "/version",
    ],
)
def test_template_problem_requires_an_http_url_with_a_host(template: str) -> None:
    problem = urls.template_problem(template)
    assert problem is not None
    assert problem.startswith("does not yield an http(s) URL with a host")


def test_template_problem_shows_the_sample_url_it_built() -> None:
    assert urls.template_problem("ftp://{PrivateIpAddress}/version") == (
        "does not yield an http(s) URL with a host (e.g. 'ftp://10.0.0.1/version')"
    )


@pytest.mark.parametrize(
    "template",
    [
        "http://{PrivateIpAddress/version",
        "http://PrivateIpAddress}/version",
        "http://{{PrivateIpAddress}}/version",
        "http://{PrivateIpAddress}/version{",
    ],
)
def test_template_problem_rejects_unbalanced_braces(template: str) -> None:
    assert urls.template_problem(template) == "unbalanced braces"


def test_render_substitutes_attributes_and_tags() -> None:
    template = "http://{PrivateIpAddress}:80/version?id={InstanceId}&name={tag:Name}"
    assert urls.render(template, VALUES) == "http://10.1.2.3:80/version?id=i-0ae0&name=web-7"


@pytest.mark.parametrize("hostile", ["evil.example:80/x@y", "a/b", "user@evil.example", "evil:1", "x?y#z", "%2F"])
def test_a_tag_in_the_host_cannot_change_host_port_or_path(hostile: str) -> None:
    rendered = urls.render("http://{tag:Name}.internal:8080/version", {"tag:Name": hostile})
    parts = urlsplit(rendered)
    assert parts.scheme == "http"
    assert parts.username is None
    assert parts.port == 8080
    assert parts.path == "/version"
    assert parts.query == "" and parts.fragment == ""
    assert unquote(parts.netloc) == hostile + ".internal:8080"


@pytest.mark.parametrize("hostile", ["../../admin", "a/b@c:d", "x?debug=1#frag", "/etc/passwd"])
def test_a_tag_in_the_path_stays_one_path_segment(hostile: str) -> None:
    rendered = urls.render("http://{PrivateIpAddress}/v/{tag:Name}/version", {**VALUES, "tag:Name": hostile})
    parts = urlsplit(rendered)
    assert parts.hostname == "10.1.2.3"
    assert parts.query == "" and parts.fragment == ""
    segments = parts.path.split("/")
    assert segments[0] == "" and segments[1] == "v" and segments[-1] == "version"
    assert len(segments) == 4
    assert unquote(segments[2]) == hostile


def test_render_raises_key_error_naming_the_missing_attribute() -> None:
    values = {k: v for k, v in VALUES.items() if k != "PublicIpAddress"}
    with pytest.raises(KeyError) as raised:
        urls.render("http://{PublicIpAddress}/version?az={AvailabilityZone}", values)
    assert raised.value.args == ("PublicIpAddress",)


def test_render_treats_an_empty_value_as_missing() -> None:
    """EC2's adapter reports an absent public address as an empty string."""
    with pytest.raises(KeyError) as raised:
        urls.render("http://{PublicIpAddress}/version", {**VALUES, "PublicIpAddress": ""})
    assert raised.value.args == ("PublicIpAddress",)


def test_render_raises_for_a_missing_tag() -> None:
    with pytest.raises(KeyError) as raised:
        urls.render("http://{tag:Service}.internal/version", VALUES)
    assert raised.value.args == ("tag:Service",)


def test_a_dot_dot_tag_value_cannot_climb_out_of_its_path_segment() -> None:
    rendered = urls.render("http://{PrivateIpAddress}/app/{tag:Name}/version", {**VALUES, "tag:Name": ".."})
    segments = urlsplit(rendered).path.split("/")
    assert "." not in segments and ".." not in segments


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/i-0a01/version", True),
        ("http://127.3.2.1/version", True),  # all of 127.0.0.0/8
        ("http://[::1]:8080/version", True),
        ("http://10.0.0.1:80/version", False),  # a moto instance's address
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://localhost:8080/version", False),  # a name is never resolved
        ("http://ip-10-0-0-1.ec2.internal/version", False),
        ("http://[::ffff:10.0.0.1]/version", False),
        ("not a url", False),
    ],
)
def test_the_local_stack_probes_literal_loopback_addresses_only(url: str, allowed: bool) -> None:
    assert urls.loopback_refusal(url) == (None if allowed else urls.LOOPBACK_ONLY)
