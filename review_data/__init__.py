"""The clinician review study: a blinded visual Turing test of synthetic against real images.

Sampling and blinding (`sampling`, `blinding`, `study`), the SQLite store (`schema`, `store`,
`accounts`), the reviewer's session (`session`), statistics (`stats`, `figures`) and export
(`export`). A library: it never imports the app.
"""
