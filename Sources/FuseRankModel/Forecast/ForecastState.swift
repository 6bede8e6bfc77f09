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

    /// Owns every buffer above.
    private let scratch: Scratch

    /// Allocates (and zeroes) the scratch for `maxSeries` series of `config`: each buffer with
    /// the shape its field states.
    init(config c: ForecasterConfig, maxSeries: Int) {
        let d = c.dModel
        let t = c.tokens                                      // T
        let r = maxSeries * t                                 // R
        let u = maxSeries * (c.maxHorizon / c.patch)          // U
        let scratch = Scratch()
        self.scratch = scratch
        features = scratch.buffer(r * c.features)
        x = scratch.buffer(r * d)
        xn = scratch.buffer(r * d)
        q = scratch.buffer(r * d)
        k = scratch.buffer(r * d)
        v = scratch.buffer(r * d)
        att = scratch.buffer(r * d)
        h = scratch.buffer(r * d)
        hidden = scratch.buffer(r * c.dFF)
        keysT = scratch.buffer(d * t)
        scores = scratch.buffer(t)
        future = scratch.buffer(u * d)
        head = scratch.buffer(u * c.patch * c.outputsPerPeriod)
        scales = scratch.buffer(maxSeries)
        starts = scratch.buffer(maxSeries + 1)
        skipped = scratch.buffer(maxSeries)
    }
}
