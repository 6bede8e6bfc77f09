import CFuseRankProto

/// One item's content (`ItemContent`): text tokens and a content vector the model projects into
/// the item's row, with an optional title, category and the shop's id.
public struct ItemContent: Sendable, Equatable {
    public var itemID: Int64
    /// Ids of the model's `vocab.txt`; 0 is padding.
    public var textTokens: [UInt32]
    /// `content_dim` floats, or empty (zeros).
    public var contentVector: [Float]
    public var title: String
    public var category: String
    /// The shop's own id of the item, shown by `GetItems`; empty keeps the bundle's.
    public var externalID: String

    public init(
        itemID: Int64 = 0, textTokens: [UInt32] = [], contentVector: [Float] = [], title: String = "", category: String = "",
        externalID: String = ""
    ) {
        self.itemID = itemID
        self.textTokens = textTokens
        self.contentVector = contentVector
        self.title = title
        self.category = category
        self.externalID = externalID
    }

    init(c: Fuserank__V1__ItemContent) {
        self.init(
            itemID: c.item_id, textTokens: swiftArray(c.text_tokens, c.n_text_tokens),
            contentVector: swiftArray(c.content_vector, c.n_content_vector), title: swiftString(c.title),
            category: swiftString(c.category), externalID: swiftString(c.external_id))
    }

    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__ItemContent>, arena: CArena) {
        fuserank__v1__item_content__init(c)
        c.pointee.item_id = itemID
        c.pointee.n_text_tokens = textTokens.count
        c.pointee.text_tokens = arena.array(textTokens)
        c.pointee.n_content_vector = contentVector.count
        c.pointee.content_vector = arena.array(contentVector)
        c.pointee.title = arena.string(title)
        c.pointee.category = arena.string(category)
        c.pointee.external_id = arena.string(externalID)
    }
}

/// The request of `UpsertItems`: add items from their content, or replace an item's content.
public struct UpsertItemsRequest: WireMessage {
    public static let protoName = "fuserank.v1.UpsertItemsRequest"

    /// Model name; empty = the server's default model.
    public var model: String
    public var items: [ItemContent]

    public init(model: String = "", items: [ItemContent] = []) {
        self.model = model
        self.items = items
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__UpsertItemsRequest()
        fuserank__v1__upsert_items_request__init(&c)
        c.model = arena.string(model)
        c.n_items = items.count
        c.items = arena.messages(Fuserank__V1__ItemContent.self, count: items.count) { items[$0].fill($1, arena: arena) }
        return packed(&c, size: fuserank__v1__upsert_items_request__get_packed_size, pack: fuserank__v1__upsert_items_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__upsert_items_request__unpack, free: fuserank__v1__upsert_items_request__free_unpacked
        ) { UpsertItemsRequest(model: swiftString($0.pointee.model), items: swiftMessages($0.pointee.items, $0.pointee.n_items, ItemContent.init(c:))) }
    }
}

/// The reply of `UpsertItems`.
public struct UpsertItemsReply: WireMessage {
    public static let protoName = "fuserank.v1.UpsertItemsReply"

    /// New ids.
    public var added: UInt32
    /// Ids that had a row before (bundle or earlier upsert).
    public var replaced: UInt32
    /// The change's record number in the model's journal.
    public var journalSequence: UInt64

    public init(added: UInt32 = 0, replaced: UInt32 = 0, journalSequence: UInt64 = 0) {
        self.added = added
        self.replaced = replaced
        self.journalSequence = journalSequence
    }

    public func encode() -> [UInt8] {
        var c = Fuserank__V1__UpsertItemsReply()
        fuserank__v1__upsert_items_reply__init(&c)
        c.added = added
        c.replaced = replaced
        c.journal_sequence = journalSequence
        return packed(&c, size: fuserank__v1__upsert_items_reply__get_packed_size, pack: fuserank__v1__upsert_items_reply__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__upsert_items_reply__unpack, free: fuserank__v1__upsert_items_reply__free_unpacked
        ) { UpsertItemsReply(added: $0.pointee.added, replaced: $0.pointee.replaced, journalSequence: $0.pointee.journal_sequence) }
    }
}
