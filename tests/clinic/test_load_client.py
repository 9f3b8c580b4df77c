"""Issue 12 (speed): the constant-rate load client of ``benchmarks/bench_clinic_load.py``
measures latency from each request's intended send time (no coordinated omission, as wrk2),
against a stub HTTP server on loopback that stalls once for a known time."""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest

STALL_S = 0.3


def _client_module() -> ModuleType:
    if "clinic_load_client" in sys.modules:
        return sys.modules["clinic_load_client"]
    path = Path(__file__).parents[2] / "benchmarks" / "clinic_load_client.py"
    spec = importlib.util.spec_from_file_location("clinic_load_client", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["clinic_load_client"] = module
    spec.loader.exec_module(module)
    return module


def test_intended_times_interleave_the_clients_evenly() -> None:
    lc = _client_module()
    times = sorted(t for k in range(4) for t in lc.intended_times(k, 4, 100.0, 10.0, 11.0))
    assert len(times) == 100
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) == pytest.approx(0.01) and max(gaps) == pytest.approx(0.01)
    assert times[0] == 10.0 and times[-1] < 11.0


class _StallingServer:
    """Keep-alive HTTP/1.1 on loopback: answers at once (201 to a POST, 200 otherwise), except
    the 5th request, answered after ``STALL_S``."""

    def __init__(self) -> None:
        self.port = 0
        self.count = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                self.count += 1
                if self.count == 5:
                    await asyncio.sleep(STALL_S)
                status = b"201 Created" if head.startswith(b"POST") else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0.01))
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def __enter__(self) -> _StallingServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def _run(rate: float | None) -> list[float]:
    lc = _client_module()
    with _StallingServer() as server:
        res = lc.run_clients(
            f"http://127.0.0.1:{server.port}",
            {},
            [],
            "api",
            [(1, 2, 3)],
            1,
            1.0,
            rate,
        )
    assert not res.errors
    lat: list[float] = res.latencies["read"] + res.latencies["write"]
    return lat


def test_a_stall_delays_every_request_scheduled_during_it() -> None:
    # 50 requests/s from one connection: a 300 ms stall holds back the ~15 requests whose
    # intended send times fall inside it; each is counted from its intended time
    lat = _run(50.0)
    assert 45 <= len(lat) <= 50
    slow = sorted((x for x in lat if x > 100.0), reverse=True)
    assert len(slow) >= 9  # 300, 280, ... 100 ms
    assert slow[0] >= 0.9 * STALL_S * 1000
    # closed loop hides it: only the stalled request itself is slow
    closed = _run(None)
    assert sum(x > 100.0 for x in closed) == 1
