"""The Fitzpatrick skin type of an image: a learned estimator (EfficientNet-Lite0, an ordinal head), its training, its use on manifests."""
