import CFuseRankProto

/// The reply of `Rank`.
public struct RankReply: WireMessage {
    public static let protoName = "fuserank.v1.RankReply"

    /// Highest score first, at most `top_k`.
    public var items: [ScoredItem]
    /// The model that ranked (its name).
    public var model: String
    /// That model's version.
    public var modelVersion: String
    /// Candidate ids the model does not know, in request order; they are not scored.
    public var unknownCandidates: [Int64]
    /// Candidates hidden by `SetItemsAvailable`, in request order; they are not scored.
    public var unavailableCandidates: [Int64]

    public init(items: [ScoredItem] = [], model: String = "", modelVersion: String = "", unknownCandidates: [Int64] = [],
                unavailableCandidates: [Int64] = []) {
        self.items = items
        self.model = model
        self.modelVersion = modelVersion
        self.unknownCandidates = unknownCandidates
        self.unavailableCandidates = unavailableCandidates
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__RankReply()
        fuserank__v1__rank_reply__init(&c)
        c.n_items = items.count
        c.items = arena.messages(Fuserank__V1__ScoredItem.self, count: items.count) { items[$0].fill($1, arena: arena) }
        c.model = arena.string(model)
        c.model_version = arena.string(modelVersion)
        c.n_unknown_candidates = unknownCandidates.count
        c.unknown_candidates = arena.array(unknownCandidates)
        c.n_unavailable_candidates = unavailableCandidates.count
        c.unavailable_candidates = arena.array(unavailableCandidates)
        return packed(&c, size: fuserank__v1__rank_reply__get_packed_size, pack: fuserank__v1__rank_reply__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__rank_reply__unpack, free: fuserank__v1__rank_reply__free_unpacked
        ) { p in
            let c = p.pointee
            return RankReply(
                items: swiftMessages(c.items, c.n_items, ScoredItem.init(c:)),
                model: swiftString(c.model), modelVersion: swiftString(c.model_version),
                unknownCandidates: swiftArray(c.unknown_candidates, c.n_unknown_candidates),
                unavailableCandidates: swiftArray(c.unavailable_candidates, c.n_unavailable_candidates))
        }
    }
}
