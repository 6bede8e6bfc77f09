"""The data layer: interaction and item-metadata readers, presets, splits, layout sniffing, the
purchase-probability pairs and the synthetic fusion tasks."""
