/// Why a request cannot be ranked.
///
/// The server maps every case to INVALID_ARGUMENT and uses ``description`` as the status message.
public enum InputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An event type outside `0 ..< limit`.
    case eventType(index: Int, type: Int32, limit: Int)
    /// A text token id that is negative or `>= vocabSize` (Int64: a wire id may not fit Int32).
    case textToken(index: Int, id: Int64, vocabSize: Int)
    /// The request carries images but the model takes none (`image_dim == 0`).
    case imagesNotAccepted(count: Int)
    /// An image whose length is not `image_dim`.
    case imageLength(index: Int, count: Int, expected: Int)
    /// An image value that is NaN or infinite.
    case imageValue(index: Int, position: Int)
    /// A negative `top_k`.
    case negativeTopK(Int)
    /// `restrict_to` together with `candidates`.
    case restrictWithCandidates
    /// `explain_events` outside `0 ... limit`.
    case explainEvents(Int, limit: Int)
    /// `explain_events > 0` for a fused bundle, whose ranking has no per-event reasons.
    case explainFused(members: Int)

    /// A readable message naming the offending field.
    public var description: String {
        switch self {
        case let .eventType(index, type, limit):
            return "events[\(index)] has type \(type), the model takes 0..<\(limit)"
        case let .textToken(index, id, vocabSize):
            return "text_tokens[\(index)] is \(id), the vocabulary has ids 0..<\(vocabSize)"
        case let .imagesNotAccepted(count):
            return "the request has \(count) image(s), this model takes no images"
        case let .imageLength(index, count, expected):
            return "images[\(index)] has \(count) values, the model takes \(expected)"
        case let .imageValue(index, position):
            return "images[\(index)][\(position)] is not a finite number"
        case let .negativeTopK(k):
            return "top_k is \(k), expected >= 0"
        case .restrictWithCandidates:
            return "restrict_to applies to catalogue ranking; with candidates, send only the allowed candidates"
        case let .explainEvents(k, limit):
            return "explain_events is \(k), at most \(limit) are allowed"
        case let .explainFused(members):
            return "explain_events: this model fuses \(members) members and gives no reasons; send explain_events = 0"
        }
    }
}
