"""Safe targets at delivery: each attempt looks the host up once, checks every address and
connects to one it checked, so a name that turns to a refused address later (DNS rebinding)
is a failed attempt and nothing is sent; HTTPS still checks the certificate against the name."""

import datetime
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orders_service.events.deliver import Deliverer, Settings
from tests.subscriber import Subscriber

SCHEDULE = (datetime.timedelta(seconds=1),)
PUBLIC = "93.184.216.34"


def attempt_once(allow_private_targets):
    Deliverer(Settings(2.0, SCHEDULE, allow_private_targets=allow_private_targets)).run(once=True)


def subscribe(client, admin, url):
    response = client.post("/webhook-endpoints", json={"url": url}, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def only_delivery(client, admin, endpoint):
    [delivery] = client.get(
        f"/webhook-endpoints/{endpoint['id']}/deliveries", headers=admin
    ).get_json()
    return delivery


def test_a_name_that_resolves_to_loopback_when_attempted_is_a_failed_attempt_and_nothing_is_sent(
    strict_client, client, admin, place_order, network
):
    with Subscriber() as subscriber:
        port = subscriber.server.server_address[1]
        network.dns.answer("rebind.test", [PUBLIC], ["127.0.0.1"])  # at create, then after
        endpoint = subscribe(strict_client, admin, f"http://rebind.test:{port}/hook")
        place_order()

        attempt_once(allow_private_targets=False)

    assert subscriber.received == []
    assert network.wire.asked == []  # no connection was even opened
    delivery = only_delivery(client, admin, endpoint)
    assert delivery["state"] == "pending" and delivery["attempts"] == 1
    assert delivery["lastStatus"] is None
    assert delivery["lastError"] == "refused: rebind.test resolves to 127.0.0.1, a loopback address"


def test_an_endpoint_stored_while_private_targets_were_allowed_is_refused_once_they_are_not(
    client, admin, place_order, network
):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()

        attempt_once(allow_private_targets=False)

    assert subscriber.received == []
    delivery = only_delivery(client, admin, endpoint)
    assert delivery["attempts"] == 1
    assert delivery["lastError"] == "refused: 127.0.0.1 is a loopback address"


def test_an_attempt_connects_to_the_address_its_one_lookup_checked(
    client, admin, place_order, network
):
    with Subscriber() as subscriber:
        port = subscriber.server.server_address[1]
        # A second lookup would get loopback, where the subscriber listens: none is made, and
        # the attempt goes to the public address (which the tests' network refuses).
        network.dns.answer("flip.test", [PUBLIC], ["127.0.0.1"])
        endpoint = subscribe(client, admin, f"http://flip.test:{port}/hook")
        place_order()

        attempt_once(allow_private_targets=False)

    assert subscriber.received == []
    assert network.dns.asked == ["flip.test"]
    assert network.wire.asked == [PUBLIC]
    assert "ConnectionRefusedError" in only_delivery(client, admin, endpoint)["lastError"]


def test_the_host_header_stays_the_name_when_the_address_is_pinned(
    client, admin, place_order, network
):
    with Subscriber() as subscriber:
        port = subscriber.server.server_address[1]
        network.dns.answer("hooks.test", ["127.0.0.1"])
        endpoint = subscribe(client, admin, f"http://hooks.test:{port}/hook")
        place_order()

        attempt_once(allow_private_targets=True)

    [received] = subscriber.received
    assert received.headers["Host"] == f"hooks.test:{port}"
    assert network.wire.asked == ["127.0.0.1"]
    assert only_delivery(client, admin, endpoint)["state"] == "delivered"


def certificates(directory, name):
    """A CA's certificate (to trust) and a server certificate for `name` it signed, as files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orders-service tests CA")])

    def certificate(subject, public_key, *extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(ca_key, hashes.SHA256())

    ca = certificate(ca_name, ca_key.public_key(), (x509.BasicConstraints(True, None), True))
    server = certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
        key.public_key(),
        (x509.BasicConstraints(False, None), True),
        (x509.SubjectAlternativeName([x509.DNSName(name)]), False),
    )
    pem = serialization.Encoding.PEM
    files = {"ca.pem": ca.public_bytes(pem), "server.pem": server.public_bytes(pem)}
    files["server.key"] = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for file_name, data in files.items():
        (directory / file_name).write_bytes(data)
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


@pytest.mark.parametrize(("certified", "delivered"), [("hooks.test", True), ("other.test", False)])
def test_https_to_the_pinned_address_checks_the_certificate_against_the_name(
    client, admin, place_order, network, monkeypatch, tmp_path, certified, delivered
):
    ca, cert, key = certificates(tmp_path, certified)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the deliverer's default context trusts it
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names = []
    context.sni_callback = lambda _socket, name, _context: server_names.append(name)
    subscriber = Subscriber()
    subscriber.server.socket = context.wrap_socket(subscriber.server.socket, server_side=True)
    with subscriber:
        port = subscriber.server.server_address[1]
        network.dns.answer("hooks.test", ["127.0.0.1"])
        endpoint = subscribe(client, admin, f"https://hooks.test:{port}/hook")
        place_order()

        attempt_once(allow_private_targets=True)

    assert server_names == ["hooks.test"]  # SNI: the name, not the address
    delivery = only_delivery(client, admin, endpoint)
    if delivered:
        assert delivery["state"] == "delivered"
        assert [r.headers["Host"] for r in subscriber.received] == [f"hooks.test:{port}"]
    else:
        assert subscriber.received == []
        assert "CERTIFICATE_VERIFY_FAILED" in delivery["lastError"]
        assert "hooks.test" in delivery["lastError"]


def test_a_ping_to_a_name_that_now_resolves_to_loopback_is_refused_and_sends_nothing(
    strict_client, admin, network
):
    with Subscriber() as subscriber:
        port = subscriber.server.server_address[1]
        network.dns.answer("rebind.test", [PUBLIC], ["127.0.0.1"])
        endpoint = subscribe(strict_client, admin, f"http://rebind.test:{port}/hook")

        response = strict_client.post(f"/webhook-endpoints/{endpoint['id']}/ping", headers=admin)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["error"] == (
        "refused: rebind.test resolves to 127.0.0.1, a loopback address"
    )
    assert response.get_json()["status"] is None
    assert subscriber.received == []
