/// A ``RankQuery`` that ``ModelBundle/validate(_:)`` accepted: the only input a ``Ranker`` takes.
///
/// Nothing outside this library can make one, so a query reaches the encoder validated exactly
/// once, and only by the bundle whose ranker runs it.
public struct ValidatedQuery: Sendable {
    /// The query as validated.
    public let query: RankQuery
    /// The bundle that validated it.
    let bundle: ObjectIdentifier

    init(_ query: RankQuery, bundle: ModelBundle) {
        self.query = query
        self.bundle = ObjectIdentifier(bundle)
    }
}
