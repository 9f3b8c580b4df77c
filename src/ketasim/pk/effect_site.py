"""Effect sites: ``dCe/dt = ke0 (Cp - Ce)`` joined to linear systems of one or many patients.

The one place the effect-site equation is written into a rate matrix. It is linear in the state
(``Cp`` is a row of the state), so a system with effect sites stays linear and is solved exactly.
Used by the model files' own sites (:func:`ketasim.pk.system.assemble_rate_matrices`), one
patient's added site (:func:`ketasim.pk.system.with_effect_site`: a PD paper's ke0 through
:func:`ketasim.pd.add_effect_site`, a TCI's user ke0) and the virtual trials' PD drivers
(:func:`ketasim.population.pd_endpoints.add_pd_sites`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ketasim.types import FloatArray

__all__ = ["append_effect_sites", "link_effect_site"]


def link_effect_site(
    K: FloatArray, state: int, plasma_row: ArrayLike, ke0_per_min: ArrayLike
) -> None:
    """Write ``dCe/dt = ke0 (row . x - Ce)`` as row ``state`` of ``K``, in place.

    ``K``: (n, n) or (P, n, n); ``plasma_row``: (n,) or (P, n), the plasma concentration from the
    state; ``ke0_per_min``: scalar or (P,). The state's concentration unit is the row's.
    """
    ke0 = np.asarray(ke0_per_min, dtype=np.float64)
    row = np.asarray(plasma_row, dtype=np.float64)
    K[..., state, :] = ke0[..., None] * row
    K[..., state, state] -= ke0


def append_effect_sites(
    K: FloatArray, plasma_rows: FloatArray, ke0_per_min: FloatArray
) -> FloatArray:
    """Rate matrices with one effect-site state appended per plasma row.

    ``K``: (P, n, n); ``plasma_rows``: (P, m, n); ``ke0_per_min``: (P, m). Returns
    (P, n + m, n + m); the new states come last, in the order of the rows.
    """
    n_pat, n, _ = K.shape
    m = plasma_rows.shape[1]
    out = np.zeros((n_pat, n + m, n + m))
    out[:, :n, :n] = K
    for j in range(m):
        row = np.zeros((n_pat, n + m))
        row[:, :n] = plasma_rows[:, j, :]
        link_effect_site(out, n + j, row, ke0_per_min[:, j])
    return out
