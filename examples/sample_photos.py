"""Write scikit-image's sample photos into a folder, as a small library to try mmrag on.

    python examples/sample_photos.py demo-photos
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

# Bundled with scikit-image, no download needed.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "horse", "clock", "colorwheel", "hubble_deep_field",
          "immunohistochemistry", "retina", "camera", "moon", "coins", "page", "text")


def main(folder: str) -> None:
    from skimage import data

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        array = np.asarray(getattr(data, name)())
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        Image.fromarray(array).convert("RGB").save(target / f"{name}.jpg", quality=90)
    print(f"wrote {len(PHOTOS)} photos to {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo-photos")
