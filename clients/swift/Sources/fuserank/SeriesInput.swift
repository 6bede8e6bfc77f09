import Foundation
import FuseRankClient

/// The input of `fuserank forecast`: one series per line, `item_id,start,values`.
///
/// - `start`: the start of the period of the first value, as Unix ms or a UTC date `YYYY-MM-DD`;
/// - `values`: the values of consecutive periods, oldest first, separated by spaces (or `;`);
///   `nan` or `-` is a missing period.
///
/// Blank lines and lines starting with `#` are skipped, as is a first line starting `item_id`
/// (a header). Example: `85123,2024-01-01,3 0 nan 12.5 4`.
enum SeriesInput {
    /// Why a line does not parse: its number (1-based) and what is wrong.
    struct ParseError: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    /// The series of a whole input text, in order.
    /// - Throws: ``ParseError`` for the first line that does not parse.
    static func parse(_ text: String) throws(ParseError) -> [SeriesHistory] {
        var series: [SeriesHistory] = []
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || (index == 0 && line.hasPrefix("item_id")) { continue }
            let fields = line.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 3 else {
                throw ParseError(line: index + 1, reason: "expected item_id,start,values (3 comma-separated fields)")
            }
            guard let itemID = Int64(fields[0]) else {
                throw ParseError(line: index + 1, reason: "\"\(fields[0])\" is not an item id")
            }
            guard let startMs = startMs(fields[1]) else {
                throw ParseError(line: index + 1, reason: "\"\(fields[1])\" is neither Unix ms nor a date YYYY-MM-DD")
            }
            var values: [Float] = []
            for token in fields[2].split(whereSeparator: { $0 == " " || $0 == ";" || $0 == "\t" }) {
                if token.lowercased() == "nan" || token == "-" {
                    values.append(.nan)
                } else if let value = Float(token), value.isFinite {
                    values.append(value)
                } else {
                    throw ParseError(line: index + 1, reason: "\"\(token)\" is not a value (a number, or nan / - for missing)")
                }
            }
            series.append(SeriesHistory(itemID: itemID, startMs: startMs, values: values))
        }
        return series
    }

    /// Unix ms from `1704067200000` or `2024-01-01` (midnight UTC).
    static func startMs(_ text: String) -> Int64? {
        if let ms = Int64(text) { return ms }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = DateComponents(year: year, month: month, day: day)
        guard calendar.date(from: components).map({ calendar.component(.day, from: $0) == day }) == true,
              let date = calendar.date(from: components) else { return nil }
        return Int64(date.timeIntervalSince1970 * 1000)
    }
}

/// How `fuserank forecast` prints a reply.
enum ForecastOutput {
    /// A header line, then one row per item and forecast period: `item_id  period  mean  q<level>...`
    /// right-aligned (period 1 = the period after the series' last value).
    /// - Parameters:
    ///   - forecasts: The reply's forecasts, in request order.
    ///   - model: The model name asked for (empty = the default).
    /// - Returns: The text, ending in a newline.
    static func table(_ forecasts: [SeriesForecast], model: String) -> String {
        let horizon = forecasts.map(\.mean.count).max() ?? 0
        var out = "model \(model.isEmpty ? "(default)" : model), \(forecasts.count) series, horizon \(horizon)\n"
        let levels = forecasts.first?.quantiles.map(\.quantile) ?? []
        let header = ["item_id", "period", "mean"] + levels.map { "q" + label($0) }
        var rows: [[String]] = []
        for forecast in forecasts {
            for period in forecast.mean.indices {
                rows.append([String(forecast.itemID), String(period + 1), String(format: "%.4f", forecast.mean[period])]
                    + forecast.quantiles.map { String(format: "%.4f", $0.values[period]) })
            }
        }
        let widths = header.indices.map { column in ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0 }
        for row in [header] + rows {
            out += zip(row, widths).map { String(repeating: " ", count: $1 - $0.count) + $0 }.joined(separator: "  ") + "\n"
        }
        return out
    }

    /// A level as its shortest decimal: 0.1 -> `0.1`, 0.975 -> `0.975`.
    static func label(_ level: Float) -> String {
        var text = String(format: "%.4f", level)
        while text.hasSuffix("0") { text.removeLast() }
        return text.hasSuffix(".") ? String(text.dropLast()) : text
    }

    /// The reply as JSON (sorted keys): `{"forecasts": [{"item_id", "mean", "quantiles": [{"quantile", "values"}]}]}`.
    static func json(_ forecasts: [SeriesForecast]) throws -> String {
        let object: [String: Any] = ["forecasts": forecasts.map { f in
            ["item_id": f.itemID, "mean": f.mean.map(Double.init),
             "quantiles": f.quantiles.map { ["quantile": Double($0.quantile), "values": $0.values.map(Double.init)] }] as [String: Any]
        }]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
