"""Skin colour as melanin and haemoglobin: optical density, and its calibration on annotated photographs."""
