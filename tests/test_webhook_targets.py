"""Safe targets at create and update: endpoint URLs stored in their ASCII form, and hosts that
are or resolve to loopback, private, link-local, shared, unspecified, multicast or reserved
addresses refused unless WEBHOOK_ALLOW_PRIVATE_TARGETS (the tests' app allows them)."""

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders_service.events.targets import normalise_url

URI = jsonschema_rs.validator_for({"type": "string", "format": "uri"}, validate_formats=True)
IRI = jsonschema_rs.validator_for({"type": "string", "format": "iri"}, validate_formats=True)

REFUSED = [
    ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
    ("http://127.255.255.254/hook", "127.255.255.254 is a loopback address"),
    ("http://2130706433/", "127.0.0.1 is a loopback address"),
    ("http://0x7f000001/", "127.0.0.1 is a loopback address"),
    ("http://0x7F.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://0177.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://127.1/", "127.0.0.1 is a loopback address"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://[0:0:0:0:0:0:0:1]:8080/", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1 is a loopback address"),
    ("http://[::ffff:7f00:1]/", "::ffff:7f00:1 is a loopback address"),
    ("http://[::127.0.0.1]/", "::7f00:1 is a loopback address"),
    ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1 is a loopback address"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://167772161/", "10.0.0.1 is a private address"),
    ("http://172.16.0.1/", "172.16.0.1 is a private address"),
    ("http://172.31.255.255/", "172.31.255.255 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://0xc0a80101/", "192.168.1.1 is a private address"),
    ("http://[::ffff:192.168.1.1]/", "::ffff:c0a8:101 is a private address"),
    ("http://[2002:a00:1::]/", "2002:a00:1:: is a private address"),
    ("http://[fc00::1]/", "fc00::1 is a private address"),
    ("http://[fd12:3456::1]/", "fd12:3456::1 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://2852039166/", "169.254.169.254 is a link-local address"),
    ("http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe is a link-local address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://[fec0::1]/", "fec0::1 is a site-local address"),
    ("http://100.64.0.1/", "100.64.0.1 is a shared (carrier-grade NAT) address"),
    ("http://100.127.255.255/", "100.127.255.255 is a shared (carrier-grade NAT) address"),
    ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ("http://0/", "0.0.0.0 is an unspecified address"),
    ("http://[::]/", ":: is an unspecified address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://239.255.255.250:1900/", "239.255.255.250 is a multicast address"),
    ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ("http://[ff0e::1]/", "ff0e::1 is a multicast address"),
    ("http://192.0.2.1/", "192.0.2.1 is a reserved address"),
    ("http://198.18.0.1/", "198.18.0.1 is a reserved address"),
    ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
    ("http://255.255.255.255/", "255.255.255.255 is a reserved address"),
    ("http://[2001:db8::1]/", "2001:db8::1 is a reserved address"),
    ("http://[64:ff9b:1::a00:1]/", "64:ff9b:1::a00:1 is a reserved address"),
    ("http://localhost:8080/", "localhost resolves to 127.0.0.1, a loopback address"),
    ("https://LocalHost./", "localhost. resolves to 127.0.0.1, a loopback address"),
    ("https://intranet.test/", "intranet.test resolves to 10.1.2.3, a private address"),
    ("https://metadata.test/", "metadata.test resolves to 169.254.169.254, a link-local"),
    ("https://six.test/", "six.test resolves to fd00::7, a private address"),
    ("https://mixed.test/", "mixed.test resolves to 10.9.9.9, a private address"),
]


@pytest.fixture
def names(network):
    """What the made-up names resolve to (none of them is ever looked up for real)."""
    for name, addresses in {
        "localhost": ["127.0.0.1", "::1"],
        "localhost.": ["127.0.0.1"],
        "intranet.test": ["10.1.2.3"],
        "metadata.test": ["169.254.169.254"],
        "six.test": ["fd00::7"],
        "mixed.test": ["93.184.216.34", "10.9.9.9"],
        "shop.test": ["93.184.216.34", "2606:2800:220:1::1"],
    }.items():
        network.dns.answer(name, addresses)
    return network.dns


def create(client, admin, url):
    return client.post("/webhook-endpoints", json={"url": url}, headers=admin)


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_a_host_that_is_or_resolves_to_a_refused_address_is_a_400_at_create(
    strict_client, admin, names, url, reason
):
    response = create(strict_client, admin, url)

    assert response.status_code == 400, response.get_json()
    [error] = response.get_json()["errors"]["json"]["url"]
    assert reason in error
    assert reason in response.get_json()["message"]
    assert strict_client.get("/webhook-endpoints", headers=admin).get_json() == []


