"""Regenerate the shipped example inputs in data/ from the project's own simulator.

Run: python data/make_examples.py   (deterministic: fixed seeds)
"""

from pathlib import Path

import numpy as np

from mrml.io import write
from mrml.spectrum import Axis, Spectrum
from simulators.deer import DeerSimulator, reported_time_axis

HERE = Path(__file__).resolve().parent

#: A two-component protein-like trace: 3.6 and 4.6 nm, Q-band-like modulation depth, 3D background.
DEER_EXAMPLE = {
    "n_points": 300, "t_max_us": 3.2, "t_pre_us": 0.2, "zero_time_us": 0.0, "n_components": 2,
    "mean_nm": [3.4, 4.8], "rel_width": [0.05, 0.09], "mod_depth": 0.35, "bg_decay": 0.5,
    "bg_stretched_frac": 0.0, "noise_frac": 0.03, "exchange_frac": 0.0, "scale": 1000.0,
    "phase_rad": 0.6, "shapes": ["gauss"],
}


def deer_example(seed: int = 20261122):
    """Simulated trace as a Spectrum, and its ground truth arrays."""
    sim = DeerSimulator.from_overrides(DEER_EXAMPLE)
    out = sim.simulate(1, np.random.default_rng(seed))
    t_us = reported_time_axis(out["params/t_start_us"], out["params/dt_us"], sim.n_points)[0]
    t_us = t_us - t_us[0]  # spectrometer axes start at 0; zero time lies ~0.2 us in
    axis = Axis(label="t", size=t_us.size, domain="time", unit="us", values=t_us)
    spec = Spectrum(out["x"][0], (axis,), format="bes3t", source="mrml simulator (deer)",
                    provenance=(f"simulators.deer seed {seed}",))
    return spec, sim, out


#: A 120-residue protein's 1H-15N HSQC, 128 complex 15N x 512 complex 1H points, 25 % of the 15N points kept.
NUS_EXAMPLE = {"sizes": [128, 512], "n_residues": 120, "noise_frac": 0.05, "solvent_frac": 0.0, "offset_frac": 0.0}


def nus_example(seed: int = 20261122, fraction: float = 0.25):
    """(sampled plane, full plane, schedule): direct 1H transformed and cut to 5.5-11 ppm, 15N in time."""
    from simulators import get_simulator
    from simulators.nmr.schedules import poisson_gap

    sim = get_simulator("hsqc", overrides=NUS_EXAMPLE)
    fid = sim.simulate(1, np.random.default_rng(seed))["fid"][0].astype(np.complex128)
    n15, h1 = sim.dims
    fid[:, 0] *= 0.5
    spec = np.fft.fftshift(np.fft.fft(fid, n=2 * h1.n_complex, axis=1), axes=1).real  # (2 n1, 2 n2)
    ppm = h1.car_ppm + (np.arange(2 * h1.n_complex) - h1.n_complex) / (2 * h1.n_complex) * h1.sw_hz / h1.obs_mhz
    keep = np.flatnonzero((ppm >= 5.5) & (ppm <= 11.0))[::-1]  # NMRPipe order: high ppm first
    plane = spec[:, keep].astype(np.float32)
    sw_cut = keep.size / (2 * h1.n_complex) * h1.sw_hz
    car_cut = 0.5 * (ppm[keep[0]] + ppm[keep[-1]]) * h1.obs_mhz

    def as_spectrum(data, n_rows):
        steps = np.arange(n_rows) // 2
        axes = (Axis("15N", n_rows, "time", "us", values=steps / n15.sw_hz * 1e6, sw_hz=n15.sw_hz,
                     obs_mhz=n15.obs_mhz, car_hz=n15.car_ppm * n15.obs_mhz),
                Axis("1H", keep.size, "frequency", "ppm", values=ppm[keep], sw_hz=sw_cut, obs_mhz=h1.obs_mhz,
                     car_hz=car_cut))
        return Spectrum(data, axes, source="mrml simulator (hsqc)", provenance=(f"simulators hsqc seed {seed}",))

    sched = poisson_gap(n15.n_complex, int(fraction * n15.n_complex), rng=np.random.default_rng(seed))
    rows = np.ravel(np.column_stack([2 * sched, 2 * sched + 1]))
    return as_spectrum(plane[rows], rows.size), as_spectrum(plane, plane.shape[0]), sched


