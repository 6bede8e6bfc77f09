import CFuseRankProto

/// One ranked item of a ``RankReply``.
public struct ScoredItem: WireMessage {
    public static let protoName = "fuserank.v1.ScoredItem"

    /// The external item id.
    public var itemID: Int64
    /// The model's score (a logit; `sigmoid(score)` is the probability).
    public var score: Float

    public init(itemID: Int64 = 0, score: Float = 0) {
        self.itemID = itemID
        self.score = score
    }

    init(c: Fuserank__V1__ScoredItem) {
        self.init(itemID: c.item_id, score: c.score)
    }

    /// Fills an initialised C scored item.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__ScoredItem>) {
        fuserank__v1__scored_item__init(c)
        c.pointee.item_id = itemID
        c.pointee.score = score
    }

    public func encode() -> [UInt8] {
        var c = Fuserank__V1__ScoredItem()
        fill(&c)
        return packed(&c, size: fuserank__v1__scored_item__get_packed_size, pack: fuserank__v1__scored_item__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__scored_item__unpack, free: fuserank__v1__scored_item__free_unpacked
        ) { ScoredItem(c: $0.pointee) }
    }
}
