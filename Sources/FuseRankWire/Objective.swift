import CFuseRankProto

/// What `RankRequest.objective` asks the scores to mean (`fuserank.v1.Objective`).
///
/// A struct rather than an enum so that numbers outside the known values survive decoding: the
/// server must see them to reject them with INVALID_ARGUMENT.
public struct Objective: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The number on the wire.
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `OBJECTIVE_NEXT_ITEM` (0): next-item scores, the default.
    public static let nextItem = Objective(rawValue: 0)
    /// `OBJECTIVE_PURCHASE` (1): purchase probabilities in [0, 1].
    public static let purchase = Objective(rawValue: 1)

    /// The proto name, or the number for a value this version does not know.
    public var description: String {
        switch rawValue {
        case 0: return "OBJECTIVE_NEXT_ITEM"
        case 1: return "OBJECTIVE_PURCHASE"
        default: return "Objective(\(rawValue))"
        }
    }
}
