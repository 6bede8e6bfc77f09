import Foundation
import FuseRankClient

/// How `fuserank rank` prints a reply.
enum RankOutput {
    /// A header line, then `rank  item_id  score` right-aligned columns, then unknown candidates.
    /// - Parameter reply: The reply.
    /// - Returns: The text, ending in a newline.
    static func table(_ reply: RankReply) -> String {
        var out = "model \(reply.model.isEmpty ? "(default)" : reply.model)"
        if !reply.modelVersion.isEmpty { out += " version \(reply.modelVersion)" }
        out += ", \(reply.items.count) item\(reply.items.count == 1 ? "" : "s")\n"
        let rows = reply.items.enumerated().map { index, item in
            [String(index + 1), String(item.itemID), String(format: "%.6f", item.score)]
        }
        let header = ["rank", "item_id", "score"]
        let widths = (0..<3).map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        for row in [header] + rows {
            out += zip(row, widths).map { cell, width in
                String(repeating: " ", count: width - cell.count) + cell
            }.joined(separator: "  ") + "\n"
        }
        if !reply.unknownCandidates.isEmpty {
            out += "unknown candidates (not scored): "
                + reply.unknownCandidates.map(String.init).joined(separator: ", ") + "\n"
        }
        return out
    }

    /// The reply as one JSON object (`model`, `model_version`, `items` with `rank`, `item_id`,
    /// `score`, and `unknown_candidates`), keys sorted.
    /// - Parameter reply: The reply.
    /// - Returns: The JSON text and a newline.
    /// - Throws: `EncodingError` for a score JSON cannot hold (NaN/Inf, which a server never sends).
    static func json(_ reply: RankReply) throws -> String {
        struct Item: Encodable {
            let rank: Int
            let item_id: Int64
            let score: Float
        }
        struct Reply: Encodable {
            let model: String
            let model_version: String
            let items: [Item]
            let unknown_candidates: [Int64]
        }
        let value = Reply(
            model: reply.model, model_version: reply.modelVersion,
            items: reply.items.enumerated().map { Item(rank: $0 + 1, item_id: $1.itemID, score: $1.score) },
            unknown_candidates: reply.unknownCandidates)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
