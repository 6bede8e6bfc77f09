import CFuseRankProto

/// One ranked item of a ``RankReply``.
public struct ScoredItem: WireMessage {
    public static let protoName = "fuserank.v1.ScoredItem"

    /// The external item id.
    public var itemID: Int64
    /// The model's score (a logit; `sigmoid(score)` is the probability).
    public var score: Float
    /// The events that raised the score, strongest first; empty unless the request set
    /// `explain_events`.
    public var reasons: [EventContribution]

    public init(itemID: Int64 = 0, score: Float = 0, reasons: [EventContribution] = []) {
        self.itemID = itemID
        self.score = score
        self.reasons = reasons
    }

    init(c: Fuserank__V1__ScoredItem) {
        self.init(itemID: c.item_id, score: c.score, reasons: swiftMessages(c.reasons, c.n_reasons, EventContribution.init(c:)))
    }

    /// Fills an initialised C scored item; its reasons live in `arena`.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__ScoredItem>, arena: CArena) {
        fuserank__v1__scored_item__init(c)
        c.pointee.item_id = itemID
        c.pointee.score = score
        c.pointee.n_reasons = reasons.count
        c.pointee.reasons = arena.messages(Fuserank__V1__EventContribution.self, count: reasons.count) { reasons[$0].fill($1) }
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__ScoredItem()
        fill(&c, arena: arena)
        return packed(&c, size: fuserank__v1__scored_item__get_packed_size, pack: fuserank__v1__scored_item__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__scored_item__unpack, free: fuserank__v1__scored_item__free_unpacked
        ) { ScoredItem(c: $0.pointee) }
    }
}
