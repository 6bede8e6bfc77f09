/// One behaviour event of a request: the user did something with an item.
public struct BehaviourEvent: Sendable, Equatable {
    /// External item id; an id not in the catalogue maps to the `[UNK]` row.
    public var itemID: Int64
    /// Event type, `0 ..< numEventTypes` (0 = unspecified).
    public var type: Int32
    /// Unix time in milliseconds; `<= 0` means "no timestamp".
    public var timestampMs: Int64
    /// Dwell time; carried on the wire, not used by format_versions 1 and 2.
    public var dwellMs: UInt32

    /// Creates an event.
    public init(itemID: Int64, type: Int32 = 0, timestampMs: Int64 = 0, dwellMs: UInt32 = 0) {
        self.itemID = itemID
        self.type = type
        self.timestampMs = timestampMs
        self.dwellMs = dwellMs
    }
}
