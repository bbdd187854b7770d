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
        "http://{PrivateIpAddress}/{InstanceId}/{AvailabilityZone}/{tag:Name}/version",
        "http://{PrivateDnsName}:8080/{tag:aws:autoscaling:groupName}/version",
        "http://{PrivateIpAddress}/version?id={InstanceId}&az={AvailabilityZone}&name={tag:Name}",
        "http://user:secret@{PrivateIpAddress}:8080/version",
        "http://{PrivateIpAddress}:/version",
    ],
)
def test_template_problem_accepts_every_attribute_and_tags(template: str) -> None:
    assert urls.template_problem(template, ()) is None


LITERAL_HOSTS = ["http://version.internal/{InstanceId}", "http://127.0.0.1:8080/{InstanceId}/version", "http://[::1]/v"]


@pytest.mark.parametrize("template", LITERAL_HOSTS)
def test_a_literal_host_needs_to_be_listed(template: str) -> None:
    host = urlsplit(template).hostname
    assert host is not None
    problem = urls.template_problem(template, ())
    assert problem is not None
    assert problem.startswith(f"host {host!r} is not an instance address: use one of {{PrivateIpAddress}}, ")
    assert problem.endswith("or list it in AllowedVersionHosts")
    assert urls.template_problem(template, ("version.internal", "127.0.0.1", "::1")) is None
    assert urls.template_problem(template, ("other.internal",)) == problem
    assert urls.template_problem(template, None) is None  # not known here: the stack's ValidateInput checks


def test_a_listed_host_is_compared_as_an_address_or_case_blind_name() -> None:
    assert urls.template_problem("http://[0:0::1]/v", ("::1",)) is None
    assert urls.template_problem("http://Version.Internal./v", ("version.internal",)) is None
    assert urls.template_problem("http://127.0.0.2/v", ("127.0.0.1",)) is not None


@pytest.mark.parametrize(
    "template",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://169.254.170.2/v2/credentials",  # ECS/Lambda's credentials endpoint
        "http://169.254.169.254./latest",
        "http://[fe80::1]/v",
        "http://[fe80::1%25eth0]/v",
        "http://[fd00:ec2::254]/latest",
        "http://[::ffff:169.254.169.254]/latest",
        "http://0xa9fea9fe/latest",  # 169.254.169.254 as inet_aton spells it
        "http://2852039166/latest",
        "http://user@169.254.169.254:80/latest",
    ],
)
def test_link_local_and_metadata_addresses_are_refused_even_when_listed(template: str) -> None:
    host = urlsplit(template).hostname
    listed = (str(host), "169.254.169.254", "fe80::1", "fd00:ec2::254")
    for allowed in ((), listed, None):
        problem = urls.template_problem(template, allowed)
        assert problem is not None
        assert problem.endswith("is a link-local or metadata address, never allowed")


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("http://{InstanceId}.svc.internal/version", "InstanceId"),
        ("http://{tag:Name}.internal:8080/version", "tag:Name"),
        ("http://{tag:aws:autoscaling:groupName}/version", "tag:aws:autoscaling:groupName"),
        ("http://{AvailabilityZone}.example.internal/version", "AvailabilityZone"),
        ("http://{tag:user}@{PrivateIpAddress}/version", "tag:user"),
        ("http://me:{tag:password}@{PrivateIpAddress}/version", "tag:password"),
        ("http://{PrivateIpAddress}:{tag:port}/version", "tag:port"),
        ("http://{PrivateIpAddress}:80{InstanceId}/version", "InstanceId"),
        ("http://{tag:a/b}/version", "tag:a/b"),
        ("http://{tag:x@y}/version", "tag:x@y"),
    ],
)
def test_a_tag_or_an_instance_id_may_appear_only_in_the_path(template: str, name: str) -> None:
    expected = f"{{{name}}} may appear only in the path, not in the host, user-info or port"
    assert urls.template_problem(template, ("127.0.0.1",)) == expected
    assert urls.template_problem(template, None) == expected


