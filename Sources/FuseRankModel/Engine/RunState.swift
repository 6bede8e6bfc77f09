import CFuseRankKernels

/// The scratch of one ``Ranker`` (llama2.c's `RunState`): every buffer a forward pass and its
/// scoring write, allocated once, each with one meaning for the whole pass.
///
/// Shapes use `T = max(maxBatch * maxSequenceLength, D)` (every token of a full batch, requests
/// concatenated, or every row the deletions of one explained request recompute), `R = 2 * max(maxBatch, V)` (the read-out rows: one `[RANK]` and one newest-event
/// row per request or deletion), `B = maxBatch`, `N = num_items`, `S = maxSequenceLength`,
/// `L = n_layers`, `V = Explainer.maxDeletions` (the deletions of one explained request) and
/// `D = Explainer.budgetRows` (the token rows they recompute, all together). `keys` and `values`
/// hold `maxBatch * maxSequenceLength` rows per layer.
/// Not `Sendable`: it belongs to the ranker's thread.
final class RunState {
    // Every token (layers 0 ..< L-1).
    let x: UnsafeMutablePointer<Float>          // (T, d_model) residual stream
    let xn: UnsafeMutablePointer<Float>         // (T, d_model) norm1(x): the attention input
    let q: UnsafeMutablePointer<Float>          // (T, d_model) queries
    let keys: UnsafeMutablePointer<Float>       // (L, B * S, d_model) keys of every layer (kept: explanations reuse them)
    let values: UnsafeMutablePointer<Float>     // (L, B * S, d_model) values of every layer (likewise)
    let att: UnsafeMutablePointer<Float>        // (T, d_model) attention output, heads concatenated
    let h: UnsafeMutablePointer<Float>          // (T, d_model) a sublayer's output before it joins the residual
    let hn: UnsafeMutablePointer<Float>         // (T, d_model) norm2(x): the feed-forward input
    let hidden: UnsafeMutablePointer<Float>     // (T, d_ff) feed-forward hidden layer
    let scores: UnsafeMutablePointer<Float>     // (S, S) attention scores of one request and head
    let imageIn: UnsafeMutablePointer<Float>    // (max_images, image_dim) one request's images
    // The read-out rows through the last layer.
    let readX: UnsafeMutablePointer<Float>      // (R, d_model) residual stream of the read-out rows
    let readN: UnsafeMutablePointer<Float>      // (R, d_model) norm1(readX)
    let readQ: UnsafeMutablePointer<Float>      // (R, d_model) their queries
    let readAtt: UnsafeMutablePointer<Float>    // (R, d_model) their attention output
    let readH: UnsafeMutablePointer<Float>      // (R, d_model) a sublayer's output before it joins readX
    let readHn: UnsafeMutablePointer<Float>     // (R, d_model) norm2(readX)
    // The outputs.
    let users: UnsafeMutablePointer<Float>      // (B, d_model) user vectors, request order
    let catalogueUsers: UnsafeMutablePointer<Float>  // (B, d_model) the user vectors of catalogue requests, gathered
    let catalogue: UnsafeMutablePointer<Float>  // (B, N - 2) catalogue scores, column j = row j + 2 (approximate on the int8 path); (1,) in a fused bundle's member
    let candidateScores: UnsafeMutablePointer<Float>  // (N,) exact scores of candidates (by row) or of the int8 shortlist (by column)
    let quantizedUsers: UnsafeMutablePointer<Int8>  // (B, ceil(d_model / 4) * 4) catalogue users in int8 (int8 path)
    let userScales: UnsafeMutablePointer<Float>      // (B,) their scales
    let shortlist: UnsafeMutablePointer<Int32>       // (B, maxShortlist) int8 path: each user's best approximate columns
    let shortlistScores: UnsafeMutablePointer<Float> // (B, maxShortlist) their approximate scores
    let chunk: UnsafeMutablePointer<Float>           // (B, FR_INT8_CHUNK_ROWS) int8 path: scores of one step
    // Token layout and selection.
    let offsets: UnsafeMutablePointer<Int>      // (B,) first token row of each request
    let lengths: UnsafeMutablePointer<Int>      // (B,) tokens of each request
    let newest: UnsafeMutablePointer<Int>       // (B,) kept events, whose newest is read out (0 = none)
    let order: UnsafeMutablePointer<Int32>      // (N,) selection: the rows (or columns) in play
    let mark: UnsafeMutablePointer<UInt8>       // (N,) seen / duplicate marks, all zero between uses
    // Explanations (Scorer+Explain.swift, UserEncoder+Deletions.swift): the deletions of one
    // request, run as one ragged batch of the token rows they change, in x ... hidden (rows 0 ..< D).
    let deletionTokens: UnsafeMutablePointer<Float>  // (S, d_model) every token of one deletion, embedded
    let deletionK: UnsafeMutablePointer<Float>  // (D, d_model) keys of the recomputed rows (this layer)
    let deletionV: UnsafeMutablePointer<Float>  // (D, d_model) values of the recomputed rows (this layer)
    let deletionScores: UnsafeMutablePointer<Float>  // (max(D, R), S) attention scores of the recomputed (or read-out) rows, one head
    let deletionUsers: UnsafeMutablePointer<Float>  // (V, d_model) the user vector of each deletion

