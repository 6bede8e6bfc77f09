import Foundation
import FuseRankModel
import FuseRankServer
import FuseRankTransport
import FuseRankWire
import Logging

// The request path short of the socket, for the fuzzer (`make fuzz`): frames -> envelope split ->
// the method table (admit, decode, admit the model, run) -> queue -> the real `Worker.process`
// (ranking or forecasting on the version's engines) -> reply, every reply read back through a real
// DEALER peer and checked. It reaches the server's `package` API only.

/// One front end over an inproc ROUTER, a DEALER peer reading its replies, and one worker whose
/// thread is never started: queued Rank and Forecast jobs run inline through ``Worker/process(_:)``,
/// so one input is one deterministic pass.
final class RequestPathHarness {
    let context: ZMQContext
    let router: ZMQSocket
    let peer: ZMQSocket
    let queue: WorkQueue
    let finished: ReplyQueue
    let front: FrontEnd
    let worker: Worker
    static let peerID: [UInt8] = Array("fuzz-peer".utf8)

    /// - Parameters:
    ///   - tiny: a small bundle folder (the golden `tiny` fixture), the default model.
    ///   - forecasterBundle: a small forecaster bundle (the golden `forecaster` fixture), served
    ///     under its own name; nil: Forecast calls reach only FAILED_PRECONDITION.
    init(bundle tiny: String, forecaster forecasterBundle: String? = nil) throws {
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
        // The server's load path: load, warm up, build the one worker's engines, publish.
        let models = ModelTable()
        let loading = VersionLoading(
            warmUp: { try ModelWarmUp.run($0, maxBatch: 8) }, engines: ModelEngines.Shape(workers: 1, maxBatch: 8))
        for path in paths {
            let contents = try loading.loadAndWarmUp(path)
            models.publish(try loading.prepared(contents, name: contents.name, version: contents.version, origin: .fixed))
        }
        let control = ServerControl(logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
        control.transition(to: .serving)
        let stats = ServerStats()
        worker = Worker(index: 0, queue: queue, finished: finished, maxBatch: 8, stats: stats)
        front = FrontEnd(
            sockets: [router], wake: wake, queue: queue, finished: finished, workers: [worker], models: models,
            configuration: configuration, control: control, stats: stats,
            logger: Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() }))
        // The peer's routing id is known to the ROUTER once the peer's first message arrives.
        try peer.send([[], RequestHeader(method: .health, requestID: 1).encode(), []])
        guard let hello = try router.receiveMultipart() else { fatalError("no hello") }
        _ = front.handle(IncomingCall(frames: hello))
        _ = try peer.receiveMultipart()
    }

    /// Frames from fuzzer bytes: the first byte's low bit says whether an empty delimiter
    /// follows the routing id; the rest splits into frames at each 0xF0 0x0F pair.
    static func frames(_ data: [UInt8]) -> [[UInt8]] {
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
    func run(_ data: [UInt8]) {
        let call = IncomingCall(frames: Self.frames(data))
        let queued = front.handle(call)
        var expected = queued ? 0 : 1
        // Rank and Forecast jobs (and nothing else here) come back through the queue: the worker
        // runs them inline, and the front end sends its replies as it sends the worker thread's.
        var forecastCall = false
        if queued {
            while queue.count > 0, let work = queue.take(maxBatch: 8) {
                if case .forecast = work { forecastCall = true }
                for reply in worker.process(work) {
                    front.send(reply)
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
            precondition(decoded.code != .internal, "INTERNAL: \(decoded.message)")
            if decoded.code == .ok {
                if forecastCall {
                    guard let forecast = try? ForecastReply(bytes: reply[reply.count - 1]) else {
                        preconditionFailure("undecodable ForecastReply")
                    }
                    for series in forecast.forecasts {
                        precondition(series.mean.allSatisfy { $0.isFinite && $0 >= 0 }, "a mean that is negative or not finite")
                        precondition(
                            series.quantiles.allSatisfy { $0.values.count == series.mean.count && $0.values.allSatisfy { $0.isFinite && $0 >= 0 } },
                            "a quantile that is negative, not finite or of the wrong length")
                    }
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
