"""The phantom renderer's ground truth is true: measured on its own pixels, not taken on trust."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from scipy.spatial import ConvexHull
from scipy.stats import spearmanr
from skimage.color import deltaE_cie76, rgb2lab

from fairskin_core.analysis.fst_mapping import KINYANJUI
from fairskin_core.fst import KINYANJUI_ITA_RANGES
from fairskin_core.images import read_mask, read_rgb
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms import PHANTOM_DIAGNOSES, phantom_ita_range, render_phantom
from fairskin_core.phantoms.dataset import PRESETS, plan_dataset, write_phantom_dataset
from fairskin_core.phantoms.noise import smooth_noise
from fairskin_core.phantoms.shape import measure_outline

NO_ARTEFACTS: dict[str, float] = {}


def measured_ita(image: np.ndarray, keep: np.ndarray) -> float:
    """ITA of the median skin colour over the pixels in ``keep`` (arctan, as the analysis uses)."""
    lab = rgb2lab(image)
    L, b = np.median(lab[..., 0][keep]), np.median(lab[..., 2][keep])
    return float(np.degrees(np.arctan((L - 50) / b)))


def test_phantom_ita_ranges_sit_inside_kinyanjui_thresholds():
    for fst in range(1, 7):
        low, high = phantom_ita_range(fst)
        k_low, k_high = KINYANJUI_ITA_RANGES[fst]
        assert k_low < low < high < k_high


@pytest.mark.parametrize("fst", range(1, 7))
def test_measured_skin_ita_falls_in_the_types_range(fst):
    for seed in range(8):
        diagnosis = PHANTOM_DIAGNOSES[seed % len(PHANTOM_DIAGNOSES)]
        phantom = render_phantom(seed, fst, diagnosis, 128, artefact_rates=NO_ARTEFACTS)
        skin = ~ndimage.binary_dilation(phantom.lesion_mask, iterations=3)
        ita = measured_ita(phantom.image, skin)
        # 1.5° is 0.4 L* on the darkest skin, where ITA is most sensitive.
        assert abs(ita - phantom.truth["ita"]) < 1.5
        assert KINYANJUI.fst(ita) == fst
        low, high = phantom_ita_range(fst)
        assert low - 1.0 < ita < high + 1.0


def test_artefacts_cover_only_their_masks_and_skin_ita_survives_them():
    artefacts = ["hair", "bubbles", "ruler", "ink", "field"]
    for seed, fst in [(3, 1), (4, 3), (5, 6)]:
        clean = render_phantom(seed, fst, "nevus", 160, artefact_rates=NO_ARTEFACTS)
        for name in artefacts:
            dirty = render_phantom(seed, fst, "nevus", 160, artefact_rates={name: 1.0})
            mask = dirty.artefact_masks[name]
            assert mask.any(), name
            changed = deltaE_cie76(rgb2lab(clean.image), rgb2lab(dirty.image)) > 2.0
            # Every visible change lies inside the artefact's mask (give or take anti-aliasing).
            assert not (changed & ~ndimage.binary_dilation(mask, iterations=2)).any(), name
            assert np.array_equal(dirty.lesion_mask, clean.lesion_mask)
        everything = render_phantom(seed, fst, "nevus", 160, artefact_rates={name: 1.0 for name in artefacts})
        covered = np.logical_or.reduce([everything.artefact_masks[n] for n in artefacts])
        skin = ~covered & ~ndimage.binary_dilation(everything.lesion_mask, iterations=3)
        assert abs(measured_ita(everything.image, skin) - everything.truth["ita"]) < 1.5


def test_dermoscope_field_is_dark_and_vignetting_darkens_the_corners():
    field = render_phantom(11, 2, "nevus", 128, artefact_rates={"field": 1.0})
    assert rgb2lab(field.image)[..., 0][field.artefact_masks["field"]].mean() < 15
    assert field.artefact_masks["field"][0, 0] and not field.artefact_masks["field"][64, 64]
    lit = render_phantom(11, 2, "nevus", 128, artefact_rates=NO_ARTEFACTS)
    dim = render_phantom(11, 2, "nevus", 128, artefact_rates={"vignetting": 1.0})
    L_lit, L_dim = rgb2lab(lit.image)[..., 0], rgb2lab(dim.image)[..., 0]
    assert (L_lit - L_dim)[:8, :8].mean() > 1.0 > abs((L_lit - L_dim)[60:68, 60:68].mean())


@pytest.mark.parametrize("diagnosis", PHANTOM_DIAGNOSES)
def test_lesion_mask_matches_the_drawn_lesion(diagnosis):
    for seed, fst in [(0, 1), (1, 3), (2, 5), (3, 6)]:
        with_lesion = render_phantom(seed, fst, diagnosis, 128, artefact_rates=NO_ARTEFACTS)
        without = render_phantom(seed, fst, diagnosis, 128, artefact_rates=NO_ARTEFACTS, lesion=False)
        mask = with_lesion.lesion_mask
        difference = deltaE_cie76(rgb2lab(with_lesion.image), rgb2lab(without.image))
        assert (difference[ndimage.binary_erosion(mask)] > 1.0).mean() > 0.97  # the lesion fills its mask
        # and nothing is drawn beyond the mask's border fade
        assert (difference[~ndimage.binary_dilation(mask, iterations=4)] < 0.5).all()
        assert mask.sum() == with_lesion.truth["lesion_area_px"]


def test_pigmented_lesion_contrast_falls_on_darker_skin():
    contrast = {}
    for fst in range(1, 7):
        values = []
        for seed in range(10):
            a = render_phantom(seed, fst, "nevus", 128, artefact_rates=NO_ARTEFACTS)
            b = render_phantom(seed, fst, "nevus", 128, artefact_rates=NO_ARTEFACTS, lesion=False)
            values.append(deltaE_cie76(rgb2lab(a.image), rgb2lab(b.image))[a.lesion_mask].mean())
        contrast[fst] = np.mean(values)
    assert all(contrast[f] > contrast[f + 1] for f in range(1, 6))
    assert contrast[6] < 0.6 * contrast[1]


def test_outline_geometry_is_exact_on_known_shapes():
    phi = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    circle = measure_outline(np.stack([50 + 20 * np.cos(phi), 50 + 20 * np.sin(phi)], axis=1))
    assert circle.asymmetry < 0.01 and abs(circle.compactness - 1) < 1e-3 and abs(circle.diameter_px - 40) < 1e-6
    ellipse = measure_outline(np.stack([50 + 30 * np.cos(phi), 50 + 10 * np.sin(phi)], axis=1))
    assert ellipse.asymmetry < 0.01 and abs(ellipse.diameter_px - 60) < 1e-6
    square = measure_outline(np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float))
    assert abs(square.compactness - 4 / np.pi) < 1e-9 and abs(square.diameter_px - 10 * np.sqrt(2)) < 1e-9
    # A 3:1 right triangle has no axis of mirror symmetry.
    triangle = measure_outline(np.array([[0, 0], [30, 0], [0, 10]], dtype=float))
    assert triangle.asymmetry > 0.2


def test_ground_truth_follows_the_diagnosis_priors():
    truths = {
        dx: [render_phantom(s, 1 + s % 6, dx, 128, artefact_rates=NO_ARTEFACTS).truth for s in range(24)] for dx in ("melanoma", "nevus")
    }
    melanoma, nevus = truths["melanoma"], truths["nevus"]
    assert np.mean([t["asymmetry"] for t in melanoma]) > 2 * np.mean([t["asymmetry"] for t in nevus])
    assert np.mean([t["border_compactness"] for t in melanoma]) > np.mean([t["border_compactness"] for t in nevus])
    assert np.mean([t["diameter_mm"] for t in melanoma]) > np.mean([t["diameter_mm"] for t in nevus])
    assert np.mean([t["n_colors"] >= 3 for t in melanoma]) >= 0.8
    assert all(t["n_colors"] <= 2 for t in nevus)


def test_ground_truth_diameter_and_asymmetry_match_the_mask():
    """The truth is about the drawn lesion: the mask's own geometry agrees with it."""
    feret, truth_d, truth_a, mask_a = [], [], [], []
    for seed in range(30):
        phantom = render_phantom(seed, 2, ("melanoma", "seborrheic_keratosis", "nevus")[seed % 3], 192, artefact_rates=NO_ARTEFACTS)
        rows, cols = np.nonzero(phantom.lesion_mask)
        points = np.stack([cols, rows], axis=1).astype(float)
        hull = points[ConvexHull(points).vertices]
        feret.append(np.sqrt(((hull[:, None] - hull[None]) ** 2).sum(-1)).max())
        truth_d.append(phantom.truth["diameter_px"])
        # Mask asymmetry about the principal axes, measured like the truth but on pixels.
        centred = points - points.mean(axis=0)
        _, axes = np.linalg.eigh(np.cov(centred.T))
        scores = []
        for axis in axes.T:
            mirrored = np.rint(2 * (centred @ axis)[:, None] * axis - centred + points.mean(axis=0)).astype(int)
            ok = (mirrored >= 0).all(1) & (mirrored < 192).all(1)
            hit = np.zeros(len(points), bool)
            hit[ok] = phantom.lesion_mask[mirrored[ok, 1], mirrored[ok, 0]]
            scores.append(1 - hit.mean())
        mask_a.append(np.mean(scores))
        truth_a.append(phantom.truth["asymmetry"])
    assert np.max(np.abs(np.array(feret) - np.array(truth_d))) < 3.0
    assert spearmanr(truth_a, mask_a).statistic > 0.9