    /// Owns every buffer above.
    private let scratch: Scratch
    /// The bytes of every buffer above.
    var bytes: Int { scratch.bytes }

    /// Allocates (and zeroes) the scratch for `maxBatch` requests of `config`: each buffer with
    /// the shape its field states.
    /// - Parameter scoresCatalogue: false for a fused bundle's member, which writes its catalogue
    ///   scores into the bundle's own `catalogue`: its own is then one element, never written.
    init(config c: ModelConfig, maxBatch: Int, scoresCatalogue: Bool = true) {
        let d = c.dModel
        let s = c.maxSequenceLength
        let budget = Explainer.budgetRows(c)                  // D
        let t = max(maxBatch * s, budget)                     // T
        let deletions = Explainer.maxDeletions(c)             // V
        let r = 2 * max(maxBatch, deletions)                  // R
        let layers = c.nLayers                                // L
        let n = c.numItems                                    // N
        let scratch = Scratch()
        self.scratch = scratch
        x = scratch.buffer(t * d)
        xn = scratch.buffer(t * d)
        q = scratch.buffer(t * d)
        keys = scratch.buffer(layers * maxBatch * s * d)
        values = scratch.buffer(layers * maxBatch * s * d)
        att = scratch.buffer(t * d)
        h = scratch.buffer(t * d)
        hn = scratch.buffer(t * d)
        hidden = scratch.buffer(t * c.dFF)
        scores = scratch.buffer(s * s)
        imageIn = scratch.buffer(c.maxImages * c.imageDim)
        readX = scratch.buffer(r * d)
        readN = scratch.buffer(r * d)
        readQ = scratch.buffer(r * d)
        readAtt = scratch.buffer(r * d)
        readH = scratch.buffer(r * d)
        readHn = scratch.buffer(r * d)
        users = scratch.buffer(maxBatch * d)
        catalogueUsers = scratch.buffer(maxBatch * d)
        catalogue = scratch.buffer(scoresCatalogue ? maxBatch * (n - 2) : 0)
        candidateScores = scratch.buffer(n)
        quantizedUsers = scratch.buffer(maxBatch * (d + 3) / 4 * 4)
        userScales = scratch.buffer(maxBatch)
        shortlist = scratch.buffer(maxBatch * Scorer.maxShortlist)
        shortlistScores = scratch.buffer(maxBatch * Scorer.maxShortlist)
        chunk = scratch.buffer(maxBatch * Int(FR_INT8_CHUNK_ROWS))
        offsets = scratch.buffer(maxBatch)
        lengths = scratch.buffer(maxBatch)
        newest = scratch.buffer(maxBatch)
        order = scratch.buffer(n)
        mark = scratch.buffer(n)
        deletionTokens = scratch.buffer(s * d)
        deletionK = scratch.buffer(budget * d)
        deletionV = scratch.buffer(budget * d)
        deletionScores = scratch.buffer(max(budget, r) * s)
        deletionUsers = scratch.buffer(deletions * d)
    }
}
