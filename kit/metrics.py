"""A small Prometheus metrics registry owned by the application (no process globals)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence

from aiohttp import web

DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_esc(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_: str, labels: Iterable[str]) -> None:
        self.name, self.help, self.label_names = name, help_, tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name}: labels {sorted(labels)} != {sorted(self.label_names)}")
        return tuple(str(labels[n]) for n in self.label_names)

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    """Monotonic counter."""

    kind = "counter"

    def __init__(self, name: str, help_: str, labels: Iterable[str]) -> None:
        super().__init__(name, help_, labels)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to the series named by ``labels``."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """Current value of one series."""
        return self._values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        lines = super().render()
        for key, v in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, key)} {v:g}")
        return lines


class Gauge(Counter):
    """A value that goes up and down."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        """Set the series to ``value``."""
        key = self._key(labels)
        with self._lock:
            self._values[key] = value


class Histogram(_Metric):
    """Cumulative histogram with fixed buckets."""

    kind = "histogram"

    def __init__(
        self, name: str, help_: str, labels: Iterable[str], buckets: Sequence[float]
    ) -> None:
        super().__init__(name, help_, labels)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, value: float, **labels: str) -> None:
        """Record one observation."""
        key = self._key(labels)
        with self._lock:
            s = self._series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            s[bisect.bisect_left(self.buckets, value)] += 1
            s[-1] += value

    def render(self) -> list[str]:
        lines = super().render()
        for key, s in sorted(self._series.items()):
            acc = 0.0
            for i, b in enumerate(self.buckets):
                acc += s[i]
                le = f'le="{b:g}"'
                lines.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {acc:g}")
            acc += s[len(self.buckets)]
            inf = 'le="+Inf"'
            lines.append(f"{self.name}_bucket{_labels(self.label_names, key, inf)} {acc:g}")
            lines.append(f"{self.name}_count{_labels(self.label_names, key)} {acc:g}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {s[-1]:g}")
        return lines


class Metrics:
    """The application's metrics; asking twice for a name returns the same metric."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _get(self, cls: type, name: str, *args: object) -> _Metric:
        m = self._metrics.get(name)
        if m is None:
            m = self._metrics[name] = cls(name, *args)
        elif not isinstance(m, cls):
            raise ValueError(f"metric {name} already registered as {m.kind}")
        return m

    def counter(self, name: str, help_: str, labels: Iterable[str] = ()) -> Counter:
        """A counter (created on first use)."""
        return self._get(Counter, name, help_, tuple(labels))  # type: ignore[return-value]

    def gauge(self, name: str, help_: str, labels: Iterable[str] = ()) -> Gauge:
        """A gauge (created on first use)."""
        return self._get(Gauge, name, help_, tuple(labels))  # type: ignore[return-value]

    def histogram(
        self,
        name: str,
        help_: str,
        labels: Iterable[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> Histogram:
        """A histogram (created on first use)."""
        return self._get(Histogram, name, help_, tuple(labels), buckets)  # type: ignore[return-value]

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines: list[str] = []
        for name in sorted(self._metrics):
            lines.extend(self._metrics[name].render())
        return "\n".join(lines) + "\n"


METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
