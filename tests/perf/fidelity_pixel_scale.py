"""How strong are noise and blur, compared with the reference, which perturbs at source resolution?

The reference perturbs frames at the source video's resolution, then the frames are shrunk to the
training size; this package decodes small frames first and perturbs them. Shrinking averages the
source's pixel noise away and narrows its blur, so applying the reference's parameters to small frames
is too strong. This script measures, on the real sample videos whose source is larger than the target,
three ways side by side in one run:

* ``reference``: perturb at source resolution, then shrink (area) to the clip size;
* ``scaled`` (what the package does): shrink, then perturb with the blur radius times ``pixel_scale`` and
  the noise sigma times ``area_noise_gain`` (``linear scale`` shows noise times ``pixel_scale`` instead);
* ``unscaled`` (the package before 0.2): shrink, then perturb with the reference's parameter.

Noise is compared by the standard deviation of ``perturbed - clean`` at clip size; blur by the
Laplacian energy left (sharpness) and the PSNR to the reference output. Run::

    python tests/perf/fidelity_pixel_scale.py [--frames 6] [--max-pixels 65536]
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np


def _shrink(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    h, w = size
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def _sharpness(frames: np.ndarray) -> float:
    import cv2

    return float(np.mean([np.var(cv2.Laplacian(f.mean(-1).astype(np.float32), cv2.CV_32F)) for f in frames]))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def measure(path, frames: int, max_pixels: int, sigma: float = 52.5) -> dict[str, float] | None:
    from videossr.tasks.perturbations import SegmentContext, blur, noise
    from videossr.video import fit_size, load_clip

    full = load_clip(path, max_pixels=None, min_pixels=None)
    size = fit_size(*full.size, max_pixels)
    if size[0] * size[1] >= full.size[0] * full.size[1]:
        return None  # the source is no larger than the clip: nothing to compare
    src = full.frames[:: max(1, len(full.frames) // frames)][:frames]
    small = _shrink(src, size)

    class FixedSigma:  # an rng whose uniform() draw is the chosen sigma; normals stay random
        def __init__(self, seed):
            self.rng = np.random.default_rng(seed)

        def uniform(self, lo, hi):
            return sigma

        def standard_normal(self, **kw):
            return self.rng.standard_normal(**kw)

    def ctx(frames_, source_size=(0, 0)):  # (0, 0): act on the frames' own pixel scale
        return SegmentContext(clip=frames_, start=0, length=len(frames_), source_size=source_size)

    ours = ctx(small, full.size)
    scale = ours.pixel_scale
    ref_noise = _shrink(noise(src, FixedSigma(0), ctx(src))[0], size)
    scaled_noise = noise(small, FixedSigma(1), ours)[0]
    unscaled_noise = noise(small, FixedSigma(2), ctx(small))[0]
    # The alternative to the area gain: sigma times the linear scale, written out here.
    normals = np.random.default_rng(3).standard_normal(size=small.shape)
    linear_noise = np.clip(np.rint(small + normals * sigma * scale), 0, 255).astype(np.uint8)
    resid = lambda x: float(np.std(x.astype(np.float64) - small))  # noqa: E731
    ref_blur = _shrink(blur(src, None, ctx(src))[0], size)
    scaled_blur = blur(small, None, ours)[0]
    unscaled_blur = blur(small, None, ctx(small))[0]
    return {
        "source": f"{full.size[1]}x{full.size[0]}",
        "clip": f"{size[1]}x{size[0]}",
        "scale": scale,
        "noise_ref": resid(ref_noise),
        "noise_scaled": resid(scaled_noise),
        "noise_linear": resid(linear_noise),
        "noise_unscaled": resid(unscaled_noise),
        "sharp_clean": _sharpness(small),
        "sharp_ref": _sharpness(ref_blur),
        "sharp_scaled": _sharpness(scaled_blur),
        "sharp_unscaled": _sharpness(unscaled_blur),
        "psnr_scaled": _psnr(scaled_blur, ref_blur),
        "psnr_unscaled": _psnr(unscaled_blur, ref_blur),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--max-pixels", type=int, default=256 * 256)
    args = parser.parse_args(argv)
    from videossr.video import sample_videos

    rows = []
    for path in sample_videos():
        row = measure(path, args.frames, args.max_pixels)
        if row is not None:
            rows.append((path.name, row))
    print("Noise (sigma 52.5 on the source's scale): std of perturbed - clean at clip size")
    print(
        "| video | source | clip | pixel scale | reference | area gain (ours) | linear scale "
        "| unscaled (before 0.2) |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['source']} | {r['clip']} | {r['scale']:.3f} | {r['noise_ref']:.2f} | "
            f"{r['noise_scaled']:.2f} ({r['noise_scaled'] / r['noise_ref']:.2f}x) | "
            f"{r['noise_linear']:.2f} ({r['noise_linear'] / r['noise_ref']:.2f}x) | "
            f"{r['noise_unscaled']:.2f} ({r['noise_unscaled'] / r['noise_ref']:.2f}x) |"
        )
    print("\nBlur (radius 2 on the source's scale): Laplacian energy left, and PSNR to the reference output")
    print(
        "| video | clean | reference | scaled (ours) | unscaled (before 0.2) | PSNR scaled | PSNR unscaled |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(
            f"| {name} | {r['sharp_clean']:.1f} | {r['sharp_ref']:.1f} | {r['sharp_scaled']:.1f} | "
            f"{r['sharp_unscaled']:.1f} | {r['psnr_scaled']:.1f} dB | {r['psnr_unscaled']:.1f} dB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
