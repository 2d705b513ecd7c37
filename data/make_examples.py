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


def main():
    spec, sim, out = deer_example()
    write(HERE / "example_deer.DTA", spec)
    truth = np.column_stack([sim.r_nm, out["y"][0]])
    np.savetxt(HERE / "example_deer_truth.csv", truth, delimiter=",", header="r_nm,P", comments="", fmt="%.6g")
    print("wrote", HERE / "example_deer.DTA", "and the true P(r) in example_deer_truth.csv")


if __name__ == "__main__":
    main()
