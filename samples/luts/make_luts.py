#!/usr/bin/env python3
"""Writes the sample .cube LUTs in this directory. They are the project's own (CC0).

    python3 samples/luts/make_luts.py

Each look is a function of an RGB colour in 0..1; the file is a 17-point 3D grid, red
changing fastest, as Adobe's .cube specification lays it out.
"""

import os

SIZE = 17
HERE = os.path.dirname(os.path.abspath(__file__))


def clamp(x):
    return min(1.0, max(0.0, x))


def luma(r, g, b):
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def s_curve(x, k):
    """Gentle contrast around mid-grey: k = 0 is identity."""
    return clamp(x + k * x * (1.0 - x) * (2.0 * x - 1.0))


def golden_hour(r, g, b):
    # Warm white balance, lifted warm shadows, a soft highlight roll-off.
    r, g, b = r * 1.08 + 0.03, g * 1.0 + 0.015, b * 0.86
    r, g, b = (s_curve(clamp(c), 0.25) for c in (r, g, b))
    return r, g, b


def teal_orange(r, g, b):
    # Shadows toward teal, highlights and skin toward orange, a little extra contrast.
    l = luma(r, g, b)
    shadow, high = (1.0 - l) ** 2, l ** 2
    teal, orange = (-0.10, 0.03, 0.08), (0.08, 0.02, -0.08)
    out = [c + shadow * t + high * o for c, t, o in zip((r, g, b), teal, orange)]
    return tuple(s_curve(clamp(c), 0.35) for c in out)


def write(name, title, f):
    lines = [
        f"# {title}: a sample look made by make_luts.py; CC0 (Creative Factory's own)",
        f'TITLE "{title}"',
        f"LUT_3D_SIZE {SIZE}",
        "DOMAIN_MIN 0.0 0.0 0.0",
        "DOMAIN_MAX 1.0 1.0 1.0",
    ]
    n = SIZE - 1
    for bi in range(SIZE):
        for gi in range(SIZE):
            for ri in range(SIZE):
                out = f(ri / n, gi / n, bi / n)
                lines.append(" ".join(f"{c:.6f}" for c in out))
    with open(os.path.join(HERE, name), "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    write("golden-hour.cube", "Golden hour", golden_hour)
    write("teal-orange.cube", "Teal and orange", teal_orange)
