"""Per-residue chemical-shift statistics of proteins (ppm), for random peak lists.

Means and standard deviations of backbone and beta shifts by amino-acid type,
rounded from the public BioMagResBank (BMRB) statistics of diamagnetic
proteins; methyl (1H, 13C) statistics of the common methyl-labelled groups.
Proline has no amide proton, so it gives no 1H-15N peak; glycine has no CB.
"""

from __future__ import annotations

import numpy as np

#: One-letter codes in table order.
RESIDUES = "ACDEFGHIKLMNPQRSTVWY"

#: Nuclei of the backbone table, in column order.
NUCLEI = ("H", "N", "CA", "CB", "C")

# residue: (H mean, sd), (N mean, sd), (CA mean, sd), (CB mean, sd), (C mean, sd); NaN = no such atom
_TABLE = {
    "A": ((8.19, 0.59), (123.2, 3.6), (53.1, 2.0), (19.0, 1.8), (177.7, 2.1)),
    "C": ((8.38, 0.68), (120.1, 4.6), (58.0, 3.3), (33.0, 6.4), (174.9, 2.1)),
    "D": ((8.30, 0.58), (120.6, 3.9), (54.7, 2.0), (40.9, 1.6), (176.4, 1.7)),
    "E": ((8.33, 0.60), (120.7, 3.5), (57.3, 2.1), (30.0, 1.7), (176.9, 2.0)),
    "F": ((8.36, 0.72), (120.5, 4.0), (58.1, 2.6), (40.0, 2.0), (175.5, 2.0)),
    "G": ((8.33, 0.64), (109.7, 3.8), (45.4, 1.3), (np.nan, 0.0), (173.9, 1.9)),
    "H": ((8.25, 0.69), (119.7, 4.0), (56.5, 2.3), (30.2, 2.2), (175.3, 2.0)),
    "I": ((8.27, 0.67), (121.4, 4.2), (61.6, 2.7), (38.6, 2.0), (175.9, 1.9)),
    "K": ((8.18, 0.60), (121.0, 3.8), (56.9, 2.2), (32.8, 1.8), (176.6, 2.0)),
    "L": ((8.22, 0.64), (121.8, 3.9), (55.7, 2.1), (42.3, 1.9), (177.0, 2.0)),
    "M": ((8.26, 0.59), (120.1, 3.6), (56.1, 2.2), (33.0, 2.2), (176.2, 2.1)),
    "N": ((8.33, 0.62), (118.9, 4.0), (53.5, 1.9), (38.7, 1.7), (175.3, 1.8)),
    "P": ((np.nan, 0.0), (136.5, 6.0), (63.3, 1.5), (31.9, 1.2), (176.7, 1.6)),
    "Q": ((8.21, 0.58), (119.9, 3.6), (56.6, 2.1), (29.2, 1.8), (176.3, 1.9)),
    "R": ((8.24, 0.60), (120.8, 3.7), (56.8, 2.3), (30.7, 1.8), (176.4, 2.0)),
    "S": ((8.28, 0.58), (116.3, 3.5), (58.7, 2.1), (63.8, 1.5), (174.6, 1.7)),
    "T": ((8.24, 0.61), (115.5, 4.8), (62.2, 2.6), (69.7, 1.7), (174.6, 1.8)),
    "V": ((8.29, 0.67), (121.1, 4.5), (62.5, 2.8), (32.7, 1.8), (175.7, 1.9)),
    "W": ((8.29, 0.77), (121.6, 4.1), (57.7, 2.6), (30.1, 2.0), (176.1, 2.0)),
    "Y": ((8.32, 0.72), (120.6, 4.1), (58.2, 2.5), (39.3, 2.2), (175.4, 2.0)),
}

#: (n_residue_types, n_nuclei) means and standard deviations (ppm).
MEAN_PPM = np.array([[m for m, _ in _TABLE[r]] for r in RESIDUES])
SD_PPM = np.array([[s for _, s in _TABLE[r]] for r in RESIDUES])

#: Typical amino-acid frequencies in proteins (UniProt-like), in :data:`RESIDUES` order.
FREQUENCY = np.array([8.3, 1.4, 5.5, 6.7, 3.9, 7.1, 2.3, 5.9, 5.8, 9.7,
                      2.4, 4.1, 4.7, 3.9, 5.5, 6.6, 5.3, 6.9, 1.1, 2.9]) / 100.0
FREQUENCY = FREQUENCY / FREQUENCY.sum()

#: Methyl groups: name -> ((1H mean, sd), (13C mean, sd)) in ppm.
METHYLS = {
    "Ile-d1": ((0.68, 0.29), (13.4, 1.7)),
    "Leu-d1": ((0.76, 0.28), (24.7, 1.6)),
    "Leu-d2": ((0.74, 0.29), (24.1, 1.7)),
    "Val-g1": ((0.83, 0.27), (21.5, 1.4)),
    "Val-g2": ((0.80, 0.29), (21.3, 1.5)),
    "Ala-b": ((1.36, 0.26), (19.0, 1.8)),
    "Met-e": ((1.87, 0.36), (17.1, 1.5)),
    "Thr-g2": ((1.14, 0.23), (21.6, 0.9)),
}
