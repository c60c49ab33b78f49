"""PNG of a routing report: quality vs strong-call share, with the random and oracle references.

matplotlib comes with the ``[train]`` extra and is imported only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

from triage.train.routing_metrics import RoutingReport


def plot_routing(rep: RoutingReport, path: Path, title: str = "") -> None:
    """Write the plot to ``path`` (PNG). Shares on the x axis in percent."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [100 * p.strong_share for p in rep.curve]
    ax.plot(xs, [p.quality for p in rep.curve], marker="o", label=f"router (APGR {rep.apgr:.3f})")
    ax.plot([0, 100], [rep.weak_quality, rep.strong_quality], linestyle="--", color="grey", label="random (0.500)")
    ax.plot(
        [100 * s for s, _ in rep.oracle_curve],
        [q for _, q in rep.oracle_curve],
        linestyle=":",
        color="green",
        label=f"oracle ({rep.oracle_apgr:.3f})",
    )
    ax.axhline(rep.strong_quality, color="red", linewidth=0.8, label="strong model")
    ax.axhline(rep.weak_quality, color="black", linewidth=0.8, label="weak model")
    ax.set_xlabel("strong-model calls (%)")
    ax.set_ylabel("quality")
    ax.set_title(title[:90], fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
