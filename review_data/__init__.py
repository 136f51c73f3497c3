"""The clinician review study: sampling and blinding, the SQLite store, statistics, export.

Built in issue 3 (the blinded visual Turing test); this package holds no code yet.
"""
