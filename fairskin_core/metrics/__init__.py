"""Quality metrics of synthetic skin images: Inception features (FID, KID, IS), diversity, fidelity."""
