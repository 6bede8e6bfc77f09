import FuseRankModel

/// One user's events in time order, as the evaluation splits of docs/evaluation.md use them.
public struct UserSequence: Sendable, Equatable {
    /// Which held-out event a case predicts.
    public enum Target: String, Sendable, CaseIterable {
        /// The last event; input = every event but the last.
        case test
        /// The second last event; input = every event but the last two.
        case val
    }

    /// The dataset's user id.
    public var user: Int
    /// Events, oldest first.
    public var events: [BehaviourEvent]

    /// Creates a sequence.
    public init(user: Int, events: [BehaviourEvent]) {
        self.user = user
        self.events = events
    }

    /// The leave-one-out case: the input events, the target item and `now_ms` (the target's timestamp, 0 if none).
    /// - Returns: nil for a user with fewer than 3 events (left out of evaluation).
    public func evaluationCase(_ target: Target = .test) -> (input: ArraySlice<BehaviourEvent>, target: Int64, nowMs: Int64)? {
        guard events.count >= 3 else { return nil }
        let n = events.count - (target == .test ? 1 : 2)
        return (events[..<n], events[n].itemID, max(0, events[n].timestampMs))
    }

    /// The training part of the split: every event but the last two (validation and test targets).
    public var trainingEvents: ArraySlice<BehaviourEvent> { events.dropLast(2) }
}
