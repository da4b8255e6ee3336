"""Probes a server's /healthz on a new connection every 100 ms for a stated
time, as a load balancer would during a rush, and prints one JSON line: the
probes sent, those not answered 200 in time, and the latency of the answers
(connect, request and whole response).

    python3 bench/healthz_probe.py http://127.0.0.1:PORT SECONDS
"""

import json
import socket
import sys
import time
from urllib.parse import urlsplit

INTERVAL = 0.1
# A load balancer gives up well before this; a probe past it counts as failed.
TIMEOUT = 5.0


def probe(host: str, port: int) -> float | None:
    """Seconds to a complete 200 answer, or None."""
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as s:
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
    except OSError:
        return None
    took = time.perf_counter() - started
    return took if answer.startswith(b"HTTP/1.1 200 ") else None


def main(url: str, seconds: float) -> None:
    address = urlsplit(url)
    latencies, failed = [], 0
    deadline = time.monotonic() + seconds
    next_probe = time.monotonic()
    while next_probe < deadline:
        took = probe(address.hostname, address.port)
        if took is None:
            failed += 1
        else:
            latencies.append(took * 1000)
        next_probe += INTERVAL
        time.sleep(max(0.0, next_probe - time.monotonic()))
    print(json.dumps({"probes": len(latencies) + failed, "failed": failed, "p50_ms": percentile(latencies, 0.5),
                      "p99_ms": percentile(latencies, 0.99), "max_ms": percentile(latencies, 1.0)}))


def percentile(values: list[float], share: float) -> float:
    """The value below which SHARE of VALUES lie (nearest rank); 0 if none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
