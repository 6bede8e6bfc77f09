import CFuseRankProto

/// One behaviour event of a ``RankRequest``.
public struct Event: WireMessage {
    public static let protoName = "fuserank.v1.Event"

    /// The external item id (any id; unknown ones map to the model's `[UNK]` row).
    public var itemID: Int64
    /// What the user did.
    public var type: EventType
    /// Unix time in milliseconds; 0 = unknown.
    public var timestampMs: Int64
    /// Dwell time in milliseconds (carried, unused by format_versions 1 and 2).
    public var dwellMs: UInt32

    public init(itemID: Int64 = 0, type: EventType = .unspecified, timestampMs: Int64 = 0, dwellMs: UInt32 = 0) {
        self.itemID = itemID
        self.type = type
        self.timestampMs = timestampMs
        self.dwellMs = dwellMs
    }

    init(c: Fuserank__V1__Event) {
        self.init(
            itemID: c.item_id, type: EventType(rawValue: Int32(bitPattern: UInt32(truncatingIfNeeded: c.type.rawValue))),
            timestampMs: c.timestamp_ms, dwellMs: c.dwell_ms)
    }

    /// Fills an initialised C event.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__Event>) {
        fuserank__v1__event__init(c)
        c.pointee.item_id = itemID
        c.pointee.type = Fuserank__V1__EventType(rawValue: .init(truncatingIfNeeded: UInt32(bitPattern: type.rawValue)))
        c.pointee.timestamp_ms = timestampMs
        c.pointee.dwell_ms = dwellMs
    }

    public func encode() -> [UInt8] {
        var c = Fuserank__V1__Event()
        fill(&c)
        return packed(&c, size: fuserank__v1__event__get_packed_size, pack: fuserank__v1__event__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName, unpack: fuserank__v1__event__unpack, free: fuserank__v1__event__free_unpacked
        ) { Event(c: $0.pointee) }
    }
}
