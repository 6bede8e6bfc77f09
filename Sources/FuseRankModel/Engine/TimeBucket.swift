/// The time-gap buckets of docs/model-format.md (integer arithmetic only).
enum TimeBucket {
    /// Bucket of a token with no usable timestamp.
    static let none = 0
    /// Bucket of the first event of a request.
    static let first = 1

    /// `2 + min(B - 3, bit_length(floor(max(0, dtMs) / 1000)))`.
    static func of(gapMs dtMs: Int64, buckets: Int) -> Int {
        let seconds = UInt64(max(0, dtMs) / 1000)
        let bitLength = 64 - seconds.leadingZeroBitCount
        return 2 + min(buckets - 3, bitLength)
    }

    /// The bucket of event `i` of `events` (all events of the request, before truncation).
    static func ofEvent(_ i: Int, in events: [BehaviourEvent], buckets: Int) -> Int {
        let ts = events[i].timestampMs
        if ts <= 0 { return none }
        if i == 0 { return first }
        let previous = events[i - 1].timestampMs
        if previous <= 0 { return none }
        return of(gapMs: ts - previous, buckets: buckets)
    }

    /// The bucket of the `[RANK]` token: the gap from the last event to the request time.
    static func ofRank(events: [BehaviourEvent], nowMs: Int64, buckets: Int) -> Int {
        guard let last = events.last, nowMs > 0, last.timestampMs > 0 else { return none }
        return of(gapMs: nowMs - last.timestampMs, buckets: buckets)
    }
}
