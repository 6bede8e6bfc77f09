import FuseRankModel

/// One evaluation case: the request the server would receive for a user, and the item to find.
public struct EvaluationCase: Sendable {
    /// The dataset's user id (seeds the sampled negatives).
    public var user: Int
    /// The request: input events, optional text query, `exclude_seen`, `now_ms`.
    public var query: RankQuery
    /// The held-out item.
    public var target: Int64
    /// Every item of the user's history, target included (never drawn as a negative).
    public var history: Set<Int64>

    /// Creates a case.
    public init(user: Int, query: RankQuery, target: Int64, history: Set<Int64>) {
        self.user = user
        self.query = query
        self.target = target
        self.history = history
    }

    /// The leave-one-out cases of docs/evaluation.md (users with fewer than 3 events are left out).
    /// - Parameters:
    ///   - sequences: every user's events in order.
    ///   - target: `.test` (input = all but the last event) or `.val` (all but the last two).
    ///   - textQuery: the text tokens of a target (search mode), or nil for behaviour only.
    public static func leaveOneOut(
        _ sequences: [UserSequence], target: UserSequence.Target = .test,
        textQuery: ((Int64) -> [Int32])? = nil
    ) -> [EvaluationCase] {
        sequences.compactMap { s in
            guard let c = s.evaluationCase(target) else { return nil }
            let query = RankQuery(events: Array(c.input), textTokens: textQuery?(c.target) ?? [],
                                  excludeSeen: true, nowMs: c.nowMs)
            return EvaluationCase(user: s.user, query: query, target: c.target, history: Set(s.events.map(\.itemID)))
        }
    }
}
