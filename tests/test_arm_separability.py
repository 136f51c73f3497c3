"""The blinding check's regressions (`review_data.arm_separability`) against scikit-learn's own cross-validation.

What the check finds and says is tested with the studies it is made for, in test_review_store.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from review_data.arm_separability import FILE_FEATURES, PIXEL_FEATURES, _cross_validated_auc


def test_the_blinding_checks_folds_give_the_auc_of_sklearns_cross_val_predict():
    """The check fits its folds itself, without `cross_val_predict`'s cloning and scheduling: the same AUC, bit for bit."""
    rng = np.random.default_rng(0)
    for seed, (n_real, n_synthetic) in enumerate(((8, 8), (20, 20), (5, 13), (50, 50))):
        x = rng.normal(size=(n_real + n_synthetic, len(FILE_FEATURES) + len(PIXEL_FEATURES)))
        arm = rng.permutation(np.r_[np.zeros(n_real, int), np.ones(n_synthetic, int)])
        x[arm == 1, seed] += 0.8  # one feature tells the arms apart a little
        folds = StratifiedKFold(n_splits=min(5, n_real, n_synthetic), shuffle=True, random_state=seed)
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        expected = roc_auc_score(arm, cross_val_predict(pipeline, x, arm, cv=folds, method="predict_proba")[:, 1])
        assert _cross_validated_auc(x, arm, seed) == expected