def test_smooth_noise_is_the_corner_of_the_whole_zoom():
    """Only the corner kept is interpolated: the numbers of the whole `ndimage.zoom`, cropped, as the renderer made them
    before (identical up to the order of the mean's and std's sums; the default phantom set's PNGs are byte-identical)."""
    for size in (32, 100, 128, 129, 333):
        for scale in (0.5, 1, 1.2, 3.56, 7.3, size / 36, size / 20, size / 7, size / 5):
            for shape in ((size, size), (size, size // 2 + 7)):
                scale_used = max(scale, 1.0)
                coarse = (int(np.ceil(shape[0] / scale_used)) + 4, int(np.ceil(shape[1] / scale_used)) + 4)
                grid = ndimage.gaussian_filter(np.random.default_rng(size).standard_normal(coarse), 0.8, mode="wrap")
                whole = ndimage.zoom(grid, scale_used, order=3, mode="grid-wrap", grid_mode=True)[: shape[0], : shape[1]]
                expected = (whole - whole.mean()) / (whole - whole.mean()).std()
                np.testing.assert_allclose(smooth_noise(np.random.default_rng(size), shape, scale), expected, rtol=0, atol=1e-12)


def test_same_seed_same_pixels_and_independent_streams():
    a = render_phantom(123, 4, "melanoma", 96)
    b = render_phantom(123, 4, "melanoma", 96)
    assert np.array_equal(a.image, b.image) and a.truth == b.truth
    assert not np.array_equal(a.image, render_phantom(124, 4, "melanoma", 96).image)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="fst must be 1-6"):
        render_phantom(0, 7, "nevus")
    with pytest.raises(ValueError, match="phantoms exist for"):
        render_phantom(0, 3, "actinic_keratosis")
    with pytest.raises(ValueError, match="unknown artefact"):
        render_phantom(0, 3, "nevus", artefact_rates={"glare": 1.0})


@pytest.mark.parametrize("preset, n", [("ham10000", 200), ("ddi", 200), ("balanced", 600), ("ham10000", 37), ("ddi", 1001)])
def test_plans_match_the_preset_mix_exactly(preset, n):
    plan = plan_dataset(n, preset, seed=5)
    assert len(plan) == n and len({p["image_id"] for p in plan}) == n
    mix = PRESETS[preset]
    fsts = np.array([p["fst"] for p in plan])
    diagnoses = np.array([p["diagnosis"] for p in plan])
    for fst, share in mix.fst_mix.items():  # each margin is n × share, rounded
        assert abs((fsts == fst).sum() - n * share) < 1
    for dx, share in mix.diagnosis_mix.items():
        assert abs((diagnoses == dx).sum() - n * share) < 1
    for fst in mix.fst_mix:  # and each cell is close to n × p(FST) × p(dx)
        for dx in mix.diagnosis_mix:
            count = ((fsts == fst) & (diagnoses == dx)).sum()
            assert abs(count - n * mix.fst_mix[fst] * mix.diagnosis_mix[dx]) < 2
    dark = np.isin(fsts, [5, 6]).mean()
    if preset == "ham10000":
        assert dark < 0.05
    elif preset == "ddi":
        assert abs(dark - 0.34) < 0.01
    else:
        assert set(np.bincount(fsts)[1:]) == {n // 6}
    splits = pd.DataFrame(plan)
    assert abs((splits["split"] == "test").mean() - 0.1) < 0.02 + 1 / n
    # Every split holds every skin type with 10+ images, even where its FST x diagnosis cells are small.
    common = [fst for fst, count in splits["fst"].value_counts().items() if count >= 10]
    assert all(set(common) <= set(group["fst"]) for _, group in splits.groupby("split"))
    assert plan == plan_dataset(n, preset, seed=5)
    assert [p["fst"] for p in plan] != [p["fst"] for p in plan_dataset(n, preset, seed=6)]


def test_written_dataset_validates_and_matches_its_truth(tmp_path):
    manifest_path = write_phantom_dataset(tmp_path / "set", n=24, preset="balanced", size=96, seed=3, workers=1)
    manifest = read_manifest(manifest_path, check_files="decode")
    table = manifest.table
    assert len(table) == 24 and set(table["source"]) == {"phantom"}
    assert set(table["split"]) <= {"train", "val", "test"}
    for _, row in table.head(6).iterrows():
        again = render_phantom(int(row["seed"]), int(row["fst"]), row["diagnosis"], 96)
        assert np.array_equal(read_rgb(manifest.image_file(row["image_path"])), again.image)
        assert np.array_equal(read_mask(manifest.image_file(row["mask_path"])), again.lesion_mask)
        assert float(row["gt_ita"]) == again.truth["ita"]


def test_failed_run_leaves_nothing_and_existing_output_is_kept(tmp_path):
    with pytest.raises(ValueError, match="unknown preset"):
        write_phantom_dataset(tmp_path / "bad", n=4, preset="isic", size=64)
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match="size"):
        write_phantom_dataset(tmp_path / "bad", n=4, size=8)
    assert list(tmp_path.iterdir()) == []
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="pass overwrite"):
        write_phantom_dataset(existing, n=4, size=64, workers=1)
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]
