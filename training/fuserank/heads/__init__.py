"""Heads on the encoder: the repeat head in training, the purchase head, the content projection."""
