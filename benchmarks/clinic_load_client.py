"""The request mix of ``bench_clinic_load.py`` and a light load client for it: one asyncio
event loop, one raw HTTP/1.1 keep-alive connection per client (no HTTP library: a request is one
``write``, a response is its header block and ``Content-Length`` bytes).

Two ways to drive the clients:

- closed loop (``rate=None``): each client sends its next request as soon as the previous
  answer arrived, so the offered load is whatever the server sustains (saturation);
- constant rate (``rate=R`` requests/s over all clients; wrk2's model): client ``k`` of ``n``
  has the intended send times ``t0 + (k + i * n) / R``. A request goes out at its intended time,
  or at once when the client's previous answer came later than that, and its latency is counted
  from the *intended* time. A server that stalls therefore shows every request it delayed, not
  only the one it was busy with (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Request", "Result", "intended_times", "pick", "run_clients"]


@dataclass(frozen=True)
class Request:
    """One request of the mix: ``kind`` is read / write / page."""

    kind: str
    method: str
    path: str
    body: dict[str, object] | None
    expect: int


def pick(rng: random.Random, mix: str, pairs: list[tuple[int, int, int]]) -> Request:
    """The next request of a client (the same draws, in the same order, as the thread client
    of ``bench_clinic_load.py`` always made): ``api`` 70 % reads (patient, session with its
    vitals, open alerts) and 30 % vital-sign writes; ``pages`` half pages (patient, session,
    plan), half the API mix."""
    pid, sid, plan = rng.choice(pairs)
    u = rng.random()
    if mix == "pages" and u < 0.5:
        path = rng.choice([f"/patients/{pid}", f"/sessions/{sid}", f"/plans/{plan}"])
        return Request("page", "GET", path, None, 200)
    if ((u - 0.5) * 2 < 0.3) if mix == "pages" else (u < 0.3):
        body: dict[str, object] = {
            "minutes_after_dose": rng.randint(0, 120),
            "sbp_mmhg": rng.randint(110, 150),
            "dbp_mmhg": 80,
            "spo2_percent": 97,
        }
        return Request("write", "POST", f"/api/v1/sessions/{sid}/observations", body, 201)
    path = rng.choice(
        [f"/api/v1/patients/{pid}", f"/api/v1/sessions/{sid}", "/api/v1/alerts?open_only=true"]
    )
    return Request("read", "GET", path, None, 200)


def intended_times(k: int, n_clients: int, rate: float, t0: float, until: float) -> list[float]:
    """Intended send times of client ``k`` of ``n_clients`` at ``rate`` requests/s in all,
    from ``t0`` up to ``until`` (the clients' schedules interleave evenly)."""
    step = n_clients / rate
    first = t0 + k / rate
    count = max(0, int((until - first) / step) + 2)
    return [t for t in (first + i * step for i in range(count)) if t < until]


@dataclass
class Result:
    """What the clients measured (latencies in ms by request kind)."""

    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"read": [], "write": [], "page": []}
    )
    errors: list[str] = field(default_factory=list)
    writes_acknowledged: int = 0
    #: requests whose send was later than intended by more than 1 ms (client or server behind)
    late_sends: int = 0


class _Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: bytes, body: bytes | None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode()
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.writer.write(head + headers + b"\r\n" + (body or b""))
        block = await self.reader.readuntil(b"\r\n\r\n")
        lines = block.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            payload = b"".join(p[:-2] for p in parts)
        else:
            payload = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.reader = self.writer = None


async def _client(
    k: int,
    url: str,
    api_headers: bytes,
    page_headers: bytes,
    mix: str,
    pairs: list[tuple[int, int, int]],
    schedule: list[float] | None,
    until: float,
    out: Result,
) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = _Connection(host, int(port))
    rng = random.Random(k)
    lat = out.latencies
    i = 0
    try:
        while True:
            if schedule is None:
                now = time.perf_counter()
                if now >= until:
                    break
                start = now
            else:
                if i >= len(schedule):
                    break
                start = schedule[i]
                i += 1
                delay = start - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.001:
                    out.late_sends += 1
            req = pick(rng, mix, pairs)
            body = None if req.body is None else json.dumps(req.body).encode()
            headers = page_headers if req.kind == "page" else api_headers
            try:
                status, payload = await conn.request(req.method, req.path, headers, body)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                await conn.close()
                out.errors.append(f"{req.path}: {exc!r}")
                continue
            lat[req.kind].append((time.perf_counter() - start) * 1000.0)
            if status != req.expect:
                out.errors.append(f"{status} {payload[:100]!r}")
            elif req.kind == "write":
                out.writes_acknowledged += 1
    finally:
        await conn.close()


def run_clients(
    url: str,
    api_headers: dict[str, str],
    cookies: list[str],
    mix: str,
    pairs: list[tuple[int, int, int]],
    n_clients: int,
    seconds: float,
    rate: float | None,
    on_start: Callable[[], None] | None = None,
) -> Result:
    """Run ``n_clients`` for ``seconds`` (closed loop, or at ``rate`` requests/s in all) and
    return what they measured. ``cookies[k]``: client ``k``'s login cookie for the pages.
    ``on_start``: called (no arguments) just before the timed window opens."""

    def raw(h: dict[str, str]) -> bytes:
        return b"".join(f"{k}: {v}\r\n".encode() for k, v in h.items())

    async def main() -> Result:
        out = Result()
        if on_start is not None:
            on_start()
        t0 = time.perf_counter() + 0.01
        until = t0 + seconds
        tasks = [
            _client(
                k,
                url,
                raw(api_headers),
                raw({"Cookie": cookies[k]}) if cookies else b"",
                mix,
                pairs,
                None if rate is None else intended_times(k, n_clients, rate, t0, until),
                until,
                out,
            )
            for k in range(n_clients)
        ]
        await asyncio.gather(*tasks)
        return out

    try:
        import uvloop

        return uvloop.run(main())
    except ImportError:
        return asyncio.run(main())
