"""Real photographs that ship inside installed packages, for evaluating a person detector without downloads.

- ``astronaut``: scikit-image's ``data.astronaut()`` (Eileen Collins, NASA portrait, public domain), 512 x 512;
- ``grace_hopper``: matplotlib's sample ``grace_hopper.jpg`` (US Navy portrait, public domain), 512 x 600;
- ``cameraman``: scikit-image's ``data.camera()`` (grayscale, a man bent over a camera on a tripod), 512 x 512;
- ``chelsea`` (a cat) and ``coffee`` (a cup): no person in view.

``LABELS`` holds reference pixels (u right, v down; pixel centres at integers) of the points a portrait shows
clearly, labelled by eye on a 3-4x magnified grid for this evaluation: eye centres and nose tip within about
5 px, shoulders (under a space suit and a jacket) within about 30 px. The cameraman, seen from the side and
partly hidden behind his camera, has no labels: what a detector finds there is reported, not scored.
scikit-image and matplotlib are in requirements.txt; no rclpy here.
"""

from __future__ import annotations

import numpy as np

PEOPLE = ("astronaut", "grace_hopper", "cameraman")
NO_PERSON = ("chelsea", "coffee")

LABELS: dict[str, dict[str, tuple[float, float]]] = {
    "astronaut": {
        "nose": (224, 126),
        "left_eye": (246, 104),
        "right_eye": (203, 101),
        "left_shoulder": (310, 255),
        "right_shoulder": (105, 245),
    },
    "grace_hopper": {
        "nose": (267, 232),
        "left_eye": (305, 186),
        "right_eye": (220, 190),
        "left_shoulder": (450, 415),
        "right_shoulder": (90, 410),
    },
}
FACE = ("nose", "left_eye", "right_eye")


def load_photo(name: str) -> np.ndarray:
    """The photograph ``name`` as RGB [H, W, 3] uint8 (grayscale ones repeated over the three channels)."""
    if name == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as im:
            return np.asarray(im.convert("RGB"))
    from skimage import data

    loaders = {"astronaut": data.astronaut, "cameraman": data.camera, "chelsea": data.chelsea, "coffee": data.coffee}
    if name not in loaders:
        raise KeyError(f"no photograph {name!r}; known: {', '.join(PEOPLE + NO_PERSON)}")
    image = loaders[name]()
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def interocular_px(name: str) -> float:
    """Distance between the labelled eye centres (px): the scale the errors of ``name`` are measured in."""
    eyes = LABELS[name]
    return float(np.hypot(*np.subtract(eyes["left_eye"], eyes["right_eye"])))


def letterbox(image: np.ndarray, width: int, height: int, fill: int = 114) -> tuple[np.ndarray, float, tuple[int, int]]:
    """``image`` scaled to fit ``width`` x ``height`` and centred on a grey canvas (a camera frame of that size).

    Returns the frame, the scale and the (u, v) offset: a pixel p of the photo lands at ``p * scale + offset``
    (pixel centres at integers, up to half a pixel).
    """
    import cv2

    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = round(w * scale), round(h * scale)
    frame = np.full((height, width, 3), fill, np.uint8)
    u0, v0 = (width - new_w) // 2, (height - new_h) // 2
    frame[v0 : v0 + new_h, u0 : u0 + new_w] = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return frame, scale, (u0, v0)
