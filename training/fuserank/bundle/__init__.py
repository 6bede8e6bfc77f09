"""A bundle on disk: export and load, the model card, items.tsv, the versioned repository, ONNX."""
