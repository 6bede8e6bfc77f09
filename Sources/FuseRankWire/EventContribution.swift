import CFuseRankProto

/// One reason of a ``ScoredItem``: an event of the request and how much it raised the item's score.
public struct EventContribution: WireMessage {
    public static let protoName = "fuserank.v1.EventContribution"

    /// 0-based index in the request's `events` as sent (truncated events never appear).
    public var eventIndex: UInt32
    /// The item's score minus its score without that event (logit units; > 0).
    public var weight: Float

    public init(eventIndex: UInt32 = 0, weight: Float = 0) {
        self.eventIndex = eventIndex
        self.weight = weight
    }

    init(c: Fuserank__V1__EventContribution) {
        self.init(eventIndex: c.event_index, weight: c.weight)
    }

    /// Fills an initialised C reason.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__EventContribution>) {
        fuserank__v1__event_contribution__init(c)
        c.pointee.event_index = eventIndex
        c.pointee.weight = weight
    }

    public func encode() -> [UInt8] {
        var c = Fuserank__V1__EventContribution()
        fill(&c)
        return packed(&c, size: fuserank__v1__event_contribution__get_packed_size, pack: fuserank__v1__event_contribution__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__event_contribution__unpack, free: fuserank__v1__event_contribution__free_unpacked
        ) { EventContribution(c: $0.pointee) }
    }
}
