/// A request the model cannot answer as asked (the server maps it to FAILED_PRECONDITION).
public enum ObjectiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `OBJECTIVE_PURCHASE` for a model whose bundle has no `purchase.safetensors`.
    case noPurchaseHead(model: String)

    /// A readable message.
    public var description: String {
        switch self {
        case let .noPurchaseHead(model):
            return "model '\(model)' has no purchase head (no purchase.safetensors in its bundle): "
                + "it answers OBJECTIVE_NEXT_ITEM only"
        }
    }
}
