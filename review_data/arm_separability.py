"""Could a reader tell the arms apart without judging realism? A check made when a study is created.

Every image is shown at one size and in one format, but traces of where it came from can survive:
a JPEG arm against a PNG one, photographs shrunk 7× against images shown at their own size (sharper),
a generator whose colours are off. For each study image we take features that say nothing about a
lesion's realism as a clinician judges it — the source file's size, shape, format and compression,
and the shown pixels' mean colour, contrast and sharpness — and fit a logistic regression that
predicts the arm from them. Its cross-validated AUC near 0.5 means no trivial feature separates the
arms. Above `SEPARABLE_AUC` the AUC is tested against chance by permutation (the arms' labels shuffled
`PERMUTATIONS` times, the whole check redone on each): a small study reaches 0.7 by chance now and
then, so the study is created with a warning, which gives the numbers, only when the permutation
p-value is below `ALPHA` too (none of the shuffles reaches the observed AUC).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import laplace
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SEPARABLE_AUC = 0.7
PERMUTATIONS = 39  # p-values to 0.025 (one shuffle reaching the AUC makes p 0.05); about 2 s, only where SEPARABLE_AUC is reached
ALPHA = 0.05
MIN_PER_ARM = 5  # fewer images per arm than cross-validation folds need
PERMUTATION_STREAM = 4  # the shuffles' own random stream from the study's seed
FILE_FEATURES = {"native_short_side": "native short side", "native_aspect": "native aspect ratio", "jpeg": "JPEG source",
                 "bytes_per_pixel": "file bytes per pixel"}
PIXEL_FEATURES = {"mean_red": "mean red", "mean_green": "mean green", "mean_blue": "mean blue", "contrast": "contrast",
                  "sharpness": "sharpness"}
FAMILIES = {"file traits": tuple(FILE_FEATURES), "shown pixels": tuple(PIXEL_FEATURES)}


def trivial_features(source: Path, shown: np.ndarray) -> dict[str, float]:
    """The features of one study image: its source file's (``source``) and the pixels reviewers see (``shown``, H×W×3)."""
    with Image.open(source) as opened:
        width, height = opened.size
        jpeg = opened.format == "JPEG"
    pixels = shown.astype(np.float64) / 255.0
    luminance = pixels @ np.array([0.2126, 0.7152, 0.0722])
    return {
        "native_short_side": float(min(width, height)),
        "native_aspect": max(width, height) / min(width, height),
        "jpeg": float(jpeg),
        "bytes_per_pixel": source.stat().st_size / (width * height),
        "mean_red": float(pixels[..., 0].mean()),
        "mean_green": float(pixels[..., 1].mean()),
        "mean_blue": float(pixels[..., 2].mean()),
        "contrast": float(luminance.std()),
        "sharpness": float(np.abs(laplace(luminance)).mean()),
    }


def _cross_validated_auc(x: np.ndarray, arm: np.ndarray, seed: int) -> float:
    """The AUC of the out-of-fold probabilities of a standardised logistic regression, as `cross_val_predict` of that pipeline
    gives them, fold by fold here: its cloning and scheduling cost a quarter of the 585 fits of a permutation test."""
    folds = StratifiedKFold(n_splits=min(5, int(np.bincount(arm).min())), shuffle=True, random_state=seed)
    probability = np.empty(len(arm))
    for train, test in folds.split(x, arm):
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x[train]), arm[train])
        probability[test] = model.predict_proba(scaler.transform(x[test]))[:, 1]
    return float(roc_auc_score(arm, probability))


