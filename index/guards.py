"""Checks made before an index is built, so an impossible request fails at once instead of after minutes.

``IVF99999999,Flat`` on 60 images used to allocate 99,999,999 inverted lists (15.7 GB, 2 minutes) before the
spec was lowered to what the vectors can train: the list count is checked against the library size first.
"""

from __future__ import annotations

from .spec import AUTO, MAX_NLIST, MIN_POINTS_PER_LIST, ivf_nlist


def check_spec_fits(spec: str | None, counts: dict[str, int]) -> None:
    """Raise ValueError naming the spec and the library's size when ``spec`` asks for more inverted lists
    than FAISS is used with here (``MAX_NLIST``); ``counts``: stored vectors per space."""
    if spec is None or spec.strip() == AUTO:
        return
    nlist = ivf_nlist(spec.strip())
    if nlist is None or nlist <= MAX_NLIST:
        return
    sizes = ", ".join(f"{space} space {count:,} vectors" for space, count in counts.items())
    fitting = max(1, max(counts.values(), default=0) // MIN_POINTS_PER_LIST)
    raise ValueError(f"index spec {spec!r} asks for {nlist:,} inverted lists; at most {MAX_NLIST:,} are "
                     f"supported and this library holds {sizes} (about one list per {MIN_POINTS_PER_LIST} "
                     f"vectors trains well: IVF{min(fitting, MAX_NLIST)} here). Use 'auto' to let mmrag choose")
