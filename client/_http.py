"""The client's HTTP: the standard library's urllib, so the client needs nothing beyond
the verifier's own dependencies on a department's machine.

Replies are read up to a bound: a receipt holds one entry (at most 1 MiB) and its proof,
and a todo list is bounded by the log's draws; a server sending more is not trusted to.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_REPLY", "NoReply", "Reply", "get", "post"]

MAX_REPLY = 16 << 20
TIMEOUT = 60.0


class NoReply(Exception):
    """The server could not be reached or gave no complete answer (safe to retry)."""


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    @property
    def is_problem(self) -> bool:
        return self.content_type.startswith("application/problem+json")


def _request(request: urllib.request.Request) -> Reply:
    try:
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:  # 4xx/5xx carry a body too
            response = exc
        with response:
            body = response.read(MAX_REPLY + 1)
            if len(body) > MAX_REPLY:
                raise NoReply(f"reply larger than {MAX_REPLY} bytes")
            return Reply(response.status, response.headers.get("Content-Type", ""), body)
    except NoReply:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NoReply(str(reason)) from None


def post(url: str, data: bytes) -> Reply:
    """POST ``data`` as application/json."""
    return _request(urllib.request.Request(
        url, data=data, method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"}))


def get(url: str) -> Reply:
    return _request(urllib.request.Request(url, headers={"Accept": "application/json"}))
