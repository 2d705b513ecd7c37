"""Figures people would rather look at than read (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

from mrml.atomic import atomic_path


def deer_figure(result, *, title: str | None = None):
    """Two panels as DEER users know them: trace with fit and background; P(r) with its 95 % band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_r) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax_t.plot(result.t_us, result.v, ".", ms=2.5, color="0.45", label="data")
    ax_t.plot(result.t_us, result.v_fit, "-", lw=1.6, color="tab:red", label="fit")
    ax_t.plot(result.t_us, result.background, "--", lw=1.2, color="tab:blue",
              label=f"background (λ = {result.mod_depth:.3f})")
    ax_t.set_xlabel("t (µs)")
    ax_t.set_ylabel("V(t) / V(0)")
    ax_t.legend(frameon=False, fontsize=8)
    ax_r.fill_between(result.r_nm, result.p_lower, result.p_upper, color="tab:red", alpha=0.25, lw=0,
                      label="95 % band (calibrated)")
    ax_r.plot(result.r_nm, result.p, color="tab:red", lw=1.6, label=f"P(r), <r> = {result.r_mean_nm:.2f} nm")
    ax_r.set_xlabel("r (nm)")
    ax_r.set_ylabel("P(r) (nm⁻¹)")
    ax_r.set_xlim(result.r_nm[0], result.r_nm[-1])
    ax_r.set_ylim(bottom=0)
    ax_r.legend(frameon=False, fontsize=8)
    if title or result.source:
        fig.suptitle(title or str(result.source), fontsize=10)
    if result.warnings:
        ax_r.text(0.98, 0.02, "\n".join("⚠ " + w[:70] for w in result.warnings), transform=ax_r.transAxes,
                  ha="right", va="bottom", fontsize=6.5, color="tab:orange")
    return fig


def save_figure(fig, path, *, dpi: int = 130, overwrite: bool = True) -> None:
    """Write a figure atomically (format from the suffix) and close it."""
    import matplotlib.pyplot as plt

    suffix = str(path).rsplit(".", 1)[-1] if "." in str(path) else "png"
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=dpi, format=suffix)
    plt.close(fig)
