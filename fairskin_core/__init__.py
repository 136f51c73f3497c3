"""fairskin core library: manifests, importers, phantoms and (later) analysis, generation and metrics.

Nothing in here imports the Gradio app: the app and the CLI are thin layers on top.
"""

__version__ = "0.1.0"
