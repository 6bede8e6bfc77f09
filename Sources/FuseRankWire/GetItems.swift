import CFuseRankProto

/// The request of `GetItems`: which items to describe.
public struct GetItemsRequest: WireMessage {
    public static let protoName = "fuserank.v1.GetItemsRequest"

    /// Model name; empty = the server's default model.
    public var model: String
    /// The items to describe.
    public var itemIDs: [Int64]

    public init(model: String = "", itemIDs: [Int64] = []) {
        self.model = model
        self.itemIDs = itemIDs
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__GetItemsRequest()
        fuserank__v1__get_items_request__init(&c)
        c.model = arena.string(model)
        c.n_item_ids = itemIDs.count
        c.item_ids = arena.array(itemIDs)
        return packed(&c, size: fuserank__v1__get_items_request__get_packed_size, pack: fuserank__v1__get_items_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__get_items_request__unpack, free: fuserank__v1__get_items_request__free_unpacked
        ) { GetItemsRequest(model: swiftString($0.pointee.model), itemIDs: swiftArray($0.pointee.item_ids, $0.pointee.n_item_ids)) }
    }
}

/// One item's metadata (the bundle's `items.tsv`, or what `UpsertItems` gave).
public struct ItemMetadata: Sendable, Equatable {
    public var itemID: Int64
    /// False when the model has no metadata for the id.
    public var known: Bool
    public var title: String
    public var category: String
    /// The shop's own id of the item, which the trainer mapped to ``itemID``; empty when the
    /// bundle has none.
    public var externalID: String

    public init(itemID: Int64 = 0, known: Bool = false, title: String = "", category: String = "", externalID: String = "") {
        self.itemID = itemID
        self.known = known
        self.title = title
        self.category = category
        self.externalID = externalID
    }

    init(c: Fuserank__V1__ItemMetadata) {
        self.init(
            itemID: c.item_id, known: c.known != 0, title: swiftString(c.title), category: swiftString(c.category),
            externalID: swiftString(c.external_id))
    }

    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__ItemMetadata>, arena: CArena) {
        fuserank__v1__item_metadata__init(c)
        c.pointee.item_id = itemID
        c.pointee.known = cBool(known)
        c.pointee.title = arena.string(title)
        c.pointee.category = arena.string(category)
        c.pointee.external_id = arena.string(externalID)
    }
}

/// The reply of `GetItems`: one entry per requested id, in request order.
public struct GetItemsReply: WireMessage {
    public static let protoName = "fuserank.v1.GetItemsReply"

    public var items: [ItemMetadata]

    public init(items: [ItemMetadata] = []) { self.items = items }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__GetItemsReply()
        fuserank__v1__get_items_reply__init(&c)
        c.n_items = items.count
        c.items = arena.messages(Fuserank__V1__ItemMetadata.self, count: items.count) { items[$0].fill($1, arena: arena) }
        return packed(&c, size: fuserank__v1__get_items_reply__get_packed_size, pack: fuserank__v1__get_items_reply__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__get_items_reply__unpack, free: fuserank__v1__get_items_reply__free_unpacked
        ) { GetItemsReply(items: swiftMessages($0.pointee.items, $0.pointee.n_items, ItemMetadata.init(c:))) }
    }
}