@pytest.mark.parametrize(
    "template",
    [
        "http://{PrivateIpAddress}.nip.io/version",  # a name that resolves anywhere
        "http://x{PrivateIpAddress}/version",
        "http://{PrivateIpAddress}:80x/version",
        "http://{PrivateIpAddress}:123456/version",
    ],
)
def test_the_host_is_exactly_an_address_placeholder(template: str) -> None:
    problem = urls.template_problem(template, ())
    assert problem is not None
    assert problem.startswith("the host must be exactly one of {PrivateIpAddress}, {PrivateDnsName}, ")


def test_a_backslash_before_the_path_is_refused() -> None:
    """urlsplit reads http://127.0.0.1\\@169.254.169.254/ as host 169.254.169.254, urllib3 as 127.0.0.1."""
    problem = urls.template_problem("http://127.0.0.1\\@169.254.169.254/latest", ("127.0.0.1",))
    assert problem == "a backslash before the path (clients disagree on where its host ends)"


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


@pytest.mark.parametrize(
    ("url", "allowed_hosts", "refusal"),
    [
        ("http://10.1.2.3:80/version", (), None),  # an instance's address
        ("http://ip-10-1-2-3.ec2.internal/version", (), None),  # a name is never resolved
        ("http://198.51.100.7/version", (), None),
        ("http://169.254.169.254/latest/meta-data", (), urls.NOT_ALLOWED),
        ("http://169.254.169.254/latest/meta-data", ("169.254.169.254",), urls.NOT_ALLOWED),
        ("http://169.254.0.1/version", (), urls.NOT_ALLOWED),
        ("http://[fe80::abcd]/version", (), urls.NOT_ALLOWED),
        ("http://[fd00:ec2::254]/latest", (), urls.NOT_ALLOWED),
        ("http://[::ffff:169.254.169.254]/latest", (), urls.NOT_ALLOWED),
        ("http://127.0.0.1:8080/version", (), urls.NOT_ALLOWED),  # loopback: the function itself
        ("http://127.0.0.1:8080/version", ("127.0.0.1",), None),
        ("http://127.0.0.2:8080/version", ("127.0.0.1",), urls.NOT_ALLOWED),
        ("http://[::1]/version", (), urls.NOT_ALLOWED),
        ("http://localhost/version", (), urls.NOT_ALLOWED),
        ("http://localhost/version", ("localhost",), None),
        ("http://[::1/version", (), urls.NOT_ALLOWED),  # no host to be read
    ],
)
def test_a_rendered_address_is_refused_before_any_connection(
    url: str, allowed_hosts: tuple[str, ...], refusal: str | None
) -> None:
    assert urls.address_refusal(url, allowed_hosts) == refusal


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://127.0.0.1:8080/version", None),
        ("http://10.1.2.3:80/version", urls.LOOPBACK_ONLY),
        ("http://169.254.169.254/latest", urls.NOT_ALLOWED),
        ("http://127.0.0.2/version", urls.NOT_ALLOWED),
    ],
)
def test_the_local_stack_adds_its_loopback_only_rule(url: str, refusal: str | None) -> None:
    assert urls.address_refusal(url, ("127.0.0.1",), loopback_only=True) == refusal


def test_allowed_version_hosts_is_comma_separated() -> None:
    assert urls.parse_hosts("") == ()
    assert urls.parse_hosts(" 127.0.0.1, Version.Internal ,,") == ("127.0.0.1", "version.internal")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("http://{PrivateIpAddress}:8080", None),  # no path at all
        ("http://127.0.0.1:80x/version", "the host must be exactly one of"),  # a port that is no port
        ("http://[::1/version", "is not a URL"),  # an unclosed bracket is refused, not raised
    ],
)
def test_templates_without_a_path_or_with_a_broken_authority(template: str, expected: str | None) -> None:
    problem = urls.template_problem(template, ["127.0.0.1"])
    assert problem is None if expected is None else expected in (problem or "")
