"""Where webhooks may go: endpoint URLs in their one ASCII form, and the addresses refused."""

import ipaddress
import re
import socket
from urllib.parse import quote, urlsplit, urlunsplit

import idna

MAX_URL = 2048
# What an IRI's path, query and fragment may hold (RFC 3987); the stored URI %-encodes (as
# UTF-8) what is not ASCII, so only URI_SAFE is left as it is.
UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    + "".join(f"{chr(plane << 16)}-{chr((plane << 16) | 0xFFFD)}" for plane in range(1, 14))
    + "\U000e1000-\U000efffd"
)
IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
PCHAR = rf"[A-Za-z0-9\-._~!$&'()*+,;=:@/{UCSCHAR}]|%[0-9A-Fa-f]{{2}}"
IRI_PARTS = (  # path, query, fragment
    re.compile(rf"(?:{PCHAR})*"),
    re.compile(rf"(?:{PCHAR}|[?{IPRIVATE}])*"),
    re.compile(rf"(?:{PCHAR}|\?)*"),
)
URI_SAFE = "!$&'()*+,;=:@/?~%"
NETLOC = re.compile(r"(\[[^\]]*\]|[^\[\]:]*)(:[0-9]*)?")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

# Ranges a webhook never goes to (unless WEBHOOK_ALLOW_PRIVATE_TARGETS), first match named;
# an address `ipaddress` does not call global is refused after these as reserved.
REFUSED = tuple(
    (ipaddress.ip_network(network), kind)
    for network, kind in (
        ("0.0.0.0/8", "an unspecified address"),  # Linux connects 0.0.0.0 to this host
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("169.254.0.0/16", "a link-local address"),  # 169.254.169.254: cloud metadata
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("224.0.0.0/4", "a multicast address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "a reserved address"),  # IPv4-compatible, deprecated: no route means it
        ("fc00::/7", "a private address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
        ("64:ff9b:1::/48", "a reserved address"),  # local NAT64: any IPv4 may sit inside
        ("::ffff:0:0:0/96", "a reserved address"),  # IPv4-translated (SIIT)
    )
)


class Refused(ValueError):
    """The host is, or resolves to, an address webhooks are not sent to; says which and why."""


def normalise_url(text):
    """The IRI `text` as stored: an absolute http(s) URI whose host is ASCII (IDNA) or an IP
    literal, the rest %-encoded as UTF-8 where not ASCII; ValueError saying what is wrong."""
    if len(text) > MAX_URL:
        raise ValueError(f"Longer than {MAX_URL} characters.")
    if any(char <= " " or char == "\x7f" for char in text):  # urlsplit would drop some
        raise ValueError("Must not hold spaces or control characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # an unclosed [, [an IPv4 address], a port not a number or past 65535
        raise ValueError("Must be a URL: check its [ ] and its port (1 to 65535).") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("Must be an absolute http:// or https:// URL.")
    if "@" in parts.netloc:
        raise ValueError("Must not hold a user or password (they would sit in logs and lists).")
    if not NETLOC.fullmatch(parts.netloc):  # urlsplit skips what follows a ]
        raise ValueError("Must be a URL: its host, then an optional :port.")
    if port == 0:
        raise ValueError("The port must be from 1 to 65535.")
    netloc = ascii_host(parts.hostname, bracketed="[" in parts.netloc)
    if port is not None:
        netloc += f":{port}"
    for part, grammar in zip(parts[2:], IRI_PARTS, strict=True):
        if not grammar.fullmatch(part):
            raise ValueError(
                'Must be a URI or IRI: %-encode <>[]{}|\\^`" and a % without two hex digits.'
            )
    url = urlunsplit((parts.scheme, netloc, *(quote(part, safe=URI_SAFE) for part in parts[2:])))
    if len(url) > MAX_URL:
        raise ValueError(f"Longer than {MAX_URL} characters once its host is in ASCII.")
    return url


def ascii_host(host, bracketed):
    """The host as a URL holds it: an IPv6 literal in brackets, an IPv4 address in its dotted
    form (however a resolver would read it: 2130706433, 0x7f.1, 0177.0.0.1), or an IDNA name."""
    if bracketed:
        try:
            if "%" in host:  # a zone names this host's interface: no target elsewhere has one
                raise ValueError
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            raise ValueError("The host in brackets must be an IPv6 address.") from None
    try:
        name = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise ValueError(f"The host is not a valid domain name: {error}.") from None
    if ends_in_number(name):
        return str(parse_ipv4(name))
    return name


def ends_in_number(name):
    """WHATWG URL: a host whose last label is a number is an IPv4 address, or invalid."""
    last = name.removesuffix(".").rpartition(".")[2]
    return bool(re.fullmatch(r"[0-9]+|0[xX][0-9A-Fa-f]*", last))


def parse_ipv4(name):
    """WHATWG's IPv4 parser (inet_aton's): 1 to 4 parts, decimal, 0x hex or 0-led octal; the
    last part fills the bytes the others leave (127.1 is 127.0.0.1)."""
    labels = name.removesuffix(".").split(".")
    try:
        numbers = [ipv4_number(label) for label in labels]
        *leading, last = numbers
        if len(numbers) > 4 or max(leading, default=0) > 255 or last >= 256 ** (5 - len(numbers)):
            raise ValueError
    except ValueError:
        raise ValueError(f"The host {name} is neither an IPv4 address nor a name.") from None
    return ipaddress.IPv4Address(sum(n << (8 * (3 - i)) for i, n in enumerate(leading)) + last)


def ipv4_number(label):
    if re.fullmatch(r"0[xX][0-9A-Fa-f]*", label):
        return int(label[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", label):
        return int(label, 8)
    if re.fullmatch(r"0|[1-9][0-9]*", label):  # 08 is no number: octal without an 8
        return int(label)
    raise ValueError(label)


def embedded_ipv4(address):
    """The IPv4 address an IPv6 one carries to (mapped, NAT64, 6to4, compatible), if any."""
    if address.version == 4:
        return None
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address):
    """Why webhooks may not go to `address` ("a loopback address"), or None when they may."""
    inner = embedded_ipv4(address)
    if inner is not None:
        kind = refusal(inner)
        if kind or address.ipv4_mapped:
            return kind  # a mapped address is its IPv4 address on a dual-stack socket
    for network, kind in REFUSED:
        if address.version == network.version and address in network:
            return kind
    if not address.is_global:
        return "a reserved address"  # documentation, benchmarking, 240/4 and the like
    return None


def resolve(host):
    """Every address `host` (a name or an IP literal) stands for, in the resolver's order."""
    found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))


def checked_addresses(host, allow_private):
    """`host`'s addresses, all allowed; Refused names the first that is not (a name with one
    refused address among public ones is refused whole: which one a client gets is chance)."""
    addresses = resolve(host)
    if allow_private:
        return addresses
    for address in addresses:
        kind = refusal(address)
        if kind:
            if is_ip_literal(host):
                raise Refused(f"{address} is {kind}")
            raise Refused(f"{host} resolves to {address}, {kind}")
    return addresses


def is_ip_literal(host):
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