#: A 60-residue protein's HNCA: 32 complex 13C x 24 complex 15N x 256 complex 1H points, 1H cut to 10.5-6.0 ppm,
#: 25 % of the (13C, 15N) pairs kept; noise so that weak Ca(i-1) peaks stand clear but not far.
NUS3D_EXAMPLE = {"sizes": (32, 24, 256), "n_residues": 60, "noise_sd": 0.05, "fraction": 0.25}


def nus3d_example(seed: int = 20261122, *, noise_sd: float | None = None):
    """(NUS header, expanded NUS cube, full cube, schedule (z, y)): direct 1H transformed, both indirect dims in time.

    The NUS cube is what NMRPipe's nusExpand.tcl and direct-dimension processing give: full size, zeros
    at the unsampled pairs. ``noise_sd=0`` gives the noise-free cubes of the same peaks.
    """
    import dataclasses

    import nmrglue as ng

    from simulators.nmr import peaks as P
    from simulators.nmr.fid import default_dimensions, direct_processed
    from simulators.nmr.schedules import poisson_gap_2d

    cfg = NUS3D_EXAMPLE
    rng = np.random.default_rng(seed)
    dims = tuple(dataclasses.replace(d, n_complex=n) for d, n in zip(default_dimensions("hnca"), cfg["sizes"]))
    seq = P.random_sequence(cfg["n_residues"], rng)
    peaks = P.peak_list("hnca", seq, P.backbone_shifts(seq, rng), rng)
    dic, data = direct_processed(peaks, dims, rng, noise_sd=cfg["noise_sd"] if noise_sd is None else noise_sd)
    # extract the amide region with nmrglue's EXT on one plane (its 3D EXT slices the wrong axis), same header
    plane_dic = {**dic, "FDDIMCOUNT": 2.0}
    uc = ng.pipe.make_uc(plane_dic, data[0], dim=1)
    first, last = uc("10.5ppm"), uc("6.0ppm")
    cut, _ = ng.pipe_proc.ext(dict(plane_dic), data[0], x1=first + 1, xn=last + 1)
    dic = {**dic, **{k: v for k, v in cut.items() if k != "FDDIMCOUNT" and v != dic.get(k)}}
    full = data[:, :, first:last + 1].astype(np.float32)
    n1, n2 = dims[0].n_complex, dims[1].n_complex
    sched = poisson_gap_2d((n1, n2), int(cfg["fraction"] * n1 * n2), rng=np.random.default_rng(seed))
    keep = np.zeros((n1, n2), bool)
    keep[sched[:, 0], sched[:, 1]] = True
    nus = full * np.repeat(np.repeat(keep, 2, axis=0), 2, axis=1)[:, :, None]
    return dic, nus, full, sched


def main():
    spec, sim, out = deer_example()
    write(HERE / "example_deer.DTA", spec)
    truth = np.column_stack([sim.r_nm, out["y"][0]])
    np.savetxt(HERE / "example_deer_truth.csv", truth, delimiter=",", header="r_nm,P", comments="", fmt="%.6g")
    print("wrote", HERE / "example_deer.DTA", "and the true P(r) in example_deer_truth.csv")
    sampled, full, sched = nus_example()
    write(HERE / "example_hsqc_nus.ft1", sampled)
    write(HERE / "example_hsqc_full.ft1", full)
    np.savetxt(HERE / "example_hsqc_nuslist", sched, fmt="%d")
    print("wrote", HERE / "example_hsqc_nus.ft1", "(25 % NUS),", HERE / "example_hsqc_nuslist",
          "and the fully sampled", HERE / "example_hsqc_full.ft1")
    import nmrglue as ng

    from mrml.io import atomic_output

    dic, nus, _, sched = nus3d_example()
    with atomic_output(HERE / "example_hnca_nus.ft1") as tmp:
        ng.pipe.write(str(tmp), dic, nus, overwrite=True)
    np.savetxt(HERE / "example_hnca_nuslist", sched[:, ::-1], fmt="%d")  # nuslist column order: Y, Z
    print("wrote", HERE / "example_hnca_nus.ft1", "(3D, 25 % of the 13C x 15N pairs) and",
          HERE / "example_hnca_nuslist", "(the fully sampled cube is regenerated by nus3d_example())")


if __name__ == "__main__":
    main()
