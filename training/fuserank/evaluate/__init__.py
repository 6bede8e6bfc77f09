"""The evaluation protocols of docs/evaluation.md and the CLI (`python -m fuserank.evaluate`)."""
