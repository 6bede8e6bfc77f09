import Foundation
import FuseRankModel
import FuseRankTransport
import FuseRankWire
import Logging

// The request path short of the socket, for the fuzzer (`Sources/fuserank-fuzz`, `make fuzz`):
// frames -> envelope split -> header and body decode -> validation -> queue -> ranking or
// forecasting -> reply, every reply read back through a real DEALER peer and checked. `package` access: only this
// package's executables can reach it.

/// One front end over an inproc ROUTER, a DEALER peer reading its replies, no worker threads:
/// queued Rank and Forecast jobs run inline, so one input is one deterministic pass.
package final class RequestPathHarness {
    let context: ZMQContext
    let router: ZMQSocket
    let peer: ZMQSocket
    let queue: WorkQueue
    let finished: ReplyQueue
    let front: FrontEnd
    let ranker: Ranker
    /// The forecaster of the second bundle, when one was given.
    let forecaster: Forecaster?
    static let peerID: [UInt8] = Array("fuzz-peer".utf8)

    /// - Parameters:
    ///   - tiny: a small bundle folder (the golden `tiny` fixture), the default model.
    ///   - forecasterBundle: a small forecaster bundle (the golden `forecaster` fixture), served
    ///     under its own name; nil: Forecast calls reach only FAILED_PRECONDITION.
    package init(bundle tiny: String, forecaster forecasterBundle: String? = nil) throws {
        context = try ZMQContext()
        router = try ZMQSocket(context: context, type: .router)
        try router.setRouterMandatory(true)
        try router.bind("inproc://fuzz")
        peer = try ZMQSocket(context: context, type: .dealer)
        try peer.setRoutingID(Self.peerID)
        try peer.setReceiveHighWaterMark(0)
        try peer.connect("inproc://fuzz")
        let paths = [tiny] + (forecasterBundle.map { [$0] } ?? [])
        var configuration = ServerConfiguration(bind: "inproc://fuzz", modelPaths: paths)
        configuration.maxMessageBytes = 2048  // below -max_len, so RESOURCE_EXHAUSTED is reachable
        queue = WorkQueue(capacity: 64)
        let wake = try WakePipe()
        finished = ReplyQueue(wake: wake)
        let models = try ModelTable(bundlePaths: paths)
        let control = ServerControl(logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
        control.transition(to: .serving)
        front = FrontEnd(
            sockets: [router], wake: wake, queue: queue, finished: finished, workers: [], models: models,
            configuration: configuration, control: control, stats: ServerStats(),
            logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
        ranker = Ranker(bundle: models.model(named: "")!.bundle!, maxBatch: 8)
        forecaster = models.snapshot.lazy.compactMap(\.forecaster).first.map { Forecaster(bundle: $0, maxSeries: 16) }
        // The peer's routing id is known to the ROUTER once the peer's first message arrives.
        try peer.send([[], RequestHeader(method: .health, requestID: 1).encode(), []])
        guard let hello = try router.receiveMultipart() else { fatalError("no hello") }
        _ = front.handle(IncomingCall(frames: hello))
        _ = try peer.receiveMultipart()
    }

    /// Frames from fuzzer bytes: the first byte's low bit says whether an empty delimiter
    /// follows the routing id; the rest splits into frames at each 0xF0 0x0F pair.
    package static func frames(_ data: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = [peerID]
        guard let first = data.first else { return frames }
        if first & 1 == 1 { frames.append([]) }
        var current: [UInt8] = []
        var i = 1
        while i < data.count {
            if data[i] == 0xF0 && i + 1 < data.count && data[i + 1] == 0x0F {
                frames.append(current)
                current = []
                i += 2
            } else {
                current.append(data[i])
                i += 1
            }
        }
        frames.append(current)
        return frames
    }

    /// Runs one input; traps when the path breaks a rule (a crash for libFuzzer).
    package func run(_ data: [UInt8]) {
        let call = IncomingCall(frames: Self.frames(data))
        let queued = front.handle(call)
        var expected = queued ? 0 : 1
        // Rank and Forecast jobs (and nothing else here) come back through the queue: run them inline.
        var forecastCall = false
        if queued {
            while queue.count > 0, let work = queue.take(maxBatch: 8) {
                switch work {
                case let .rank(batch):
                    let results = ranker.rank(batch.map(\.query))
                    for (job, result) in zip(batch, results) {
                        let reply = Reply.ok(
                            socket: job.socket, envelope: job.envelope, requestID: job.requestID,
                            body: RankReply(result: result, model: job.model).encode())
                        front.send(reply)
                        expected += 1
                    }
                case let .forecast(job):
                    guard let forecaster, forecaster.bundle === job.forecaster else { preconditionFailure("a Forecast job for another forecaster") }
                    let results = forecaster.forecast(job.query)
                    precondition(results.count == job.itemIDs.count, "\(results.count) forecasts for \(job.itemIDs.count) series")
                    for result in results {
                        precondition(result.mean.count == job.query.query.horizon, "a forecast of the wrong length")
                        precondition(result.mean.allSatisfy { $0.isFinite && $0 >= 0 }, "a mean that is negative or not finite")
                        precondition(
                            result.quantiles.allSatisfy { $0.allSatisfy { $0.isFinite && $0 >= 0 } }, "a quantile that is negative or not finite")
                    }
                    let reply = Reply.ok(
                        socket: job.socket, envelope: job.envelope, requestID: job.requestID,
                        body: ForecastReply(result: results, query: job.query, itemIDs: job.itemIDs).encode())
                    front.send(reply)
                    forecastCall = true
                    expected += 1
                }
            }
        }
        // Every call gets exactly one reply, with a decodable header.
        var got = 0
        while let reply = try? peer.receiveMultipart(dontWait: true) {
            got += 1
            precondition(reply.count >= 2, "a reply with \(reply.count) frames")
            let header = reply[reply.count - 2]
            guard let decoded = try? ReplyHeader(bytes: header) else { preconditionFailure("undecodable reply header") }
            if decoded.code == .ok {
                if forecastCall {
                    precondition((try? ForecastReply(bytes: reply[reply.count - 1])) != nil, "undecodable ForecastReply")
                } else {
                    precondition(!queued || (try? RankReply(bytes: reply[reply.count - 1])) != nil, "undecodable RankReply")
                }
            } else {
                precondition(reply[reply.count - 1].isEmpty, "an error reply with a body")
            }
        }
        precondition(got == expected, "\(got) replies for one call (expected \(expected))")
    }
}

