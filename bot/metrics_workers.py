"""/metrics for a server of several Sanic workers: every worker's counts, summed, in one scrape.

Each worker is its own process with its own prometheus-client registry, and a scrape reaches one
of them: alone, it would report that worker's share. With PROMETHEUS_MULTIPROC_DIR set
(tools/serve.py sets it when SANIC_WORKERS is above one), prometheus-client keeps each process's
values in a file of that directory, and `MultiProcessCollector` sums them at scrape time:
counters and histograms add up over the workers, including any that has stopped.

The library's process metrics describe only the process they run in, so they are not available
in that mode. `WorkerProcesses` puts them back for the whole server: CPU seconds, resident and
virtual memory and open files summed over the live workers, the start time of the oldest.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bot.workers import worker_pids

# How each process metric of the workers becomes the server's: added up, or the earliest / least.
_COMBINE = {"process_start_time_seconds": min, "process_max_fds": min}


def summed_registry(directory: str) -> CollectorRegistry:
    """A registry whose scrape is every worker's metrics together."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    WorkerProcesses(registry)
    PlatformCollector(registry=registry)  # python_info: the same in every worker
    return registry


class WorkerProcesses(Collector):
    """The `process_*` metrics of the whole server: each worker's, combined."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterable[Metric]:
        combined: dict[str, Metric] = {}
        for pid in worker_pids():
            for metric in ProcessCollector(pid=functools.partial(int, pid), registry=None).collect():
                if metric.name not in combined:
                    combined[metric.name] = metric
                    continue
                total = combined[metric.name].samples[0]
                sample = metric.samples[0]
                combine = _COMBINE.get(total.name, sum)
                combined[metric.name].samples[0] = total._replace(value=combine([total.value, sample.value]))
        return list(combined.values())
