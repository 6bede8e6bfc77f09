/// The scratch of one ``Forecaster`` (llama2.c's `RunState`): every buffer its forward pass
/// writes, allocated once, each with one meaning for the whole pass.
///
/// Shapes use `N = maxSeries` (the series of one pass), `T` tokens per series (`C/P + H/P`),
/// `R = N * T` (the most token rows of a pass, series after series), `U = N * H/P` (the future tokens),
/// `F = 3P + 11` features and `O = P(1+Q)` head outputs per token.
/// Not `Sendable`: it belongs to the forecaster's thread.
final class ForecastState {
    let features: UnsafeMutablePointer<Float>   // (R, F) token features
    let x: UnsafeMutablePointer<Float>          // (R, d_model) residual stream
    let xn: UnsafeMutablePointer<Float>         // (R, d_model) norm1(x) or norm2(x): a sublayer's input
    let q: UnsafeMutablePointer<Float>          // (R, d_model) queries
    let k: UnsafeMutablePointer<Float>          // (R, d_model) keys
    let v: UnsafeMutablePointer<Float>          // (R, d_model) values
    let att: UnsafeMutablePointer<Float>        // (R, d_model) attention output, heads concatenated
    let h: UnsafeMutablePointer<Float>          // (R, d_model) a sublayer's output before it joins x
    let hidden: UnsafeMutablePointer<Float>     // (R, d_ff) feed-forward hidden layer
    let keysT: UnsafeMutablePointer<Float>      // (d_model, T) one series' keys, transposed
    let scores: UnsafeMutablePointer<Float>     // (T,) attention scores of one query and head
    let future: UnsafeMutablePointer<Float>     // (U, d_model) norm(x) of the future tokens
    let head: UnsafeMutablePointer<Float>       // (U, O) head outputs: per period, the mean's logit, then Q quantile logits
    let scales: UnsafeMutablePointer<Float>     // (N,) each series' scale s
    let starts: UnsafeMutablePointer<Int>       // (N + 1,) each series' first row: its sequence leaves out
                                                // the tokens before a short series (rows are ragged)
    let skipped: UnsafeMutablePointer<Int>      // (N,) each series' tokens left out

    private let floats: UnsafeMutablePointer<Float>

    /// Allocates (and zeroes) the scratch for `maxSeries` series of `config`.
    init(config c: ForecasterConfig, maxSeries: Int) {
        let d = c.dModel
        let r = maxSeries * c.tokens
        let u = maxSeries * (c.maxHorizon / c.patch)
        let sizes = [
            r * c.features, r * d, r * d, r * d, r * d, r * d, r * d, r * d, r * c.dFF, d * c.tokens, c.tokens,
            u * d, u * c.patch * c.outputsPerPeriod, maxSeries,
        ]
        var arena = FloatArena(sizes: sizes)
        floats = arena.base
        func carve() -> UnsafeMutablePointer<Float> { arena.carve() }
        features = carve(); x = carve(); xn = carve(); q = carve(); k = carve(); v = carve(); att = carve(); h = carve()
        hidden = carve(); keysT = carve(); scores = carve(); future = carve(); head = carve(); scales = carve()
        starts = .allocate(capacity: maxSeries + 1)
        starts.initialize(repeating: 0, count: maxSeries + 1)
        skipped = .allocate(capacity: maxSeries)
        skipped.initialize(repeating: 0, count: maxSeries)
    }

    deinit {
        floats.deallocate()
        starts.deallocate()
        skipped.deallocate()
    }
}
