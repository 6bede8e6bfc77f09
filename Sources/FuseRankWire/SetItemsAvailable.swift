import CFuseRankProto

/// The request of `SetItemsAvailable`: hide items from ranking, or show them again.
public struct SetItemsAvailableRequest: WireMessage {
    public static let protoName = "fuserank.v1.SetItemsAvailableRequest"

    /// Model name; empty = the server's default model.
    public var model: String
    public var itemIDs: [Int64]
    /// false hides, true shows.
    public var available: Bool

    public init(model: String = "", itemIDs: [Int64] = [], available: Bool = false) {
        self.model = model
        self.itemIDs = itemIDs
        self.available = available
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__SetItemsAvailableRequest()
        fuserank__v1__set_items_available_request__init(&c)
        c.model = arena.string(model)
        c.n_item_ids = itemIDs.count
        c.item_ids = arena.array(itemIDs)
        c.available = cBool(available)
        return packed(&c, size: fuserank__v1__set_items_available_request__get_packed_size,
                      pack: fuserank__v1__set_items_available_request__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__set_items_available_request__unpack,
            free: fuserank__v1__set_items_available_request__free_unpacked
        ) {
            SetItemsAvailableRequest(
                model: swiftString($0.pointee.model), itemIDs: swiftArray($0.pointee.item_ids, $0.pointee.n_item_ids),
                available: $0.pointee.available != 0)
        }
    }
}

/// The reply of `SetItemsAvailable`.
public struct SetItemsAvailableReply: WireMessage {
    public static let protoName = "fuserank.v1.SetItemsAvailableReply"

    /// The change's record number in the model's journal.
    public var journalSequence: UInt64

    public init(journalSequence: UInt64 = 0) { self.journalSequence = journalSequence }

    public func encode() -> [UInt8] {
        var c = Fuserank__V1__SetItemsAvailableReply()
        fuserank__v1__set_items_available_reply__init(&c)
        c.journal_sequence = journalSequence
        return packed(&c, size: fuserank__v1__set_items_available_reply__get_packed_size,
                      pack: fuserank__v1__set_items_available_reply__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__set_items_available_reply__unpack,
            free: fuserank__v1__set_items_available_reply__free_unpacked
        ) { SetItemsAvailableReply(journalSequence: $0.pointee.journal_sequence) }
    }
}
