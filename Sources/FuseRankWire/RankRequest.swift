import CFuseRankProto

/// The request of `Rank`: a user's context, and what to rank.
public struct RankRequest: WireMessage {
    public static let protoName = "fuserank.v1.RankRequest"

    /// Behaviour sequence, oldest first; the model keeps the newest `max_events`.
    public var events: [Event]
    /// Text token ids from the model's vocab.txt (0 = padding, ignored).
    public var textTokens: [UInt32]
    /// Image embeddings, each of the model's `image_dim`.
    public var images: [Embedding]
    /// Items to rank; empty ranks the whole catalogue.
    public var candidates: [Int64]
    /// Items to return; 0 = all candidates, or the server's default for the catalogue.
    public var topK: UInt32
    /// Catalogue ranking only: leave out items already in `events`.
    public var excludeSeen: Bool
    /// Model name; empty = the server's default model.
    public var model: String
    /// Request time (Unix ms) for the time-since-last-event feature; 0 = unknown.
    public var nowMs: Int64
    /// Free text, tokenized by the server with the model's vocabulary and appended after `textTokens`.
    public var query: String
    /// Per-session prefix cache key; empty = no cache.
    public var sessionID: String
    /// Items never to return (catalogue ranking and candidates).
    public var excludeItems: [Int64]
    /// Catalogue ranking within these items only; not with `candidates`.
    public var restrictTo: [Int64]
    /// Reasons per returned item (`ScoredItem.reasons`), at most this many; 0 = none.
    public var explainEvents: UInt32

    public init(
        events: [Event] = [], textTokens: [UInt32] = [], images: [Embedding] = [], candidates: [Int64] = [],
        topK: UInt32 = 0, excludeSeen: Bool = false, model: String = "", nowMs: Int64 = 0, query: String = "",
        sessionID: String = "", excludeItems: [Int64] = [], restrictTo: [Int64] = [], explainEvents: UInt32 = 0
    ) {
        self.events = events
        self.textTokens = textTokens
        self.images = images
        self.candidates = candidates
        self.topK = topK
        self.excludeSeen = excludeSeen
        self.model = model
        self.nowMs = nowMs
        self.query = query
        self.sessionID = sessionID
        self.excludeItems = excludeItems
        self.restrictTo = restrictTo
        self.explainEvents = explainEvents
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__RankRequest()
        fuserank__v1__rank_request__init(&c)
        c.n_events = events.count
        c.events = arena.messages(Fuserank__V1__Event.self, count: events.count) { events[$0].fill($1) }
        c.n_text_tokens = textTokens.count
        c.text_tokens = arena.array(textTokens)
        c.n_images = images.count
        c.images = arena.messages(Fuserank__V1__Embedding.self, count: images.count) { images[$0].fill($1, arena: arena) }
        c.n_candidates = candidates.count
        c.candidates = arena.array(candidates)
        c.top_k = topK
        c.exclude_seen = cBool(excludeSeen)
        c.model = arena.string(model)
        c.now_ms = nowMs
        c.query = arena.string(query)
        c.session_id = arena.string(sessionID)
        c.n_exclude_items = excludeItems.count
        c.exclude_items = arena.array(excludeItems)
        c.n_restrict_to = restrictTo.count
        c.restrict_to = arena.array(restrictTo)
        c.explain_events = explainEvents
        return packed(&c, size: fuserank__v1__rank_request__get_packed_size, pack: fuserank__v1__rank_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__rank_request__unpack, free: fuserank__v1__rank_request__free_unpacked
        ) { p in
            let c = p.pointee
            return RankRequest(
                events: swiftMessages(c.events, c.n_events, Event.init(c:)),
                textTokens: swiftArray(c.text_tokens, c.n_text_tokens),
                images: swiftMessages(c.images, c.n_images, Embedding.init(c:)),
                candidates: swiftArray(c.candidates, c.n_candidates),
                topK: c.top_k, excludeSeen: c.exclude_seen != 0, model: swiftString(c.model),
                nowMs: c.now_ms, query: swiftString(c.query), sessionID: swiftString(c.session_id),
                excludeItems: swiftArray(c.exclude_items, c.n_exclude_items), restrictTo: swiftArray(c.restrict_to, c.n_restrict_to),
                explainEvents: c.explain_events)
        }
    }
}
