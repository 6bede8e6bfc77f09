import ArgumentParser
import Foundation
import FuseRankClient

/// Parses `--events 1,2,3` or `--events 1:click,2:view:1700000000000`: item id, optional event
/// type (name or number), optional timestamp in Unix ms; oldest first.
struct EventList: ExpressibleByArgument {
    /// The events as given; `typed` says whether the argument named the event's type.
    let entries: [(event: Event, typed: Bool)]

    init?(argument: String) {
        var entries: [(event: Event, typed: Bool)] = []
        for token in argument.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = token.split(separator: ":", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard (1...3).contains(parts.count), let id = Int64(parts[0]) else { return nil }
            var event = Event(itemID: id)
            if parts.count >= 2 {
                guard let type = Self.eventType(parts[1]) else { return nil }
                event.type = type
            }
            if parts.count == 3 {
                guard let ts = Int64(parts[2]) else { return nil }
                event.timestampMs = ts
            }
            entries.append((event, parts.count >= 2))
        }
        self.entries = entries
    }

    /// The events, those given without a type taking `defaultType`.
    func events(defaultType: EventType) -> [Event] {
        entries.map { entry in
            var event = entry.event
            if !entry.typed { event.type = defaultType }
            return event
        }
    }

    /// `view`, `VIEW`, `add_to_cart`, `add-to-cart` or a number.
    static func eventType(_ text: String) -> EventType? {
        if let number = Int32(text) { return EventType(rawValue: number) }
        let name = text.uppercased().replacingOccurrences(of: "-", with: "_")
        return EventType.allKnown.first { $0.description == name }
    }
}

/// Parses a comma-separated list of numbers, e.g. `--candidates 1,2,3` or `--image 0.1,-0.2`.
struct NumberList<Number: LosslessStringConvertible & Sendable>: ExpressibleByArgument {
    let values: [Number]

    init?(argument: String) {
        var values: [Number] = []
        for token in argument.split(separator: ",", omittingEmptySubsequences: true) {
            guard let value = Number(token.trimmingCharacters(in: .whitespaces)) else { return nil }
            values.append(value)
        }
        self.values = values
    }
}
