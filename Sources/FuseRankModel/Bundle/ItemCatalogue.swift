import Foundation

/// What a person reads about an item: its title and category from the bundle's optional
/// `items.tsv` (docs/model-format.md), and the shop's own id for it.
public struct ItemInfo: Sendable, Equatable {
    public var title: String
    public var category: String
    /// The shop's own item id (e.g. a StockCode `85123A`), which the trainer mapped to the dense
    /// item id; empty when the file has no `external_id` column.
    public var externalID: String

    public init(title: String, category: String = "", externalID: String = "") {
        self.title = title
        self.category = category
        self.externalID = externalID
    }
}

extension ModelBundle {
    /// The headers `items.tsv` may start with: the columns, in order.
    static let itemHeaders: [[String]] = [
        ["item_id", "title"], ["item_id", "title", "category"],
        ["item_id", "external_id", "title"], ["item_id", "external_id", "title", "category"],
    ]

    /// Reads `items.tsv`: a header `item_id[<TAB>external_id]<TAB>title[<TAB>category]`, then one
    /// line per item of the catalogue with the same columns (UTF-8; no field holds a tab). An
    /// external id is the shop's own id of the item: not empty, and on one line only.
    /// - Parameters:
    ///   - path: the file.
    ///   - rows: the catalogue every id must be in; nil for a forecaster-only bundle (any id).
    /// - Returns: the items by id; empty when the bundle has no `items.tsv`.
    /// - Throws: ``BundleError/badItems(file:reason:)`` naming the line that is wrong.
    static func loadItems(_ path: String, catalogue rows: [Int64: Int32]?) throws -> [Int64: ItemInfo] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let lines = try textLines(path) { BundleError.badItems(file: path, reason: $0) }
        guard let header = lines.first.map({ $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }),
              itemHeaders.contains(header) else {
            throw BundleError.badItems(
                file: path, reason: "line 1 must be the header item_id[<TAB>external_id]<TAB>title[<TAB>category]")
        }
        let columns = header.count
        let external = header[1] == "external_id" ? 1 : nil
        let title = external == nil ? 1 : 2
        let category = columns > title + 1 ? title + 1 : nil
        var items: [Int64: ItemInfo] = [:]
        items.reserveCapacity(lines.count - 1)
        var externalLines: [String: Int] = [:]  // external id -> its line number
        for (n, line) in lines.enumerated().dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == columns else {
                throw BundleError.badItems(file: path, reason: "line \(n + 1) has \(fields.count) fields, the header \(columns)")
            }
            guard let id = Int64(fields[0]) else {
                throw BundleError.badItems(file: path, reason: "line \(n + 1): \"\(fields[0])\" is not an item id")
            }
            if let rows, rows[id] == nil {
                throw BundleError.badItems(file: path, reason: "line \(n + 1): item \(id) is not in the catalogue")
            }
            var info = ItemInfo(title: String(fields[title]), category: category.map { String(fields[$0]) } ?? "")
            if let external {
                info.externalID = String(fields[external])
                guard !info.externalID.isEmpty else {
                    throw BundleError.badItems(file: path, reason: "line \(n + 1): item \(id) has an empty external id")
                }
                if let first = externalLines.updateValue(n + 1, forKey: info.externalID) {
                    throw BundleError.badItems(
                        file: path, reason: "line \(n + 1): external id \"\(info.externalID)\" is already on line \(first)")
                }
            }
            if items.updateValue(info, forKey: id) != nil {
                throw BundleError.badItems(file: path, reason: "line \(n + 1): item \(id) is listed twice")
            }
        }
        return items
    }
}
