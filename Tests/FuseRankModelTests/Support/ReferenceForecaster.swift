import Foundation
import FuseRankTestSupport
@testable import FuseRankModel

/// A plain, loop-by-loop forecaster in Double over a ``SyntheticForecaster``'s arrays: the
/// independent reference the engine is tested against (written from docs/model-format.md
/// "Forecaster"; weekdays from Foundation's UTC calendar, not the engine's arithmetic).
struct ReferenceForecaster {
    let f: SyntheticForecaster
    var c: ForecasterConfig { f.config }

    private func w(_ name: String) -> [Double] { f.floats[name]!.map(Double.init) }

    /// 0 = Monday ... 6 = Sunday of the UTC day holding `ms`.
    static func weekday(_ ms: Int64) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        return (calendar.component(.weekday, from: date) + 5) % 7  // Foundation: 1 = Sunday
    }

    func open(_ ms: Int64) -> Bool { c.period == .week || !c.closedWeekdays.contains(Self.weekday(ms)) }

    /// The tokens (T rows of F) and the scale of one series.
    func tokens(_ series: ForecastSeries) -> (rows: [[Double]], scale: Double) {
        let n = series.values.count, p = c.patch
        let start = (0..<(c.context + c.maxHorizon)).map { series.startMs + Int64(n - c.context + $0) * c.periodMs }
        let value = (0..<c.context).map { t -> Double? in
            let i = n - c.context + t
            guard i >= 0, open(start[t]), !series.values[i].isNaN else { return nil }
            return Double(series.values[i])
        }
        let observed = value.compactMap { $0 }.map { max($0, 0) }
        let mean = observed.isEmpty ? 0 : observed.reduce(0, +) / Double(observed.count)
        let s = mean == 0 ? 1 : mean
        var rows: [[Double]] = []
        for j in 0..<c.tokens {
            var row = [Double](repeating: 0, count: 3 * p + 11)
            for k in 0..<p {
                let t = j * p + k
                if t < c.context, let v = value[t] {
                    row[3 * k] = log1p(max(v, 0) / s)
                    row[3 * k + 1] = 1
                }
                row[3 * k + 2] = open(start[t]) ? 1 : 0
            }
            let first = start[j * p]
            if c.period == .day { row[3 * p + Self.weekday(first)] = 1 }
            let days = (Double(first) / 86_400_000).rounded(.down)
            let phi = (days / 365.2425).truncatingRemainder(dividingBy: 1)
            let phase = 2 * Double.pi * (phi < 0 ? phi + 1 : phi)
            row[3 * p + 7] = sin(phase)
            row[3 * p + 8] = cos(phase)
            row[3 * p + 9] = j >= c.context / p ? 1 : 0
            row[3 * p + 10] = log(s)
            rows.append(row)
        }
        return (rows, s)
    }

    private func linear(_ x: [Double], _ name: String, out: Int) -> [Double] {
        let wt = w(name + ".weight"), b = w(name + ".bias")
        var y = b
        for o in 0..<out {
            for i in x.indices { y[o] += wt[o * x.count + i] * x[i] }
        }
        return y
    }

    private func norm(_ x: [Double], _ name: String) -> [Double] {
        let wt = w(name + ".weight"), b = w(name + ".bias")
        let m = x.reduce(0, +) / Double(x.count)
        let v = x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)
        return x.indices.map { (x[$0] - m) / (v + Double(c.layerNormEps)).squareRoot() * wt[$0] + b[$0] }
    }

    static func softplus(_ x: Double) -> Double { x > 20 ? x : log1p(exp(x)) }

    /// The mean and the quantiles at `levels` of one series over `horizon` periods.
    func forecast(_ series: ForecastSeries, horizon: Int, levels: [Float]) -> (mean: [Double], quantiles: [[Double]]) {
        let (tokens, s) = tokens(series)
        let skipped = max(0, c.context - series.values.count) / c.patch
        let d = c.dModel, dh = d / c.heads, pos = w("pos")
        var h = tokens.enumerated().map { j, x in
            linear(x, "in_proj", out: d).enumerated().map { $1 + pos[j * d + $0] }
        }
        for l in 0..<c.layers {
            let p = "layers.\(l)."
            let xn = h.map { norm($0, p + "norm1") }
            let q = xn.map { linear($0, p + "attn.q", out: d) }, k = xn.map { linear($0, p + "attn.k", out: d) }
            let v = xn.map { linear($0, p + "attn.v", out: d) }
            for i in h.indices {
                var att = [Double](repeating: 0, count: d)
                for head in 0..<c.heads {
                    let cols = (head * dh)..<((head + 1) * dh)
                    // only the tokens of the sequence: not those whose periods all precede the series
                    let keys = Array(skipped..<h.count)
                    let sc = keys.map { j in cols.reduce(0.0) { $0 + q[i][$1] * k[j][$1] } / Double(dh).squareRoot() }
                    let m = sc.max()!, e = sc.map { exp($0 - m) }, z = e.reduce(0, +)
                    for (e, j) in zip(e, keys) { for col in cols { att[col] += e / z * v[j][col] } }
                }
                h[i] = zip(h[i], linear(att, p + "attn.out", out: d)).map(+)
            }
            h = h.map { x in
                let up = linear(norm(x, p + "norm2"), p + "ff1", out: c.dFF).map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
                return zip(x, linear(up, p + "ff2", out: d)).map(+)
            }
        }
        let q = c.quantiles.count, per = 1 + q
        var mean: [Double] = [], quantiles = [[Double]](repeating: [], count: levels.count)
        let n = series.values.count
        for period in 0..<horizon {
            let t = c.context + period
            let r = linear(norm(h[t / c.patch], "norm"), "head", out: c.patch * per)
            let base = (t % c.patch) * per
            let start = series.startMs + Int64(n - c.context + t) * c.periodMs
            guard open(start) else {
                mean.append(0)
                for l in levels.indices { quantiles[l].append(0) }
                continue
            }
            mean.append(s * Self.softplus(r[base]))
            var cum = r[base + 1]
            var emitted = [s * max(cum, 0)]
            for i in 1..<q {
                cum += Self.softplus(r[base + 1 + i])
                emitted.append(s * max(cum, 0))
            }
            let known = c.quantiles.map(Double.init)
            for (l, level) in levels.map(Double.init).enumerated() {
                let value: Double
                if level <= known[0] { value = emitted[0] }
                else if level >= known[q - 1] { value = emitted[q - 1] }
                else {
                    let i = known.firstIndex { $0 >= level }!
                    value = emitted[i - 1] + (level - known[i - 1]) / (known[i] - known[i - 1]) * (emitted[i] - emitted[i - 1])
                }
                quantiles[l].append(value)
            }
        }
        return (mean, quantiles)
    }
}