def test_patching_the_url_to_a_refused_address_is_a_400_and_keeps_the_url(
    strict_client, admin, names
):
    endpoint = create(strict_client, admin, "https://shop.test/hook").get_json()

    for url in ("http://169.254.169.254/", "http://[::ffff:10.0.0.1]/", "https://localhost/"):
        response = strict_client.patch(
            f"/webhook-endpoints/{endpoint['id']}", json={"url": url}, headers=admin
        )
        assert response.status_code == 400, url
        assert "url" in response.get_json()["errors"]["json"]
    stored = strict_client.get(f"/webhook-endpoints/{endpoint['id']}", headers=admin).get_json()
    assert stored["url"] == "https://shop.test/hook"


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://93.184.216.34/hook", "https://93.184.216.34/hook"),
        ("https://1572395042/hook", "https://93.184.216.34/hook"),
        ("https://[2606:4700:4700::1111]/", "https://[2606:4700:4700::1111]/"),
        ("https://[::ffff:8.8.8.8]/", "https://[::ffff:808:808]/"),
        ("https://shop.test/hook", "https://shop.test/hook"),
        # Not published yet: the deliverer checks the address at each attempt anyway.
        ("https://unpublished.test/hook", "https://unpublished.test/hook"),
    ],
)
def test_a_public_target_is_accepted_when_private_ones_are_refused(
    strict_client, admin, names, url, stored
):
    response = create(strict_client, admin, url)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["url"] == stored


def test_private_targets_are_accepted_when_allowed(client, admin):
    for url in ("http://127.0.0.1:9/hook", "http://[fd00::1]/", "http://0xa000001/"):
        assert create(client, admin, url).status_code == 201, url


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        ("https://Ï/", "https://xn--gda/"),
        ("https://Ï", "https://xn--gda"),
        ("HTTPS://Hooks.EXAMPLE.com/Orders", "https://hooks.example.com/Orders"),
        ("https://bücher.example/straße?q=ä#ï", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%A4#%C3%AF"),
        ("https://\uff33\uff28\uff2f\uff30.example/", "https://shop.example/"),  # full-width SHOP
        ("https://hooks.example.com:0443/h", "https://hooks.example.com:443/h"),
        ("http://0x7f000001:8080/h", "http://127.0.0.1:8080/h"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://[::FFFF:127.0.0.1]/", "http://[::ffff:7f00:1]/"),
        ("http://[fd00:0:0:0::1]/", "http://[fd00::1]/"),
    ],
)  # fmt: skip
def test_a_url_is_stored_in_its_ascii_form_and_answered_as_a_valid_uri(client, admin, url, stored):
    created = create(client, admin, url)

    assert created.status_code == 201, created.get_json()
    assert created.get_json()["url"] == stored
    endpoint_url = f"/webhook-endpoints/{created.get_json()['id']}"
    assert client.get(endpoint_url, headers=admin).get_json()["url"] == stored
    assert client.get("/webhook-endpoints", headers=admin).get_json()[0]["url"] == stored
    assert URI.is_valid(stored)


def test_a_patched_url_is_stored_in_its_ascii_form(client, admin):
    endpoint = create(client, admin, "https://hooks.example.com/").get_json()

    response = client.patch(
        f"/webhook-endpoints/{endpoint['id']}",
        json={"url": "https://Bücher.example/"},
        headers=admin,
    )

    assert response.status_code == 200
    assert response.get_json()["url"] == "https://xn--bcher-kva.example/"


@pytest.mark.parametrize(
    "url",
    [
        "https://a..example/",  # an empty label
        "https://.example/",
        "https://-hooks.example/",
        "https://ex_ample.com/",  # IDNA allows letters, digits and hyphens
        "https://exa%20mple.com/",
        "https://xn--abc.example/",  # punycode that decodes to nothing valid
        "https://" + "a" * 64 + ".example/",  # a label past 63
        "https://hooks.example\\.evil.example/",
        "http://1.2.3.4.5/",
        "http://256.0.0.1/",
        "http://08.0.0.1/",
        "http://example.123/",
        "http://[127.0.0.1]/",
        "http://[fe80::1%25eth0]/",
        "http://[::1]junk/",
        "http://[::1/",
        "https://hooks.example/%zz",
        "https://hooks.example/{id}",
        "https://hooks.example/a b",
        "https://hooks.example/\U000e0001",  # a tag character: not in an IRI's path
        "https://hooks.example/\tx",
    ],
)
def test_a_host_or_url_that_cannot_be_stored_as_a_uri_is_a_400_naming_the_field(client, admin, url):
    response = create(client, admin, url)

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["errors"]["json"]["url"]
    assert "url" in response.get_json()["message"]
    assert client.get("/webhook-endpoints", headers=admin).get_json() == []


@settings(max_examples=400, derandomize=True, deadline=None)
@given(
    scheme=st.sampled_from(["http://", "https://", "HTTPS://"]),
    rest=st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
    | st.from_regex("[a-zA-Z0-9.\\[\\]:%/?#@Ïß\uff10-\uff19-]{1,30}", fullmatch=True),
)
def test_whatever_is_accepted_is_a_valid_iri_and_is_stored_as_a_valid_uri(scheme, rest):
    try:
        stored = normalise_url(scheme + rest)
    except ValueError:
        return
    assert IRI.is_valid(scheme + rest), scheme + rest
    assert URI.is_valid(stored), (scheme + rest, stored)
    assert normalise_url(stored) == stored


def test_the_api_document_says_iri_in_and_uri_out_with_the_length_limit(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]

    sent, answered = schemas["WebhookEndpointCreate"], schemas["WebhookEndpoint"]
    assert sent["properties"]["url"]["format"] == "iri"
    assert answered["properties"]["url"]["format"] == "uri"
    for schema in (sent, answered):
        assert schema["properties"]["url"]["maxLength"] == 2048