@dataclass(frozen=True)
class ArmSeparability:
    """How well trivial features predict the arm: cross-validated AUC per feature family and all together, and each
    feature's own AUC (0.5 = no information; below 0.5 is folded up: what matters is separation, not its sign)."""

    n_real: int
    n_synthetic: int
    auc: dict[str, float] = field(default_factory=dict)  # "all", "file traits", "shown pixels"
    feature_auc: dict[str, float] = field(default_factory=dict)
    note: str = ""  # why there is no check (too few images)
    p_value: float | None = None  # of the largest AUC under shuffled arms; None where not tested (below SEPARABLE_AUC, or older studies)

    @property
    def separable(self) -> bool:
        above = bool(self.auc) and max(self.auc.values()) > SEPARABLE_AUC
        return above and (self.p_value is None or self.p_value < ALPHA)

    def strongest(self, k: int = 3) -> list[tuple[str, float]]:
        names = {**FILE_FEATURES, **PIXEL_FEATURES}
        return [(names[f], a) for f, a in sorted(self.feature_auc.items(), key=lambda item: -item[1])[:k]]

    def sentence(self) -> str:
        """The warning, with its numbers (or why there is no check)."""
        if self.note:
            return f"Blinding check not made: {self.note}."
        families = ", ".join(f"{family} {auc:.2f}" for family, auc in self.auc.items() if family != "all")
        strongest = ", ".join(f"{name} {auc:.2f}" for name, auc in self.strongest())
        verdict = ("A trivial feature tells the arms apart" if self.separable else "No trivial feature tells the arms apart")
        tested = (f"; permutation p = {self.p_value:.2f} against chance ({PERMUTATIONS} shuffles of the arms)"
                  if self.p_value is not None else "")
        return (f"{verdict}: a logistic regression on file and pixel statistics predicts the arm with cross-validated AUC "
                f"{self.auc['all']:.2f} ({families}; above {SEPARABLE_AUC:.2f} is a warning; 0.50 is chance{tested}), "
                f"strongest single features: {strongest}.")

    def advice(self) -> str:
        if not self.separable:
            return ""
        if self.auc["file traits"] >= self.auc["shown pixels"]:
            return (" Readers may tell the arms by how the files were made rather than by realism: export both arms at similar "
                    "sizes and in one format (e.g. PNG from both, or JPEG at one quality).")
        return (" Readers may tell the arms by overall colour, contrast or sharpness alone: itself a realism finding about the "
                "generator, but it will dominate the readers' calls.")

    def to_json(self) -> dict:
        return asdict(self)


def arm_separability(features: dict[str, list[dict[str, float]]], seed: int = 0) -> ArmSeparability:
    """The check on ``features`` per arm ("real", "synthetic": lists of `trivial_features`)."""
    real, synthetic = features["real"], features["synthetic"]
    if min(len(real), len(synthetic)) < MIN_PER_ARM:
        return ArmSeparability(len(real), len(synthetic), note=f"fewer than {MIN_PER_ARM} images in an arm")
    names = [*FILE_FEATURES, *PIXEL_FEATURES]
    x = np.array([[image[name] for name in names] for image in [*real, *synthetic]])
    arm = np.r_[np.zeros(len(real), int), np.ones(len(synthetic), int)]
    feature_auc = {}
    for j, name in enumerate(names):
        auc = roc_auc_score(arm, x[:, j]) if np.ptp(x[:, j]) > 0 else 0.5
        feature_auc[name] = round(float(max(auc, 1 - auc)), 4)
    auc = _family_aucs(x, arm, names, seed)
    p_value = None
    if max(auc.values()) > SEPARABLE_AUC:  # chance or not: the largest AUC against its largest under shuffled arms
        rng = np.random.default_rng([seed, PERMUTATION_STREAM])
        # 585 tiny fits: BLAS threads only wait on each other, the more so on a busy server; the arrays were checked by the
        # fits above, so sklearn's checks of each call's arguments (a sixth of the time) are skipped: the same numbers.
        with threadpool_limits(1), config_context(assume_finite=True, skip_parameter_validation=True):
            null = [max(_family_aucs(x, rng.permutation(arm), names, seed).values()) for _ in range(PERMUTATIONS)]
        p_value = round((1 + sum(value >= max(auc.values()) for value in null)) / (PERMUTATIONS + 1), 4)
    # A cross-validated AUC below 0.5 is chance with noise, never "anti-separation": shown as 0.5 at least.
    return ArmSeparability(len(real), len(synthetic), {k: round(max(v, 0.5), 4) for k, v in auc.items()}, feature_auc,
                           p_value=p_value)


def _family_aucs(x: np.ndarray, arm: np.ndarray, names: list[str], seed: int) -> dict[str, float]:
    """The cross-validated AUC of all features together and of each family alone."""
    auc = {"all": _cross_validated_auc(x, arm, seed)}
    for family, members in FAMILIES.items():
        auc[family] = _cross_validated_auc(x[:, [names.index(m) for m in members]], arm, seed)
    return auc


def from_json(stored: dict) -> ArmSeparability:
    return ArmSeparability(**stored)
