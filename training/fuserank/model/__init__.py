"""The reference model of docs/model-format.md: its config, the text tokenizer, request -> tokens,
the transformer, serving's scoring (ranking) and explanations."""
