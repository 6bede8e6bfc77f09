import ArgumentParser
import Foundation
import FuseRankClient

/// `fuserank bench`: round-trip latency percentiles of Health or Rank through the Swift client.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure round-trip latency (p50/p90/p99) of Health or Rank calls.")

    /// The call to time.
    enum Call: String, ExpressibleByArgument, CaseIterable {
        case health, rank
    }

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "The call to time: health or rank.")
    var call: Call = .health

    @Option(help: "Calls to time (after --warmup untimed ones).")
    var requests = 1000

    @Option(help: "Untimed calls first.")
    var warmup = 50

    @Option(help: "Calls in flight at once (tasks sharing one client).")
    var concurrency = 1

    @Option(help: ArgumentHelp("Rank: the behaviour sequence (as for `rank`).", valueName: "events"))
    var events: EventList?

    @Option(help: "Rank: free-text query.")
    var query = ""

    @Option(name: .customLong("top-k"), help: "Rank: items to return.")
    var topK: UInt32 = 10

    func validate() throws {
        guard requests > 0, warmup >= 0, concurrency > 0 else {
            throw ValidationError("--requests and --concurrency must be positive, --warmup 0 or more")
        }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try connection.makeClient()
            defer { client.close() }
            let events = self.events?.events(defaultType: .rate) ?? [1, 2, 3].map { Event(itemID: $0, type: .rate) }
            let (call, query, topK) = (self.call, self.query, self.topK)
            let once: @Sendable () async throws -> Void = {
                switch call {
                case .health: _ = try await client.health()
                case .rank: _ = try await client.rank(events: events, query: query, topK: topK)
                }
            }
            for _ in 0..<warmup { try await once() }

            let clock = ContinuousClock()
            let started = clock.now
            let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
                let perTask = (0..<concurrency).map { requests / concurrency + ($0 < requests % concurrency ? 1 : 0) }
                for count in perTask {
                    group.addTask {
                        var times: [Duration] = []
                        times.reserveCapacity(count)
                        for _ in 0..<count {
                            let t0 = clock.now
                            try await once()
                            times.append(clock.now - t0)
                        }
                        return times
                    }
                }
                return try await group.reduce(into: [Duration]()) { $0 += $1 }
            }
            let elapsed = clock.now - started
            print(BenchReport(call: call.rawValue, concurrency: concurrency, latencies: latencies, elapsed: elapsed).text)
        }
    }
}

/// Percentiles of measured latencies, printed by `fuserank bench`.
struct BenchReport {
    let call: String
    let concurrency: Int
    let latencies: [Duration]
    let elapsed: Duration

    /// The `q` quantile (nearest rank) in milliseconds.
    func percentileMs(_ q: Double) -> Double {
        let sorted = latencies.sorted()
        let index = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return Self.ms(sorted[index])
    }

    static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }

    /// One line: call, count, concurrency, p50/p90/p99/max in ms, calls per second.
    var text: String {
        func f(_ x: Double) -> String { String(format: "%.3f", x) }
        let perSecond = Double(latencies.count) / max(1e-9, Self.ms(elapsed) / 1000)
        return "\(call): \(latencies.count) calls, concurrency \(concurrency): p50 \(f(percentileMs(0.5))) ms, "
            + "p90 \(f(percentileMs(0.9))) ms, p99 \(f(percentileMs(0.99))) ms, max \(f(percentileMs(1))) ms, "
            + "\(Int(perSecond.rounded())) calls/s"
    }
}
