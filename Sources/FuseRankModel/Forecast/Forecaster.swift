import Foundation

/// One series' forecast: the mean and each requested quantile level over the horizon.
public struct SeriesForecastResult: Sendable, Equatable {
    /// The expected value of each of the next `horizon` periods.
    public var mean: [Float]
    /// One array of `horizon` values per level of ``ValidatedForecast/levels``, in that order.
    public var quantiles: [[Float]]

    public init(mean: [Float], quantiles: [[Float]]) {
        self.mean = mean
        self.quantiles = quantiles
    }
}

/// One per worker thread: runs the batched forward pass of a shared ``ForecasterBundle``.
///
/// All the series of a pass run together: every Linear is one GEMM over `series × T` token rows,
/// and attention runs per series and head. Its ``ForecastState`` is allocated once in `init`,
/// sized for ``maxSeries`` series, so the forward pass does not allocate; a longer request runs in
/// passes of that many. Not `Sendable`: the scratch belongs to one thread.
public final class Forecaster {
    /// The default of ``maxSeries``: 256 series × T tokens make GEMMs of thousands of rows.
    public static let defaultMaxSeries = 256

    /// The forecaster this engine runs.
    public let bundle: ForecasterBundle
    /// The most series one forward pass carries.
    public let maxSeries: Int

    let config: ForecasterConfig
    let weights: ForecasterWeights
    let state: ForecastState

    /// Creates an engine and its scratch.
    /// - Parameters:
    ///   - bundle: the loaded forecaster.
    ///   - maxSeries: the most series one forward pass carries (at least 1).
    public init(bundle: ForecasterBundle, maxSeries: Int = Forecaster.defaultMaxSeries) {
        BLAS.applyDefault()
        self.bundle = bundle
        self.maxSeries = max(1, maxSeries)
        self.config = bundle.config
        self.weights = bundle.weights
        self.state = ForecastState(config: bundle.config, maxSeries: self.maxSeries)
    }

    /// Forecasts every series of a validated query, in passes of at most ``maxSeries``.
    /// - Parameter query: a query validated by this engine's bundle.
    /// - Returns: one forecast per series, in request order.
    public func forecast(_ query: ValidatedForecast) -> [SeriesForecastResult] {
        precondition(query.bundle == ObjectIdentifier(bundle), "a query validated by another forecaster")
        var results: [SeriesForecastResult] = []
        results.reserveCapacity(query.query.series.count)
        var start = 0
        while start < query.query.series.count {
            let end = min(start + maxSeries, query.query.series.count)
            results += forecastPass(query.query.series[start..<end], horizon: query.query.horizon, levels: query.levels)
            start = end
        }
        return results
    }

