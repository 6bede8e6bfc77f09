/// The kind of a behaviour event (`fuserank.v1.EventType`).
///
/// A struct rather than an enum so that numbers outside the known values survive decoding: the
/// server must see them to reject them with INVALID_ARGUMENT.
public struct EventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The number on the wire.
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `EVENT_TYPE_UNSPECIFIED` (0).
    public static let unspecified = EventType(rawValue: 0)
    /// `VIEW` (1).
    public static let view = EventType(rawValue: 1)
    /// `CLICK` (2).
    public static let click = EventType(rawValue: 2)
    /// `ADD_TO_CART` (3).
    public static let addToCart = EventType(rawValue: 3)
    /// `PURCHASE` (4).
    public static let purchase = EventType(rawValue: 4)
    /// `SEARCH` (5).
    public static let search = EventType(rawValue: 5)
    /// `RATE` (6).
    public static let rate = EventType(rawValue: 6)
    /// `FAVORITE` (7): added to a favourites or wish list. A model takes it when its config's
    /// `num_event_types` is 8 or more.
    public static let favorite = EventType(rawValue: 7)

    /// The known types, in number order.
    public static let allKnown: [EventType] = [.unspecified, .view, .click, .addToCart, .purchase, .search, .rate, .favorite]

    /// The proto name (`VIEW`, ...), or the number for a type this version does not know.
    public var description: String {
        switch rawValue {
        case 0: return "EVENT_TYPE_UNSPECIFIED"
        case 1: return "VIEW"
        case 2: return "CLICK"
        case 3: return "ADD_TO_CART"
        case 4: return "PURCHASE"
        case 5: return "SEARCH"
        case 6: return "RATE"
        case 7: return "FAVORITE"
        default: return "EventType(\(rawValue))"
        }
    }
}
