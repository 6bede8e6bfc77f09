/// One user's events in time order, as the evaluation splits use them.
public struct UserSequence: Sendable, Equatable {
    /// The dataset's user id.
    public var user: Int
    /// Events, oldest first.
    public var events: [BehaviourEvent]

    /// Creates a sequence.
    public init(user: Int, events: [BehaviourEvent]) {
        self.user = user
        self.events = events
    }

    /// The leave-last-out test case: every event but the last as input, the last item as target.
    ///
    /// `nowMs` is the target's timestamp (0 when the dataset has none).
    /// - Returns: nil for a user with fewer than 2 events.
    public func testCase() -> (input: [BehaviourEvent], target: Int64, nowMs: Int64)? {
        guard events.count >= 2, let last = events.last else { return nil }
        return (Array(events.dropLast()), last.itemID, max(0, last.timestampMs))
    }

    /// The training part of the split: every event but the last two (validation and test targets).
    public var trainingEvents: ArraySlice<BehaviourEvent> { events.dropLast(2) }
}
