/// What a ``RankQuery``'s scores mean (the wire's `RankRequest.objective`).
public enum RankObjective: Sendable, Equatable {
    /// Next-item scores `u · item_emb + item_bias` (plus the repeat bonus): the default.
    case nextItem
    /// The probability in [0, 1] that the user buys the item within the model's horizon
    /// (docs/model-format.md "Purchase head"); needs a bundle with `purchase.safetensors`.
    case purchase
}