    /// One forward pass over at most ``maxSeries`` series.
    private func forecastPass(_ series: ArraySlice<ForecastSeries>, horizon: Int, levels: [Float]) -> [SeriesForecastResult] {
        let s = state
        let n = series.count
        let d = config.dModel, t = config.tokens, f = config.features, eps = config.layerNormEps
        // Each series' sequence: its tokens from the first one the series reaches (rows are ragged).
        s.starts[0] = 0
        for (b, one) in series.enumerated() {
            s.skipped[b] = bundle.skippedTokens(one)
            s.starts[b + 1] = s.starts[b] + t - s.skipped[b]
            s.scales[b] = bundle.tokens(of: one, into: s.features + s.starts[b] * f, from: s.skipped[b])
        }
        let rows = s.starts[n]
        // h = self.in_proj(feats) + self.pos   (pos_j of each token's own j)
        linear(s.x, s.features, weights.inProjW.baseAddress!, weights.inProjB.baseAddress!, m: rows, n: d, k: f)
        for b in 0..<n {
            addInPlace(s.x + s.starts[b] * d, weights.pos.baseAddress! + s.skipped[b] * d, n: (t - s.skipped[b]) * d)
        }
        let futureTokens = t - config.contextTokens
        for (l, w) in weights.layers.enumerated() {
            // The last block needs only the future tokens' outputs (the head reads nothing else):
            // every token's keys and values, then the future rows alone from the attention on.
            let last = l == weights.layers.count - 1
            // x = x + self.attn(self.norm1(x), valid)   (Attention: q, k, v, scaled_dot_product_attention, out)
            layerNorm(s.xn, s.x, w.norm1W.baseAddress!, w.norm1B.baseAddress!, rows: rows, d: d, eps: eps)
            linear(s.q, s.xn, w.qW.baseAddress!, w.qB.baseAddress!, m: rows, n: d, k: d)
            linear(s.k, s.xn, w.kW.baseAddress!, w.kB.baseAddress!, m: rows, n: d, k: d)
            linear(s.v, s.xn, w.vW.baseAddress!, w.vB.baseAddress!, m: rows, n: d, k: d)
            fullAttention(s.att, q: s.q, k: s.k, v: s.v, keysT: s.keysT, scores: s.scores, starts: s.starts, n: n,
                          d: d, heads: config.heads, lastQueries: last ? futureTokens : nil)
            var m = rows
            if last {
                // Gather the future rows of x and att to the front, row by row in order (the last
                // H/P rows of series b -> rows b*(H/P) ..< (b+1)*(H/P): always an earlier or the
                // same row, one not read again).
                m = n * futureTokens
                for b in 0..<n {
                    for j in 0..<futureTokens {
                        let from = (s.starts[b + 1] - futureTokens + j) * d, to = (b * futureTokens + j) * d
                        if from == to { continue }
                        (s.x + to).update(from: s.x + from, count: d)
                        (s.att + to).update(from: s.att + from, count: d)
                    }
                }
            }
            linear(s.h, s.att, w.outW.baseAddress!, w.outB.baseAddress!, m: m, n: d, k: d)
            addInPlace(s.x, s.h, n: m * d)
            // x + self.ff2(F.gelu(self.ff1(self.norm2(x))))
            layerNorm(s.xn, s.x, w.norm2W.baseAddress!, w.norm2B.baseAddress!, rows: m, d: d, eps: eps)
            linear(s.hidden, s.xn, w.ff1W.baseAddress!, w.ff1B.baseAddress!, m: m, n: config.dFF, k: d)
            gelu(s.hidden, n: m * config.dFF)
            linear(s.h, s.hidden, w.ff2W.baseAddress!, w.ff2B.baseAddress!, m: m, n: d, k: config.dFF)
            addInPlace(s.x, s.h, n: m * d)
        }
        // fut = self.norm(h[:, cfg.context // cfg.patch:]); r = self.head(fut)   (rows 0 ..< n * H/P of x now)
        layerNorm(s.future, s.x, weights.normW.baseAddress!, weights.normB.baseAddress!, rows: n * futureTokens, d: d, eps: eps)
        let perToken = config.patch * config.outputsPerPeriod
        linear(s.head, s.future, weights.headW.baseAddress!, weights.headB.baseAddress!, m: n * futureTokens, n: perToken, k: d)
        return series.enumerated().map { b, one in
            decode(one, head: s.head + b * futureTokens * perToken, scale: s.scales[b], horizon: horizon, levels: levels)
        }
    }

    /// Turns one series' head outputs into its mean and quantiles over the horizon.
    /// - Parameters:
    ///   - head: (H/P, P(1+Q)) the series' future-token outputs.
    ///   - scale: its s.
    func decode(_ series: ForecastSeries, head: UnsafePointer<Float>, scale s: Float, horizon: Int, levels: [Float])
        -> SeriesForecastResult
    {
        let q = config.quantiles.count, per = config.outputsPerPeriod
        var mean = [Float](repeating: 0, count: horizon)
        var quantiles = [[Float]](repeating: [Float](repeating: 0, count: horizon), count: levels.count)
        var emitted = [Float](repeating: 0, count: q)
        for period in 0..<horizon {
            // Future period f is window period C + f: token C/P + f/P, period f%P of it.
            guard bundle.isOpen(periodStartMs: bundle.windowStartMs(series, period: config.context + period)) else { continue }
            let r = head + period * per  // token (f / P) * P(1+Q) + (f % P)(1+Q) = f(1+Q)
            // mean = s * F.softplus(r[..., 0]) * mask
            mean[period] = s * Self.softplus(r[0])
            // c = torch.cat([r[..., 1:2], F.softplus(r[..., 2:])], dim=-1).cumsum(-1); q = s * torch.relu(c) * mask
            var c: Float = 0
            for i in 0..<q {
                c = i == 0 ? r[1] : c + Self.softplus(r[1 + i])
                emitted[i] = s * max(c, 0)
            }
            for (l, level) in levels.enumerated() {
                quantiles[l][period] = Self.interpolate(level, levels: config.quantiles, values: emitted)
            }
        }
        return SeriesForecastResult(mean: mean, quantiles: quantiles)
    }

    /// softplus(x) = ln(1 + e^x), and x itself above 20 (PyTorch's threshold).
    static func softplus(_ x: Float) -> Float {
        x > 20 ? x : Float(Foundation.log1p(Foundation.exp(Double(x))))
    }

    /// The value at level `tau` of values given at increasing `levels`: linear between the two
    /// levels around it, the first level's value below the first, the last's above the last.
    static func interpolate(_ tau: Float, levels: [Float], values: [Float]) -> Float {
        if tau <= levels[0] { return values[0] }
        for i in 1..<levels.count where tau <= levels[i] {
            if tau == levels[i] { return values[i] }
            let w = (tau - levels[i - 1]) / (levels[i] - levels[i - 1])
            return values[i - 1] + w * (values[i] - values[i - 1])
        }
        return values[levels.count - 1]
    }
}
