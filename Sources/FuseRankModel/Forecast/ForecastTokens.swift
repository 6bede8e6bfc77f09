import Foundation

// From a series to tokens (docs/model-format.md "Forecaster", "From a series to tokens").

extension ForecasterBundle {
    /// The weekday (0 = Monday ... 6 = Sunday, UTC) of the period starting at `ms`.
    static func weekday(ms: Int64) -> Int {
        let days = floorDivide(ms, ForecasterConfig.dayMs)
        return Int(((days + 3) % 7 + 7) % 7)  // 1970-01-01 was a Thursday (3)
    }

    /// `floor(a / b)` for b > 0.
    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && a < 0) ? q - 1 : q
    }

    /// Whether the shop trades in the period starting at `ms` (`open`): always for weeks.
    func isOpen(periodStartMs ms: Int64) -> Bool {
        closed.isEmpty || !closed.contains(Self.weekday(ms: ms))
    }

    /// The start (Unix ms) of window period t (0 ..< C + H) of a series: the window ends H
    /// periods after the series' last value.
    func windowStartMs(_ series: ForecastSeries, period t: Int) -> Int64 {
        series.startMs + Int64(series.values.count - config.context + t) * config.periodMs
    }

    /// The scale s of a series: the mean of max(v, 0) over its observed context periods; 1 when
    /// none is observed or the mean is 0.
    func scale(of series: ForecastSeries) -> Float {
        let c = config.context, n = series.values.count
        var sum = 0.0
        var observed = 0
        for t in max(0, c - n)..<c {
            let value = series.values[n - c + t]
            guard !value.isNaN, isOpen(periodStartMs: windowStartMs(series, period: t)) else { continue }
            sum += Double(max(value, 0))
            observed += 1
        }
        guard observed > 0, sum > 0 else { return 1 }
        return Float(sum / Double(observed))
    }

    /// The context tokens of a series that are not in its sequence: those whose P periods all
    /// precede the series (`floor(pad / P)`, pad = max(0, C - n)).
    func skippedTokens(_ series: ForecastSeries) -> Int {
        max(0, config.context - series.values.count) / config.patch
    }

    /// Writes the tokens `first ..< T` of one series, F = 3P + 11 features each.
    /// - Parameters:
    ///   - series: a validated series.
    ///   - out: (T - first, F), row-major.
    ///   - first: the first token written (``skippedTokens(_:)`` for the sequence; 0 for all T).
    /// - Returns: the series' scale s.
    @discardableResult
    func tokens(of series: ForecastSeries, into out: UnsafeMutablePointer<Float>, from first: Int = 0) -> Float {
        let p = config.patch, c = config.context, f = config.features, n = series.values.count
        let s = scale(of: series)
        let logScale = Float(Foundation.log(Double(s)))
        for j in first..<config.tokens {
            let row = out + (j - first) * f
            for t in 0..<f { row[t] = 0 }
            for k in 0..<p {
                let t = j * p + k
                let open = isOpen(periodStartMs: windowStartMs(series, period: t))
                let index = n - c + t  // the value of window period t (a context period only)
                if t < c, index >= 0, open, !series.values[index].isNaN {
                    row[3 * k] = Float(Foundation.log1p(Double(max(series.values[index], 0)) / Double(s)))
                    row[3 * k + 1] = 1
                }
                row[3 * k + 2] = open ? 1 : 0
            }
            let first = windowStartMs(series, period: j * p)
            if config.period == .day { row[3 * p + Self.weekday(ms: first)] = 1 }
            let days = Double(Self.floorDivide(first, ForecasterConfig.dayMs)) / 365.2425
            let phase = 2 * Double.pi * (days - days.rounded(.down))
            row[3 * p + 7] = Float(Foundation.sin(phase))
            row[3 * p + 8] = Float(Foundation.cos(phase))
            row[3 * p + 9] = j >= config.contextTokens ? 1 : 0
            row[3 * p + 10] = logScale
        }
        return s
    }
}
