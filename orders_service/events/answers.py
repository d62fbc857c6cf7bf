"""The start of a subscriber's answer, read within bounds whatever it sends, kept as text."""

import codecs
import http.client
import io

KEPT = 1024  # bytes of an answer's body the attempts log keeps
# Bytes of the body's encoding read at most to find them: room for chunked framing. http.client
# reads to the end of the stream for a negative chunk size; no answer makes it read more.
READ_AT_MOST = 8 * KEPT


class _Capped(io.RawIOBase):
    """`stream`, ending after `left` bytes."""

    def __init__(self, stream, left):
        self.stream, self.left = stream, left

    def readable(self):
        return True

    def close(self):
        # The socket closes for good only once its file is closed too.
        if not self.closed:
            self.stream.close()
        super().close()

    def readinto(self, buffer):
        data = self.stream.read1(min(len(buffer), self.left)) if self.left else b""
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


def first_bytes(response):
    """Up to KEPT bytes of the body of `response` (an http.client answer whose status was read).

    What came before a failure is kept: a body cut short, dripped past the attempt's deadline
    (the watchdog ends the read) or badly framed takes nothing from the status that came.
    """
    response.fp = io.BufferedReader(_Capped(response.fp, READ_AT_MOST), KEPT)
    try:
        body = response.read(KEPT)
    except (OSError, http.client.HTTPException) as error:
        body = getattr(error, "partial", b"")
    return body[:KEPT]  # a bad chunk size has http.client read past what was asked


def as_text(raw):
    """`raw` as text, None as None: invalid UTF-8, and NULs (PostgreSQL's text refuses them),
    become U+FFFD; a character cut at the KiB's end is left out, not shown as invalid."""
    if raw is None:
        return None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(raw, final=len(raw) < KEPT).replace("\x00", "\ufffd")
