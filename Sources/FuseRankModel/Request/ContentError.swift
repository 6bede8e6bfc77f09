/// Item content (`UpsertItems`) the model cannot project. The server maps ``noProjection(model:)``
/// to FAILED_PRECONDITION and every other case to INVALID_ARGUMENT, with ``description`` as the
/// status message.
public enum ContentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bundle has no `content.safetensors`.
    case noProjection(model: String)
    /// A text token id outside `1 ..< text_vocab_size` (0 is padding and allowed).
    case textToken(index: Int, id: Int64, vocabSize: Int)
    /// A content vector whose length is not `content_dim` (an empty vector means zeros).
    case vectorLength(count: Int, expected: Int)
    /// A NaN or infinite value in the content vector.
    case vectorValue(position: Int)

    /// A readable message.
    public var description: String {
        switch self {
        case let .noProjection(model):
            return "model \(model) has no content projection (no content.safetensors in its bundle)"
        case let .textToken(index, id, vocabSize):
            return "text_tokens[\(index)] is \(id); the model's vocabulary has ids 1..<\(vocabSize) (0 is padding)"
        case let .vectorLength(count, expected):
            return "content_vector has \(count) values, the model takes \(expected) (content_dim) or none"
        case let .vectorValue(position):
            return "content_vector[\(position)] is not finite"
        }
    }
}
