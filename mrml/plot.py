"""Figures people would rather look at than read (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

from mrml.atomic import atomic_path


def deer_figure(result, *, title: str | None = None):
    """Two panels as DEER users know them: trace with fit and background; P(r) with its calibrated band."""
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
                      label=f"{result.band_level:.0%} band (calibrated)")
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


def nus3d_figure(sampled, result, info, *, title: str | None = None):
    """3D NUS before and after: the schedule and the indirect-plane projections (maximum over the direct
    dimension) of the zero-filled input and of the reconstruction, processed with a cosine bell, no phase."""
    import matplotlib
    import numpy as np

    from mrml.stages.nus3d import process_indirect

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n1, n2 = info.shape
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 4.2), constrained_layout=True)
    sched = np.asarray(info.schedule)
    axes[0].scatter(sched[:, 1], sched[:, 0], s=4, color="k")
    axes[0].set_xlim(-0.5, n2 - 0.5)
    axes[0].set_ylim(-0.5, n1 - 0.5)
    axes[0].set_title(f"sampled pairs ({info.n_sampled} of {n1 * n2})", fontsize=9)
    axes[0].set_xlabel(f"inner indirect ({result.axes[1].label}) point")
    axes[0].set_ylabel(f"outer indirect ({result.axes[0].label}) point")
    projections = [process_indirect(np.asarray(s.data).real, window=True).max(axis=2) for s in (sampled, result)]
    top = projections[1].max()
    levels = top * 0.06 * 1.4 ** np.arange(9)
    for ax, proj, label in zip(axes[1:], projections, ("zero-filled (sampled pairs only)", "reconstructed")):
        ax.contour(proj, levels=levels[levels < proj.max()] if proj.max() > levels[0] else levels[:1],
                   colors="tab:blue", linewidths=0.5)
        ax.set_title(f"{label}: max over {result.axes[2].label}", fontsize=9)
        ax.set_xlabel(f"{result.axes[1].label} (point of {2 * n2})")
        ax.set_ylabel(f"{result.axes[0].label} (point of {2 * n1})")
    fig.suptitle(title or "3D NUS reconstruction", fontsize=10)
    return fig


def nus_figure(sampled_td, schedule, full_td, *, phase_deg: float = 0.0, band=None, title: str | None = None):
    """NUS before and after: zero-filled and reconstructed indirect spectra as contour maps (points).

    ``sampled_td`` (n_sampled, cols) and ``full_td`` (n_full, cols) complex. With the
    network's ``band`` (2 n_full, cols; the calibrated half-width of the unwindowed spectrum,
    :func:`mrml.stages.nus_net.band_halfwidth`), a third panel shows
    |spectrum| / band half-width: where it is below 1 a peak is not significant.
    """
    import matplotlib
    import numpy as np

    from mrml.stages.nus import indirect_spectrum

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = full_td.shape[0]
    zf = np.zeros_like(full_td)
    zf[np.asarray(schedule)] = sampled_td
    spectra = [("zero-filled (sampled points only)", indirect_spectrum(zf, phase_deg=phase_deg)),
               ("reconstructed", indirect_spectrum(full_td, phase_deg=phase_deg))]
    ref = spectra[1][1]
    noise = 1.4826 * np.median(np.abs(ref - np.median(ref)))
    levels = noise * 6 * 1.5 ** np.arange(12)
    panels = len(spectra) + (band is not None)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4.2), constrained_layout=True, sharey=True)
    for ax, (label, spec) in zip(axes, spectra):
        ax.contour(spec, levels=levels, colors="tab:blue", linewidths=0.5)
        ax.contour(spec, levels=-levels[::-1], colors="tab:red", linewidths=0.5)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("direct (point)")
    axes[0].set_ylabel(f"indirect (point of {2 * n}, zero-filled)")
    if band is not None:
        ax = axes[-1]
        plain = indirect_spectrum(full_td, phase_deg=phase_deg, window=False)  # as the band
        ratio = np.abs(plain) / np.maximum(band, 1e-12 * np.abs(plain).max())
        ratio[np.abs(ref) < 6 * noise] = np.nan  # only where the contours are drawn
        im = ax.imshow(ratio, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=5,
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label="|spectrum| / band half-width")
        ax.set_title("significance (network band)", fontsize=9)
        ax.set_xlabel("direct (point)")
    fig.suptitle(title or f"NUS reconstruction: {len(schedule)} of {n} points ({len(schedule) / n:.1%})", fontsize=10)
    return fig
