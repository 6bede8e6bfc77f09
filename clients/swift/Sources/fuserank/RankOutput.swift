import Foundation
import FuseRankClient

/// How `fuserank rank` prints a reply.
enum RankOutput {
    /// A header line, then `rank  item_id  score` right-aligned columns (`external_id`, the shop's
    /// id, after the id when external ids are given, `title` after those when titles are given,
    /// and `because`, the reasons, when the reply has any), then unknown candidates.
    /// - Parameters:
    ///   - reply: The reply.
    ///   - events: The events the request sent (the reasons name them by index).
    ///   - titles: Item titles by id (`GetItems`), shown beside ids; empty = none.
    ///   - externalIDs: The shop's item ids by id (`GetItems`), shown beside ids; empty = none.
    /// - Returns: The text, ending in a newline.
    static func table(
        _ reply: RankReply, events: [Event] = [], titles: [Int64: String] = [:], externalIDs: [Int64: String] = [:]
    ) -> String {
        var out = "model \(reply.model.isEmpty ? "(default)" : reply.model)"
        if !reply.modelVersion.isEmpty { out += " version \(reply.modelVersion)" }
        out += ", \(reply.items.count) item\(reply.items.count == 1 ? "" : "s")\n"
        let explained = reply.items.contains { !$0.reasons.isEmpty }
        let titled = !titles.isEmpty
        let external = !externalIDs.isEmpty
        let rows = reply.items.enumerated().map { index, item in
            [String(index + 1), String(item.itemID)] + (external ? [externalIDs[item.itemID] ?? "-"] : [])
                + (titled ? [titles[item.itemID] ?? "-"] : [])
                + [String(format: "%.6f", item.score)]
                + (explained ? [because(item.reasons, events: events, titles: titles)] : [])
        }
        let header = ["rank", "item_id"] + (external ? ["external_id"] : []) + (titled ? ["title"] : []) + ["score"]
            + (explained ? ["because"] : [])
        let leftAligned: Set<String> = ["external_id", "title", "because"]
        let widths = header.indices.map { column in
            ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        for row in [header] + rows {
            out += zip(row, widths).enumerated().map { column, cellWidth in
                let (cell, width) = cellWidth
                let pad = String(repeating: " ", count: width - cell.count)
                return leftAligned.contains(header[column]) ? cell + pad : pad + cell  // text columns left-aligned
            }.joined(separator: "  ").replacingOccurrences(of: " +$", with: "", options: .regularExpression) + "\n"
        }
        if !reply.unknownCandidates.isEmpty {
            out += "unknown candidates (not scored): "
                + reply.unknownCandidates.map(String.init).joined(separator: ", ") + "\n"
        }
        if !reply.unavailableCandidates.isEmpty {
            out += "unavailable candidates (hidden, not scored): "
                + reply.unavailableCandidates.map(String.init).joined(separator: ", ") + "\n"
        }
        return out
    }

    /// One item's reasons: `#index item_id (+weight)` each, e.g. `#4 1196 (+0.83), #2 260 (+0.41)`
    /// (the event's title instead of its id where `titles` has it); `-` when it has none.
    static func because(_ reasons: [EventContribution], events: [Event], titles: [Int64: String] = [:]) -> String {
        if reasons.isEmpty { return "-" }
        return reasons.map { reason in
            let index = Int(reason.eventIndex)
            let item = index < events.count ? (titles[events[index].itemID] ?? String(events[index].itemID)) : "?"
            return "#\(index) \(item) (\(String(format: "%+.3f", reason.weight)))"
        }.joined(separator: ", ")
    }

    /// The reply as one JSON object (`model`, `model_version`, `items` with `rank`, `item_id`,
    /// `score`, `reasons` when the request asked for them (`event_index`, the event's `item_id`,
    /// `weight`), and `unknown_candidates`), keys sorted.
    /// - Parameters:
    ///   - reply: The reply.
    ///   - events: The events the request sent (the reasons name them by index).
    /// - Returns: The JSON text and a newline.
    /// - Throws: `EncodingError` for a score JSON cannot hold (NaN/Inf, which a server never sends).
    static func json(_ reply: RankReply, events: [Event] = []) throws -> String {
        struct Reason: Encodable {
            let event_index: UInt32
            let item_id: Int64?
            let weight: Float
        }
        struct Item: Encodable {
            let rank: Int
            let item_id: Int64
            let score: Float
            let reasons: [Reason]?
        }
        struct Reply: Encodable {
            let model: String
            let model_version: String
            let items: [Item]
            let unknown_candidates: [Int64]
            let unavailable_candidates: [Int64]?  // only when some are
        }
        let value = Reply(
            model: reply.model, model_version: reply.modelVersion,
            items: reply.items.enumerated().map { index, item in
                let reasons = item.reasons.map { r in
                    Reason(event_index: r.eventIndex,
                           item_id: Int(r.eventIndex) < events.count ? events[Int(r.eventIndex)].itemID : nil, weight: r.weight)
                }
                return Item(rank: index + 1, item_id: item.itemID, score: item.score,
                            reasons: reply.items.contains { !$0.reasons.isEmpty } ? reasons : nil)
            },
            unknown_candidates: reply.unknownCandidates,
            unavailable_candidates: reply.unavailableCandidates.isEmpty ? nil : reply.unavailableCandidates)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
