import FuseRankModel

/// Parsers for the MovieLens files of `../shared/data/` (text in, values out; the caller reads the files).
public enum MovieLens {
    /// The event type of a rating (EventType RATE).
    public static let rateEventType: Int32 = 6

    /// Parses ml-latest-small `ratings.csv` into per-user sequences.
    ///
    /// Per user, events are sorted by (timestamp, file order); type RATE; `timestamp_ms = timestamp * 1000`;
    /// item id = movieId (the split: docs/evaluation.md, "Splits", time-ordered leave-last-out).
    /// - Parameter csv: the file's text, header line included.
    /// - Returns: sequences in ascending user id.
    public static func ratingsSequences(csv: String) -> [UserSequence] {
        var byUser: [Int: [(ts: Int64, item: Int64)]] = [:]
        for (n, line) in csv.split(whereSeparator: \.isNewline).enumerated() where n > 0 {
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count >= 4, let user = Int(f[0]), let item = Int64(f[1]), let ts = Int64(f[3]) else { continue }
            byUser[user, default: []].append((ts, item))
        }
        return byUser.keys.sorted().map { user in
            // A stable sort keeps file order among equal timestamps.
            let rows = byUser[user]!.enumerated().sorted { ($0.element.ts, $0.offset) < ($1.element.ts, $1.offset) }
            return UserSequence(user: user, events: rows.map {
                BehaviourEvent(itemID: $0.element.item, type: rateEventType, timestampMs: $0.element.ts * 1000)
            })
        }
    }

    /// Parses ml-latest-small `movies.csv` into movieId -> genre words (`Adventure|Children` -> `Adventure Children`).
    ///
    /// Titles may hold quoted commas; the movieId is the first field and the genres the last.
    public static func genresCSV(_ csv: String) -> [Int64: String] {
        var out: [Int64: String] = [:]
        for (n, line) in csv.split(whereSeparator: \.isNewline).enumerated() where n > 0 {
            guard let first = line.firstIndex(of: ","), let last = line.lastIndex(of: ","),
                  let id = Int64(line[..<first]) else { continue }
            out[id] = genreWords(line[line.index(after: last)...])
        }
        return out
    }

    /// Parses ML-1M `movies.dat` (`id::Title::Genre|Genre`) into original movie id -> genre words.
    public static func genresDat(_ text: String) -> [Int64: String] {
        var out: [Int64: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.components(separatedBy: "::")
            guard f.count >= 3, let id = Int64(f[0]) else { continue }
            out[id] = genreWords(Substring(f[f.count - 1]))
        }
        return out
    }

    /// Parses whitespace-separated integer pairs per line (`ml-1m.txt`, `sas_to_original_items.txt`).
    public static func pairs(_ text: String) -> [(Int64, Int64)] {
        var out: [(Int64, Int64)] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 2, let a = Int64(f[0]), let b = Int64(f[1]) else { continue }
            out.append((a, b))
        }
        return out
    }

    /// Parses ML-1M `ml-1m.txt` (`user item`, each user's lines in order) into sequences without timestamps.
    /// - Parameter eventType: the type given to every event.
    /// - Returns: sequences in ascending user id.
    public static func orderSequences(_ text: String, eventType: Int32 = rateEventType) -> [UserSequence] {
        var byUser: [Int: [BehaviourEvent]] = [:]
        for (user, item) in pairs(text) {
            byUser[Int(user), default: []].append(BehaviourEvent(itemID: item, type: eventType))
        }
        return byUser.keys.sorted().map { UserSequence(user: $0, events: byUser[$0]!) }
    }

    private static func genreWords(_ field: Substring) -> String {
        field.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").joined(separator: " ")
    }
}

import Foundation
