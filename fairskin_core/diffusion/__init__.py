"""fairskin's FST × diagnosis conditioned diffusion model: its UNet, pipeline, sampling schedulers and model folders."""
