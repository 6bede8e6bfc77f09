"""Continuous training: keep a repository model current (`python -m fuserank.update`), and the
protocol that measures it week by week (`python -m fuserank.update.protocol`)."""
