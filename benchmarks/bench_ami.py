"""AMI throughput on one core: our parser + call tracker vs. bare panoramisk parsing.

    python benchmarks/bench_ami.py [--repeat 40] [--chunk 65536]

The stream is every captured trace in ../shared/asterisk-traces (server→client bytes),
repeated with the Uniqueid/Linkedid prefix rewritten per copy so that every copy is a new set
of calls (the tracker does real work instead of ignoring duplicates). Both sides get the same
bytes in the same chunks, as a socket would deliver them. Prints messages per second.
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
from pathlib import Path

from panoramisk.ami_protocol import AMIProtocol

from pbx.ami.message import AmiParser
from pbx.calls.tracker import CallTracker

TRACES = Path(__file__).resolve().parents[1] / "tests" / "traces"


def build_stream(repeat: int) -> bytes:
    bodies = []
    for p in sorted(TRACES.glob("*.ami.wire.txt")):
        data = p.read_bytes()
        if data.startswith(b"Asterisk Call Manager/"):
            data = data.split(b"\r\n", 1)[1]
        bodies.append(data)
    one = b"".join(bodies)
    return b"Asterisk Call Manager/11.0.0\r\n" + b"".join(
        one.replace(b"pbx1-17958", f"p{i:04d}-17958".encode()) for i in range(repeat)
    )


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def ours(parts: list[bytes]) -> tuple[int, float, CallTracker]:
    parser, tracker = AmiParser(), CallTracker()
    n = 0
    t0 = time.perf_counter()
    for part in parts:
        for msg in parser.feed(part):
            msg.server = "pbx1"
            tracker.handle(msg)
            n += 1
    return n, time.perf_counter() - t0, tracker


def parse_only(parts: list[bytes]) -> tuple[int, float]:
    parser = AmiParser()
    n = 0
    t0 = time.perf_counter()
    for part in parts:
        n += len(parser.feed(part))
    return n, time.perf_counter() - t0


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _Factory:
    save_stream = None
    forgetable_actions = ("ping", "login")

    def __init__(self) -> None:
        self.count = 0
        self.awaiting_actions: list[object] = []

    def dispatch(self, message: object) -> None:
        self.count += 1


def bare_panoramisk(parts: list[bytes]) -> tuple[int, float]:
    proto = AMIProtocol()
    proto.connection_made(_Transport())
    factory = _Factory()
    proto.factory = factory
    proto.encoding = "utf8"
    t0 = time.perf_counter()
    for part in parts:
        proto.data_received(part)
    return factory.count, time.perf_counter() - t0


def best(fn, parts, rounds):  # type: ignore[no-untyped-def]
    results = []
    for _ in range(rounds):
        gc.collect()
        results.append(fn(parts))
    return min(results, key=lambda r: r[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--chunk", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from machine import describe  # benchmarks/machine.py, beside this script

    print(describe())
    logging.disable(logging.WARNING)
    data = build_stream(args.repeat)
    parts = chunks(data, args.chunk)
    print(f"stream: {len(data) / 1e6:.1f} MB in {len(parts)} chunks of {args.chunk} bytes")

    n_ours, t_ours, tracker = best(ours, parts, args.rounds)
    n_parse, t_parse = best(parse_only, parts, args.rounds)
    n_pan, t_pan = best(bare_panoramisk, parts, args.rounds)
    calls = tracker.stats["messages"]
    rate_ours, rate_parse, rate_pan = n_ours / t_ours, n_parse / t_parse, n_pan / t_pan
    print(f"{'pbx parse + tracker':<28}{n_ours:>9} msgs {t_ours:8.3f} s {rate_ours:>12,.0f} msg/s")
    print(f"{'pbx parse only':<28}{n_parse:>9} msgs {t_parse:8.3f} s {rate_parse:>12,.0f} msg/s")
    print(f"{'panoramisk bare parse':<28}{n_pan:>9} evts {t_pan:8.3f} s {rate_pan:>12,.0f} msg/s")
    print(
        f"tracker handled {calls} call-relevant events; open calls left: "
        f"{len(tracker.open_calls())}"
    )
    print(
        f"ratio (parse + tracker) / bare panoramisk = {rate_ours / rate_pan:.2f} "
        f"(target >= 0.5); target >= 20,000 msg/s: "
        f"{'met' if rate_ours >= 20000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
