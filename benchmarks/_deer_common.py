"""Helpers shared by the DEER benchmarks: the DeerLab baseline, timing and tables.

Not a benchmark itself; imported by ``bench_deer_accuracy.py`` and
``bench_deer_real.py`` (which run as scripts, so this folder is on ``sys.path``).
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings

import numpy as np


def import_deerlab():
    """Return the ``deerlab`` module, or None (with a note on stdout) when it is not installed."""
    try:
        import deerlab
    except Exception as exc:  # ImportError, or a broken install of one of its dependencies
        print(f"note: DeerLab not available ({type(exc).__name__}: {exc}); skipping the DeerLab baseline")
        return None
    return deerlab


def deerlab_r_grid(window_us: float) -> np.ndarray:
    """Distance grid of a DeerLab fit for a dipolar window of ``window_us`` (0.05 nm steps).

    1.5 nm up to ``5 (T / 2 us)^(1/3)`` nm, the usual limit up to which a window
    of length T determines the shape of P(r) (Jeschke, Annu. Rev. Phys. Chem. 2012);
    DeerLab's own examples choose ranges of this size by hand (e.g. 1.5-7 or 2-6 nm
    for example_4pdeer_1). On simulated traces this is DeerLab's best setting by far:
    with the wider 1.5-8.5 x (T / 4 us)^(1/3) nm grid that mrml's network covers,
    Tikhonov regularisation lets background and long distances trade off and
    the mean-distance error grows from 0.04 to about 1 nm (40 traces, measured).
    """
    return np.arange(1.5, 5.0 * (window_us / 2.0) ** (1 / 3) + 1e-9, 0.05)


def deerlab_version(dl) -> str:
    """DeerLab's version string (1.x spells the attribute ``__VERSION__``)."""
    return str(getattr(dl, "__VERSION__", getattr(dl, "__version__", "?")))


@dataclasses.dataclass
class DeerLabFit:
    """One DeerLab fit: P(r) with its 95 % interval on ``r_nm``, modulation depth and refocusing time."""

    r_nm: np.ndarray
    p: np.ndarray
    p_lower: np.ndarray
    p_upper: np.ndarray
    mod_depth: float
    reftime_us: float
    seconds: float

    @property
    def r_mean_nm(self) -> float:
        """Mean distance of the fitted P(r)."""
        dr = np.gradient(self.r_nm)
        return float(np.sum(self.r_nm * self.p * dr) / np.sum(self.p * dr))


def deerlab_fit(dl, t_us, v, r_nm, *, experiment=None, reftime_us: float | None = None) -> DeerLabFit:
    """Fit one trace the way DeerLab's examples do, timing everything after loading.

    Parameters
    ----------
    dl : module
        The ``deerlab`` module.
    t_us : ndarray (m,)
        Time axis already shifted by the caller (zero time at 0, or the example's ``tmin`` convention).
    v : ndarray (m,), complex or real
        Raw trace; phase-corrected with ``dl.correctphase`` and scaled to a maximum of 1 here.
    r_nm : ndarray
        Distance grid of the non-parametric P(r) (Tikhonov regularised, DeerLab's default).
    experiment : deerlab ExperimentInfo, optional
        E.g. ``dl.ex_4pdeer(tau1, tau2, pathways=[1])``; without it the plain single-pathway model.
    reftime_us : float, optional
        Freeze the refocusing time (zero time known). Otherwise it is fitted: within
        +-48 ns of tau1 with ``experiment``, within +-20 us for the plain model.

    Returns
    -------
    DeerLabFit
    """
    start = time.perf_counter()
    v = np.asarray(v)
    # float64 throughout: float32 input (as simulated) makes the fit slower and less accurate
    v = dl.correctphase(v.astype(complex)) if np.iscomplexobj(v) else v.astype(float)
    v = v / np.max(v)
    model = dl.dipolarmodel(np.asarray(t_us, float), r_nm, Bmodel=dl.bg_hom3d, experiment=experiment)
    if reftime_us is not None:
        model.reftime.freeze(reftime_us)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = dl.fit(model, v)
    ci = np.asarray(res.PUncert.ci(95))
    seconds = time.perf_counter() - start
    reftime = getattr(res, "reftime", reftime_us if reftime_us is not None else np.nan)
    return DeerLabFit(
        r_nm=np.asarray(r_nm, float), p=np.asarray(res.P, float), p_lower=ci[:, 0], p_upper=ci[:, 1],
        mod_depth=deerlab_mod_depth(res), reftime_us=float(reftime), seconds=seconds,
    )


def deerlab_mod_depth(res) -> float:
    """Modulation depth of a DeerLab fit result (``mod`` for one pathway, else the sum of ``lam<k>``)."""
    if hasattr(res, "mod"):
        return float(res.mod)
    lams = [float(getattr(res, name)) for name in dir(res) if name.startswith("lam") and name[3:].isdigit()]
    return float(sum(lams)) if lams else float("nan")


def progress(text: str) -> None:
    """One progress line on stderr (tables go to stdout)."""
    print(text, file=sys.stderr, flush=True)


def fmt(value, digits: int = 3) -> str:
    """Format a table cell: numbers to ``digits`` significant figures, NaN/None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, float) and not np.isfinite(value):
        return "-"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    return str(value)


def text_table(header, rows) -> str:
    """Fixed-width plain-text table (first column left-aligned, others right-aligned)."""
    cells = [list(header)] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for k, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(header, rows) -> str:
    """GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(fmt(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    """Collects output once, printed as plain text and optionally written as markdown."""

    def __init__(self):
        self.md: list[str] = []

    def heading(self, text: str, level: int = 3) -> None:
        print(f"\n{text}\n{'=' * len(text) if level <= 2 else '-' * len(text)}")
        self.md += ["#" * level + " " + text, ""]

    def line(self, text: str = "") -> None:
        print(text)
        self.md += [text, ""] if text else [""]

    def table(self, header, rows) -> None:
        print(text_table(header, rows))
        self.md += [markdown_table(header, rows), ""]

    def write(self, path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(self.md).rstrip() + "\n")
        print(f"\nwrote {path}")
