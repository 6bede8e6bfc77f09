import CFuseRankProto

/// One model's position in the shared catalogue log (`--catalogue-log`), as
/// ``HealthReply/catalogueLog`` lists them: how far the replica has applied the model's stream.
public struct CatalogueLogPosition: WireMessage {
    public static let protoName = "fuserank.v1.CatalogueLogPosition"

    /// The model name.
    public var model: String
    /// Changes applied, counted from the start of the stream.
    public var applied: UInt64
    /// Changes in the stream when the replica last heard from Redis (`applied < length`: behind).
    public var length: UInt64
    /// The stream id of the last change applied; empty before the first.
    public var lastID: String
    /// Whether the replica's reader is connected to Redis now.
    public var connected: Bool
    /// Milliseconds since the reader last heard from Redis.
    public var msSinceContact: UInt64
    /// Whether the stream has been read to its end at least once since the replica started.
    public var caughtUp: Bool

    public init(model: String = "", applied: UInt64 = 0, length: UInt64 = 0, lastID: String = "",
                connected: Bool = false, msSinceContact: UInt64 = 0, caughtUp: Bool = false) {
        self.model = model
        self.applied = applied
        self.length = length
        self.lastID = lastID
        self.connected = connected
        self.msSinceContact = msSinceContact
        self.caughtUp = caughtUp
    }

    /// Changes in the stream not applied yet (0 when the length last heard is not ahead).
    public var behind: UInt64 { length > applied ? length - applied : 0 }

    init(c: Fuserank__V1__CatalogueLogPosition) {
        self.init(model: swiftString(c.model), applied: c.applied, length: c.length, lastID: swiftString(c.last_id),
                  connected: c.connected != 0, msSinceContact: c.ms_since_contact, caughtUp: c.caught_up != 0)
    }

    /// Fills a C position whose strings live in `arena`.
    func fill(_ c: UnsafeMutablePointer<Fuserank__V1__CatalogueLogPosition>, arena: CArena) {
        fuserank__v1__catalogue_log_position__init(c)
        c.pointee.model = arena.string(model)
        c.pointee.applied = applied
        c.pointee.length = length
        c.pointee.last_id = arena.string(lastID)
        c.pointee.connected = cBool(connected)
        c.pointee.ms_since_contact = msSinceContact
        c.pointee.caught_up = cBool(caughtUp)
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__CatalogueLogPosition()
        fill(&c, arena: arena)
        return packed(&c, size: fuserank__v1__catalogue_log_position__get_packed_size,
                      pack: fuserank__v1__catalogue_log_position__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__catalogue_log_position__unpack, free: fuserank__v1__catalogue_log_position__free_unpacked
        ) { CatalogueLogPosition(c: $0.pointee) }
    }
}
