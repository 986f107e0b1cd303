"""What a benchmark run found, ratios first: results/bench.md (the tables the README and
docs/performance.md quote) and results/bench.png (throughput, p95 and the per-turn curve)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SHOWN_TURNS = (1, 2, 3, 4, 5, 10, 15, 18, 20, 22, 25, 30)
NAMES = {"ours": "ours", "stock": "stock Rasa"}


def _by_concurrency(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {level["concurrency"]: level for level in report["load"]}


def _x(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 2) if numerator and denominator else None


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Every ratio of the run: each assistant's per-turn and many-cores ratios, then ours over
    stock Rasa (throughput per level; stock's p95, training, start-up and memory over ours)."""
    out: dict[str, Any] = {}
    for name, report in results["assistants"].items():
        levels = _by_concurrency(report)
        low, high = min(levels), max(levels)
        out[name] = {
            "late_over_early": report["turn_curve"]["late_over_early"],
            f"c{high}_over_c{low}": _x(levels[high]["throughput"], levels[low]["throughput"]),
        }
    if "stock" in results["assistants"]:
        ours, stock = results["assistants"]["ours"], results["assistants"]["stock"]
        mine, theirs = _by_concurrency(ours), _by_concurrency(stock)
        out["ours_over_stock"] = {
            "throughput": {str(c): _x(mine[c]["throughput"], theirs[c]["throughput"]) for c in mine},
            "p95_stock_over_ours": {str(c): _x(theirs[c]["p95_ms"], mine[c]["p95_ms"]) for c in mine},
            "training_stock_over_ours": _x(stock["training_s"], ours["training_s"]),
            "startup_stock_over_ours": _x(stock["startup_s"], ours["startup_s"]),
            "peak_memory_stock_over_ours": _x(stock["memory_mb"]["peak"], ours["memory_mb"]["peak"]),
        }
    return out


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"×{x:.2f}"


def markdown(results: dict[str, Any]) -> str:
    assistants = results["assistants"]
    names = list(assistants)
    machine = results["machine"]
    r = results["ratios"]
    levels = sorted(_by_concurrency(assistants["ours"]))
    low, high = levels[0], levels[-1]
    head = "| | " + " | ".join(NAMES[n] for n in names) + " |\n|---|" + "---|" * len(names) + "\n"
    lines = [
        f"### `make bench`, {results['date']}",
        "",
        f"{machine['cores']} cores; CPU calibration {machine['calibration_ms_at_start']} ms at the start and "
        f"{machine.get('calibration_ms_at_end', 'n/a')} ms at the end (lower is faster). Absolute figures on "
        "these machines vary up to 2× from day to day: compare the ratios, measured in this one run.",
        "",
        "**Ratios**",
        "",
        head.rstrip("\n"),
        "| per-turn cost: median reply at turns 18–22 over turns 2–4 | "
        + " | ".join(_fmt(r[n]["late_over_early"]) for n in names)
        + " |",
        f"| cores: throughput at concurrency {high} over {low} | "
        + " | ".join(_fmt(r[n][f"c{high}_over_c{low}"]) for n in names)
        + " |",
    ]
    if "ours_over_stock" in r:
        versus = r["ours_over_stock"]
        lines += [
            "",
            "| ours against stock Rasa | |",
            "|---|---|",
            *(
                f"| throughput at concurrency {c}, ours over stock | {_fmt(versus['throughput'][str(c)])} |"
                for c in levels
            ),
            *(
                f"| p95 at concurrency {c}, stock over ours | {_fmt(versus['p95_stock_over_ours'][str(c)])} |"
                for c in levels
            ),
            f"| training time, stock over ours | {_fmt(versus['training_stock_over_ours'])} |",
            f"| start-up, stock over ours | {_fmt(versus['startup_stock_over_ours'])} |",
            f"| peak memory, stock over ours | {_fmt(versus['peak_memory_stock_over_ours'])} |",
        ]
    lines += [
        "",
        f"**Absolute figures** ({results['seconds_per_level']:.0f} s of the mix per level)",
        "",
        head.rstrip("\n"),
    ]

    def row(label: str, value: Any) -> str:
        return f"| {label} | " + " | ".join(str(value(assistants[n])) for n in names) + " |"

    lines += [
        row("training", lambda a: f"{a['training_s']} s" + (" (an earlier run's)" if a.get("training_reused") else "")),
        row("start-up to first answer", lambda a: f"{a['startup_s']} s"),
        *(
            row(
                f"concurrency {c}: msg/s, p50 / p95 / p99",
                lambda a, c=c: "{throughput}, {p50_ms} / {p95_ms} / {p99_ms} ms".format(**_by_concurrency(a)[c]),
            )
            for c in levels
        ),
        *(
            row(
                f"concurrency {c}: cores used by the assistant / the load generator",
                lambda a, c=c: "{assistant} / {load_generator}".format(**_by_concurrency(a)[c]["cores_used"]),
            )
            for c in levels
        ),
        row(
            "conversations / errors",
            lambda a: (
                " + ".join(str(lv["conversations"]) for lv in a["load"])
                + f" / {sum(lv['errors'] for lv in a['load']) + a['turn_curve']['errors']}"
            ),
        ),
        row(
            "memory, Rasa + action server (steady / peak)",
            lambda a: f"{a['memory_mb']['steady']} / {a['memory_mb']['peak']} MB",
        ),
        row("held-out intent accuracy", lambda a: f"{a['heldout_accuracy'] * 100:.1f}%"),
        row("NLU parse in process", lambda a: f"{a['nlu_parse_ms']} ms"),
        "",
        f"**Per-turn curve**: median reply (ms) by turn, {assistants['ours']['turn_curve']['conversations']} "
        "fresh 30-turn conversations, one at a time, each turn seeing the same 7 messages (tools/benchmark/load.py)",
        "",
        "| turn | " + " | ".join(str(t) for t in SHOWN_TURNS) + " |",
        "|---|" + "---|" * len(SHOWN_TURNS),
        *(
            f"| {NAMES[n]} | "
            + " | ".join(str(assistants[n]["turn_curve"]["median_ms_by_turn"].get(t, "")) for t in SHOWN_TURNS)
            + " |"
            for n in names
        ),
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4))
    for name, report in results["assistants"].items():
        levels = [r["concurrency"] for r in report["load"]]
        left.plot(levels, [r["throughput"] for r in report["load"]], marker="o", label=NAMES[name])
        middle.plot(levels, [r["p95_ms"] for r in report["load"]], marker="o", label=NAMES[name])
        curve = {int(t): ms for t, ms in report["turn_curve"]["median_ms_by_turn"].items()}
        right.plot(list(curve), list(curve.values()), marker=".", label=NAMES[name])
    left.set(title="Throughput", xlabel="concurrent conversations", ylabel="messages / s", xscale="log", ylim=(0, None))
    middle.set(title="p95 latency", xlabel="concurrent conversations", ylabel="ms", xscale="log", ylim=(0, None))
    right.set(title="Median reply by turn", xlabel="turn of the conversation", ylabel="ms", ylim=(0, None))
    for axis in (left, middle, right):
        axis.legend()
        axis.grid(alpha=0.3)
    fig.suptitle(f"make bench, {results['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
