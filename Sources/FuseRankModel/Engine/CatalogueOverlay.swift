/// Live changes to one model version's catalogue (the `UpsertItems` and `SetItemsAvailable`
/// calls): items whose row comes from their content, and items hidden from ranking. An immutable
/// value: the server swaps whole overlays, and each ranking pass keeps the one it started with.
///
/// The bundle's item table is never copied: an overlay holds only its own rows, and the base rows
/// it replaces or hides are masked when the catalogue is scored (``Ranker/rank(_:overlay:)``).
public struct CatalogueOverlay: Sendable {
    /// The model version it applies to.
    public let bundle: ModelBundle
    /// Item ids with a content row, in the order they were first upserted.
    public private(set) var contentIDs: [Int64] = []
    /// Content rows' embeddings, (contentIDs.count, d_model) row-major.
    private(set) var embeddings: [Float] = []
    /// Content rows' output biases, (contentIDs.count,).
    private(set) var biases: [Float] = []
    /// Item id -> index into ``contentIDs``.
    private var slots: [Int64: Int] = [:]
    /// Items ranking never returns (content items and bundle items alike).
    public private(set) var hidden: Set<Int64> = []
    /// Bundle items whose table row is not scored: replaced by a content row, or hidden.
    private(set) var maskedBaseIDs: Set<Int64> = []
    /// Titles, categories and shop ids given with content (`GetItems` prefers them to `items.tsv`).
    public private(set) var info: [Int64: ItemInfo] = [:]
    /// Changes whenever a content row is added or replaced (session caches key on it: a cached
    /// event state holds the item's old row).
    public private(set) var contentGeneration: UInt64 = 0

    /// An overlay that changes nothing.
    public init(bundle: ModelBundle) { self.bundle = bundle }

    /// Whether it changes nothing.
    public var isEmpty: Bool { contentIDs.isEmpty && hidden.isEmpty }

    /// Whether the item is known: in the bundle's catalogue or given content.
    public func knows(_ id: Int64) -> Bool { slots[id] != nil || bundle.row(ofItem: id) != nil }

    /// Whether the item has a content row here.
    public func hasContent(_ id: Int64) -> Bool { slots[id] != nil }

    /// The index of the item's content row, if it has one.
    func slot(of id: Int64) -> Int? { slots[id] }

    /// Gives `id` a content row (adding it, or replacing its bundle row or earlier content).
    /// - Parameters:
    ///   - id: the item id (> 0).
    ///   - row: from ``ModelBundle/contentRow(textTokens:vector:)`` of this overlay's bundle.
    ///   - info: its title, category and external id; nil keeps what it had.
    public mutating func setContent(_ id: Int64, row: (embedding: [Float], bias: Float), info: ItemInfo? = nil) {
        let d = bundle.config.dModel
        precondition(row.embedding.count == d, "a content row has d_model = \(d) floats")
        if let slot = slots[id] {
            embeddings.replaceSubrange(slot * d..<(slot + 1) * d, with: row.embedding)
            biases[slot] = row.bias
        } else {
            slots[id] = contentIDs.count
            contentIDs.append(id)
            embeddings += row.embedding
            biases.append(row.bias)
            if bundle.row(ofItem: id) != nil { maskedBaseIDs.insert(id) }
        }
        if let info { self.info[id] = info }
        contentGeneration &+= 1
    }

    /// Hides items from ranking, or shows them again.
    public mutating func setAvailable(_ ids: [Int64], _ available: Bool) {
        for id in ids {
            if available {
                hidden.remove(id)
                if slots[id] == nil { maskedBaseIDs.remove(id) }
            } else {
                hidden.insert(id)
                if bundle.row(ofItem: id) != nil { maskedBaseIDs.insert(id) }
            }
        }
    }
}
