import Foundation
import FuseRankTransport
import FuseRankWire

/// One request as the fake server received it.
struct ReceivedCall: Sendable {
    /// The decoded request header.
    let header: RequestHeader
    /// The request frame.
    let body: [UInt8]
    /// 0 for the first request the server saw, 1 for the next, ...
    let index: Int
}

/// A message the fake server sends back: usually `[header][reply]`, or raw frames after the envelope.
enum FakeReply: Sendable {
    case reply(ReplyHeader, [UInt8])
    case rawFrames([[UInt8]])

    /// An OK reply to `call` carrying `message`.
    static func ok(_ call: ReceivedCall, _ message: some WireMessage) -> FakeReply {
        .reply(ReplyHeader(requestID: call.header.requestID, code: .ok), message.encode())
    }

    /// An error reply to `call`.
    static func error(_ call: ReceivedCall, _ code: StatusCode, _ message: String) -> FakeReply {
        .reply(ReplyHeader(requestID: call.header.requestID, code: code, message: message), [])
    }
}

/// A real ROUTER socket on a loopback port, served by its own thread, that answers each request
/// with whatever `handler` returns (nothing = drop the request). Stands in for the server.
// @unchecked Sendable: `received`, `stop`, `waiters`, `expiredWaiters` and `nextWaiter` are guarded
// by `lock`; the socket is used only by the server thread after init hands it over.
final class FakeRanker: @unchecked Sendable {
    typealias Handler = @Sendable (ReceivedCall) -> [FakeReply]

    let endpoint: String
    private let lock = NSLock()
    private var received: [ReceivedCall] = []
    private var stop = false
    private var waiters: [Int: (count: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
    private var expiredWaiters: Set<Int> = []
    private var nextWaiter = 0
    private let done = DispatchSemaphore(value: 0)

    /// Binds `endpoint` (a free loopback port by default) and starts serving.
    init(endpoint: String = "tcp://127.0.0.1:*", handler: @escaping Handler) throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setLinger(0)
        try router.bind(endpoint)
        self.endpoint = try router.lastEndpoint()
        let thread = Thread { [self] in serve(router, handler) }
        thread.start()
    }

    /// The requests received so far.
    var calls: [ReceivedCall] { lock.withLock { received } }

    /// Suspends until the server has received at least `count` requests (a call is then waiting
    /// for its reply), without polling: the server thread resumes the waiter.
    /// - Parameters:
    ///   - count: How many requests to wait for.
    ///   - timeout: How long to wait at most.
    /// - Returns: Whether `count` requests arrived before the timeout.
    func waitForCalls(_ count: Int, timeout: Duration = .seconds(10)) async -> Bool {
        let id = lock.withLock {
            nextWaiter += 1
            return nextWaiter
        }
        let timer = Task { [self] in
            try? await Task.sleep(for: timeout)
            let waiter = lock.withLock {
                let waiter = waiters.removeValue(forKey: id)
                if waiter == nil { expiredWaiters.insert(id) }
                return waiter
            }
            waiter?.continuation.resume(returning: false)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let now: Bool? = lock.withLock {
                if received.count >= count { return true }
                if expiredWaiters.remove(id) != nil { return false }
                waiters[id] = (count, continuation)
                return nil
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Stops the thread and closes the socket (the port is free afterwards).
    func shutdown() {
        let first = lock.withLock {
            defer { stop = true }
            return !stop
        }
        if first { done.wait() }
    }

    deinit { shutdown() }

    private func serve(_ router: ZMQSocket, _ handler: Handler) {
        while !lock.withLock({ stop }) {
            guard (try? zmqPoll(router, timeoutMs: 10))?.contains(.readable) == true,
                let frames = try? router.receiveMultipart(dontWait: true),
                frames.count == 4, frames[1].isEmpty,
                let header = try? RequestHeader(bytes: frames[2])
            else { continue }
            let (call, satisfied) = lock.withLock {
                let call = ReceivedCall(header: header, body: frames[3], index: received.count)
                received.append(call)
                let satisfied = waiters.filter { $0.value.count <= received.count }
                for id in satisfied.keys { waiters.removeValue(forKey: id) }
                return (call, satisfied.values.map(\.continuation))
            }
            for continuation in satisfied { continuation.resume(returning: true) }
            for reply in handler(call) {
                switch reply {
                case .reply(let replyHeader, let body):
                    _ = try? router.send([frames[0], [], replyHeader.encode(), body])
                case .rawFrames(let raw):
                    _ = try? router.send([frames[0], []] + raw)
                }
            }
        }
        router.close()
        done.signal()
    }
}
