import CFuseRankProto

/// The first frame of every call: which method, which request, how long the caller waits.
public struct RequestHeader: WireMessage {
    public static let protoName = "fuserank.v1.RequestHeader"

    /// The gRPC path of the method, e.g. ``Method/rank``'s path.
    public var method: String
    /// Chosen by the caller; echoed in ``ReplyHeader/requestID``.
    public var requestID: UInt64
    /// Relative deadline in milliseconds; 0 = the server's default.
    public var timeoutMs: UInt32
    /// Free key/value pairs (tracing ids and the like); encoded in key order.
    public var metadata: [String: String]

    public init(method: String = "", requestID: UInt64 = 0, timeoutMs: UInt32 = 0, metadata: [String: String] = [:]) {
        self.method = method
        self.requestID = requestID
        self.timeoutMs = timeoutMs
        self.metadata = metadata
    }

    /// A header for one of the service's methods.
    public init(method: Method, requestID: UInt64, timeoutMs: UInt32 = 0, metadata: [String: String] = [:]) {
        self.init(method: method.path, requestID: requestID, timeoutMs: timeoutMs, metadata: metadata)
    }

    public func encode() -> [UInt8] {
        let arena = CArena()
        defer { arena.release() }
        var c = Fuserank__V1__RequestHeader()
        fuserank__v1__request_header__init(&c)
        c.method = arena.string(method)
        c.request_id = requestID
        c.timeout_ms = timeoutMs
        let keys = metadata.keys.sorted()
        c.n_metadata = keys.count
        c.metadata = arena.messages(Fuserank__V1__RequestHeader__MetadataEntry.self, count: keys.count) { index, entry in
            fuserank__v1__request_header__metadata_entry__init(entry)
            entry.pointee.key = arena.string(keys[index])
            entry.pointee.value = arena.string(metadata[keys[index]]!)
        }
        return packed(&c, size: fuserank__v1__request_header__get_packed_size, pack: fuserank__v1__request_header__pack)
    }

    public init(bytes: [UInt8]) throws(WireError) {
        self = try unpacked(
            bytes, name: Self.protoName,
            unpack: fuserank__v1__request_header__unpack, free: fuserank__v1__request_header__free_unpacked
        ) { c in
            var metadata: [String: String] = [:]
            for entry in swiftMessages(c.pointee.metadata, c.pointee.n_metadata, { $0 }) {
                metadata[swiftString(entry.key)] = swiftString(entry.value)
            }
            return RequestHeader(
                method: swiftString(c.pointee.method), requestID: c.pointee.request_id,
                timeoutMs: c.pointee.timeout_ms, metadata: metadata)
        }
    }
}
