"""Making images: backends over fairskin's and Stable Diffusion models, planned resumable sets, `fairskin generate`,
the Generate tab's run folders, and tone transfer."""
