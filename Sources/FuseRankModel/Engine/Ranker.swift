/// One per worker thread: runs the batched forward pass and scoring of a shared ``ModelBundle``.
///
/// The scratch arena is allocated once in `init`, sized for `maxBatch` requests of the longest
/// token sequence (`max_events + max_text_tokens + max_images + 1`), so the forward pass does not
/// allocate. Not `Sendable`: the arena belongs to one thread.
public final class Ranker {
    /// The model this ranker runs.
    public let bundle: ModelBundle
    /// The most queries one call may carry.
    public let maxBatch: Int

    let config: ModelConfig
    let weights: ModelWeights

    // The arena: one allocation of floats, carved into the buffers below.
    private let arena: UnsafeMutablePointer<Float>
    let x: UnsafeMutablePointer<Float>         // (maxTokens, d_model) residual stream, requests concatenated
    let xn: UnsafeMutablePointer<Float>        // (maxTokens, d_model) normalised / projected
    let q: UnsafeMutablePointer<Float>         // (maxTokens, d_model)
    let k: UnsafeMutablePointer<Float>         // (maxTokens, d_model)
    let v: UnsafeMutablePointer<Float>         // (maxTokens, d_model)
    let att: UnsafeMutablePointer<Float>       // (maxTokens, d_model) attention output, heads concatenated
    let ff: UnsafeMutablePointer<Float>        // (maxTokens, d_ff)
    let scores: UnsafeMutablePointer<Float>    // (maxSeq, maxSeq) attention scores of one head
    let imageIn: UnsafeMutablePointer<Float>   // (max_images, image_dim) one request's images
    let rankX: UnsafeMutablePointer<Float>     // (2 maxBatch, d_model) read-out rows through the last layer
    let rankN: UnsafeMutablePointer<Float>     // (2 maxBatch, d_model)
    let users: UnsafeMutablePointer<Float>     // (maxBatch, d_model) user vectors
    let catalogue: UnsafeMutablePointer<Float> // (maxBatch, num_items - 2) catalogue scores
    let candidateScores: UnsafeMutablePointer<Float>  // (num_items,) candidate scores by row
    private let intArena: UnsafeMutablePointer<Int>
    let offsets: UnsafeMutablePointer<Int>     // (maxBatch,) first token row of each request
    let lengths: UnsafeMutablePointer<Int>     // (maxBatch,) tokens of each request
    let newest: UnsafeMutablePointer<Int>      // (maxBatch,) kept events whose newest is read out (0 = none)
    let order: UnsafeMutablePointer<Int32>     // (num_items,) selection scratch
    let mark: UnsafeMutablePointer<UInt8>      // (num_items,) seen / duplicate marks, kept all-zero between uses

    /// Creates a ranker and its scratch arena.
    /// - Parameters:
    ///   - bundle: the loaded model.
    ///   - maxBatch: the most queries one ``rank(_:)`` call may carry (at least 1).
    public init(bundle: ModelBundle, maxBatch: Int) {
        BLAS.applyDefault()
        self.bundle = bundle
        self.maxBatch = max(1, maxBatch)
        self.config = bundle.config
        self.weights = bundle.weights
        let c = bundle.config
        let d = c.dModel
        let maxSeq = c.maxSequenceLength
        let maxTokens = self.maxBatch * maxSeq
        let sizes = [
            maxTokens * d, maxTokens * d, maxTokens * d, maxTokens * d, maxTokens * d, maxTokens * d,
            maxTokens * c.dFF, maxSeq * maxSeq, max(1, c.maxImages * c.imageDim),
            2 * self.maxBatch * d, 2 * self.maxBatch * d, self.maxBatch * d,
            self.maxBatch * (c.numItems - 2), c.numItems,
        ]
        arena = .allocate(capacity: sizes.reduce(0, +))
        arena.initialize(repeating: 0, count: sizes.reduce(0, +))
        var cursor = arena
        func carve(_ i: Int) -> UnsafeMutablePointer<Float> {
            defer { cursor += sizes[i] }
            return cursor
        }
        x = carve(0); xn = carve(1); q = carve(2); k = carve(3); v = carve(4); att = carve(5)
        ff = carve(6); scores = carve(7); imageIn = carve(8)
        rankX = carve(9); rankN = carve(10); users = carve(11)
        catalogue = carve(12); candidateScores = carve(13)
        intArena = .allocate(capacity: 3 * self.maxBatch)
        intArena.initialize(repeating: 0, count: 3 * self.maxBatch)
        offsets = intArena
        lengths = intArena + self.maxBatch
        newest = intArena + 2 * self.maxBatch
        order = .allocate(capacity: c.numItems)
        order.initialize(repeating: 0, count: c.numItems)
        mark = .allocate(capacity: c.numItems)
        mark.initialize(repeating: 0, count: c.numItems)
    }

    deinit {
        arena.deallocate()
        intArena.deallocate()
        order.deallocate()
        mark.deallocate()
    }

    /// Ranks up to ``maxBatch`` queries in one batched forward pass.
    /// - Parameter queries: the decoded requests (each should have passed ``ModelBundle/validate(_:)``).
    /// - Returns: one result per query, in query order.
    /// - Throws: ``InputError`` for an invalid query or a batch larger than ``maxBatch``.
    public func rank(_ queries: [RankQuery]) throws -> [RankResult] {
        try check(queries)
        guard !queries.isEmpty else { return [] }
        encode(queries)
        if queries.contains(where: { $0.objective == .purchase }) { return scoreWithPurchase(queries) }  // Ranker+Purchase
        return score(queries)
    }

    /// The user vectors (final_norm of `[RANK]`) of the queries.
    /// - Parameter queries: up to ``maxBatch`` requests.
    /// - Returns: row-major `(count, d_model)`.
    /// - Throws: ``InputError`` as ``rank(_:)``.
    public func userVectors(_ queries: [RankQuery]) throws -> [Float] {
        try check(queries)
        guard !queries.isEmpty else { return [] }
        encode(queries)
        return Array(UnsafeBufferPointer(start: users, count: queries.count * config.dModel))
    }

    /// The served scores of every catalogue row (2 ..< num_items) for each query (the repeat
    /// head's bonus included, format_version 3), nothing excluded.
    /// - Parameter queries: up to ``maxBatch`` requests (their candidates are ignored).
    /// - Returns: row-major `(count, catalogueSize)`; column j is catalogue row j + 2.
    /// - Throws: ``InputError`` as ``rank(_:)``.
    public func catalogueScores(_ queries: [RankQuery]) throws -> [Float] {
        try check(queries)
        guard !queries.isEmpty else { return [] }
        encode(queries)
        scoreCatalogue(users, count: queries.count)
        for (b, query) in queries.enumerated() {
            addRepeatBonuses(query, user: users + b * config.dModel, catalogueScores: catalogue + b * bundle.catalogueSize)
        }
        return Array(UnsafeBufferPointer(start: catalogue, count: queries.count * bundle.catalogueSize))
    }

    private func check(_ queries: [RankQuery]) throws {
        guard queries.count <= maxBatch else {
            throw InputError.batchTooLarge(count: queries.count, maxBatch: maxBatch)
        }
        for query in queries { try bundle.validate(query) }
    }
}
