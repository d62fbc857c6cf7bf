"""A network for tests that name hosts: a resolver that answers as told and never sends a
query, and connections that reach 127.0.0.1 only, whatever address a test makes up."""

import socket


class FakeDNS:
    """socket.getaddrinfo: a name in `answers` gets its next answer (the last one repeats), an
    IP literal is read as the resolver reads it, any other name is unknown."""

    def __init__(self, real):
        self.real = real
        self.answers = {}
        self.asked = []

    def answer(self, name, *answers):
        """Each of `answers` (a list of addresses) for one lookup of `name`, in turn."""
        self.answers[name] = [list(addresses) for addresses in answers]

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self.answers:
            return self.real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        self.asked.append(host)
        queue = self.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [self._info(address, port or 0) for address in addresses]

    @staticmethod
    def _info(address, port):
        if ":" in address:
            return (
                socket.AF_INET6,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0),
            )
        return (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


class LoopbackOnly:
    """socket.create_connection that resolves a name as the system would (through FakeDNS), and
    connects only to 127.0.0.1: any other address is refused, as if nothing listened there.
    `asked` is every host it was given, name or address."""

    def __init__(self, real):
        self.real = real
        self.asked = []

    def __call__(self, address, *args, **kwargs):
        host, port = address[:2]
        self.asked.append(host)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
        if found != "127.0.0.1":
            raise ConnectionRefusedError(f"the tests' network reaches 127.0.0.1 only, not {found}")
        return self.real((found, port), *args, **kwargs)
