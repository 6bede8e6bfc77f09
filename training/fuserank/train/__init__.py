"""The trainer: training sequences and their cuts, the collated layout, the loss, the loop, and
the CLI (`python -m fuserank.train`)."""
