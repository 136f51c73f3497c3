"""The dermoscopic colours, shared by the phantom renderer (which paints them) and the ABCD analysis (which finds them)."""

DERMOSCOPIC_COLOURS = ("light_brown", "dark_brown", "black", "blue_grey", "red", "white")
# A colour counts as present when it covers at least this share of the lesion.
PRESENT_FRACTION = 0.03
