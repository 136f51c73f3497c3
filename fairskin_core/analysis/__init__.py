"""Measuring images: healthy skin and its ITA / Fitzpatrick type, lesion segmentation and ABCD features."""
