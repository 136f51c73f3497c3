"""Is a skin-tone transfer any good? Its skin against real skin of the target type, its structure against its source.

- **Skin colour**: the healthy skin's ITA (the ITA pipeline) of every result, against real images
  of the target type: the share of results inside the real images' 10th–90th percentile, and
  the medians of results, sources and real images. The learned estimator's type of each result.
- **Structure kept**: the correlation of the gradient magnitude (Sobel of CIELAB L*) of source and
  result — texture, hair, folds and lesion edges in the same places, whatever their contrast —
  and the overlap (IoU) of the lesion segmented on each.
- **Distribution**: FID and KID (Inception) of results against the real images, beside the
  sources against the same real images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab

from ..analysis.pipeline import analyse_image
from ..skin_type.estimator import estimate_images
from .fid import fid
from .inception import InceptionExtractor, load_inception
from .kid import kid


def gradient_correlation(source: np.ndarray, result: np.ndarray) -> float:
    """Pearson correlation of the L* gradient magnitudes of two images of one size (1: every edge where it was)."""
    if source.shape != result.shape:
        raise ValueError(f"images of one size are needed, not {source.shape} and {result.shape}")
    magnitudes = []
    for image in (source, result):
        lightness = rgb2lab(image)[..., 0]
        magnitudes.append(np.hypot(ndimage.sobel(lightness, 0), ndimage.sobel(lightness, 1)).ravel())
    return float(np.corrcoef(*magnitudes)[0, 1])


def _skin_and_lesion(image: np.ndarray) -> tuple[float | None, np.ndarray | None]:
    analysis = analyse_image(image, keep_masks=True)
    return analysis.ita, analysis.lesion_mask


def _iou(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    if a is None or b is None or a.shape != b.shape or not (a | b).any():
        return None
    return float((a & b).sum() / (a | b).sum())


def _median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(float(np.median(kept)), 2) if kept else None


def tone_transfer_quality(sources: Sequence[np.ndarray], results: Sequence[np.ndarray], real: Sequence[np.ndarray],
                          extractor: InceptionExtractor | None = None, learned_types: bool = True) -> dict:
    """The figures of the module docstring for ``results`` made from ``sources`` (pairwise, one size each), measured
    against ``real`` images of the target type (the learned estimator's types of the results unless not ``learned_types``)."""
    if len(sources) != len(results):
        raise ValueError(f"{len(sources)} sources need as many results, not {len(results)}")
    measured_sources = [_skin_and_lesion(image) for image in sources]
    measured_results = [_skin_and_lesion(image) for image in results]
    real_ita = [ita for ita, _ in map(_skin_and_lesion, real) if ita is not None]
    low, high = np.percentile(real_ita, [10, 90])
    result_ita = [ita for ita, _ in measured_results]
    inside = [low <= ita <= high for ita in result_ita if ita is not None]
    types = [record["fst_estimate"] for record in estimate_images(list(results))] if learned_types else None
    extractor = extractor or load_inception()
    features = {name: extractor.extract(list(images))[0] for name, images in (("results", results), ("sources", sources), ("real", real))}
    ious = [_iou(a[1], b[1]) for a, b in zip(measured_sources, measured_results, strict=True)]
    return {
        "images": len(results), "real_images": len(real),
        "ita": {"real_p10_p90": [round(float(low), 2), round(float(high), 2)], "real_median": _median(real_ita),
                "source_median": _median([ita for ita, _ in measured_sources]), "result_median": _median(result_ita),
                "results_measured": len(inside), "share_inside_real": round(float(np.mean(inside)), 4) if inside else None},
        "estimated_types": {str(t): types.count(t) for t in [*range(1, 7), None]} if learned_types else None,
        "structure": {"gradient_correlation_median": _median([gradient_correlation(s, r) for s, r in zip(sources, results, strict=True)]),
                      "lesion_iou_median": _median(ious), "lesions_compared": sum(iou is not None for iou in ious)},
        "fid": {"results_vs_real": round(fid(features["results"], features["real"]), 2),
                "sources_vs_real": round(fid(features["sources"], features["real"]), 2)},
        "kid": {"results_vs_real": round(kid(features["results"], features["real"]).mean, 4),
                "sources_vs_real": round(kid(features["sources"], features["real"]).mean, 4)},
    }
