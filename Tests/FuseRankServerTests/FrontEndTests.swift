import Foundation
import FuseRankModel
import FuseRankTransport
import FuseRankWire
import Testing

@testable import FuseRankServer

/// The front thread's decisions that need a state the wire cannot produce on demand (a full
/// queue, draining), checked by driving `FrontEnd.handle` with real sockets and no workers.
@Suite struct FrontEndTests {
    /// A front end whose ROUTER is bound on inproc, a DEALER peer, and no workers: queued Rank jobs
    /// stay queued.
    final class Harness {
        let context: ZMQContext
        let router: ZMQSocket
        let dealer: ZMQSocket
        let queue: WorkQueue
        let control = ServerControl(logger: quietLogger)
        let front: FrontEnd

        init(queueCapacity: Int, models: [String] = [Fixtures.tiny]) throws {
            context = try ZMQContext()
            let name = "inproc://front-\(UUID().uuidString)"
            router = try ZMQSocket(context: context, type: .router)
            try router.setRouterMandatory(true)
            try router.bind(name)
            dealer = try ZMQSocket(context: context, type: .dealer)
            try dealer.setLinger(0)
            try dealer.connect(name)
            queue = WorkQueue(capacity: queueCapacity)
            var configuration = ServerConfiguration(bind: name, modelPaths: models)
            configuration.queueCapacity = queueCapacity
            let wake = try WakePipe()
            front = FrontEnd(
                sockets: [router], wake: wake, queue: queue, finished: ReplyQueue(wake: wake), workers: [],
                models: try ModelTable(bundlePaths: models), configuration: configuration, control: control,
                stats: ServerStats(), logger: quietLogger)
            control.transition(to: .serving)
        }

        deinit {
            dealer.close()
            router.close()
        }

        /// Sends a call from the peer, lets the front end handle it.
        /// - Returns: whether it was queued, and the reply if one came at once.
        func call(_ method: Method, id: UInt64, body: [UInt8]) throws -> (queued: Bool, reply: ReplyHeader?) {
            try dealer.send([[], RequestHeader(method: method, requestID: id).encode(), body])
            guard try zmqPoll(router, timeoutMs: 10_000).contains(.readable),
                let frames = try router.receiveMultipart(dontWait: true)
            else { throw PeerError(description: "the router received nothing") }
            let queued = front.handle(IncomingCall(frames: frames))
            guard try zmqPoll(dealer, timeoutMs: queued ? 20 : 10_000).contains(.readable),
                let reply = try dealer.receiveMultipart(dontWait: true)
            else { return (queued, nil) }
            return (queued, try ReplyHeader(bytes: reply[1]))
        }
    }

    @Test func fullQueueAnswersUnavailable() throws {
        let harness = try Harness(queueCapacity: 2)
        for id: UInt64 in [1, 2] {
            let result = try harness.call(.rank, id: id, body: RankRequest(topK: 1).encode())
            #expect(result.queued && result.reply == nil)
        }
        let refused = try harness.call(.rank, id: 3, body: RankRequest(topK: 1).encode())
        #expect(!refused.queued)
        #expect(refused.reply?.code == .unavailable && refused.reply?.requestID == 3)
        #expect(refused.reply?.message.contains("overloaded") == true)
        // Health is answered by the front thread even when the queue is full.
        #expect(try harness.call(.health, id: 4, body: []).reply?.code == .ok)
    }

    @Test func drainingRefusesNewWorkButAnswersHealth() throws {
        let harness = try Harness(queueCapacity: 8)
        harness.control.transition(to: .draining)
        let rank = try harness.call(.rank, id: 1, body: RankRequest().encode())
        #expect(!rank.queued && rank.reply?.code == .unavailable && rank.reply?.requestID == 1)
        #expect(rank.reply?.message.contains("draining") == true)
        #expect(try harness.call(.getModelInfo, id: 2, body: []).reply?.code == .unavailable)
        // Health: OK, not ready, state "draining".
        try harness.dealer.send([[], RequestHeader(method: .health, requestID: 3).encode(), []])
        #expect(try zmqPoll(harness.router, timeoutMs: 10_000).contains(.readable))
        let frames = try #require(try harness.router.receiveMultipart(dontWait: true))
        _ = harness.front.handle(IncomingCall(frames: frames))
        #expect(try zmqPoll(harness.dealer, timeoutMs: 10_000).contains(.readable))
        let reply = try #require(try harness.dealer.receiveMultipart(dontWait: true))
        #expect(try ReplyHeader(bytes: reply[1]).code == .ok)
        #expect(try HealthReply(bytes: reply[2]) == HealthReply(ready: false, state: "draining", models: ["tiny"], modelVersions: [ModelVersion(model: "tiny", version: "golden-1")]))
        #expect(harness.queue.count == 0)
    }

    /// The method table's admission, for every method: while starting or draining every method
    /// but Health gets UNAVAILABLE (before its body is read: an undecodable body too); the admin
    /// methods check the caller first (PERMISSION_DENIED, this harness has no admin).
    @Test func admissionOfEveryMethodWhileStartingOrDraining() throws {
        let harness = try Harness(queueCapacity: 8)
        for state in [LifecycleState.starting, .draining] {
            harness.control.transition(to: state)
            for (n, method) in Method.allCases.enumerated() {
                let id = UInt64(100 + n)
                let got = try harness.call(method, id: id, body: [0xFF, 0xFF])  // not a valid message
                let want: StatusCode
                switch method.route.admission {
                case []: want = .invalidArgument  // admitted; then the body does not decode
                case let a where a.contains(.adminKey): want = .permissionDenied
                default: want = .unavailable
                }
                #expect(!got.queued && got.reply?.code == want && got.reply?.requestID == id, "\(state) \(method): \(String(describing: got.reply))")
            }
            #expect(try harness.call(.health, id: 99, body: []).reply?.code == .ok)
        }
        #expect(Method.allCases.filter { $0.route.admission.isEmpty } == [.health])
        #expect(Method.allCases.filter { $0.route.admission.contains(.adminKey) } == [.upsertItems, .setItemsAvailable])
        #expect(harness.queue.count == 0)
    }

    @Test func rankJobsCarryTheDeadline() throws {
        let harness = try Harness(queueCapacity: 8)
        let before = ContinuousClock.now
        try harness.dealer.send([[], RequestHeader(method: .rank, requestID: 5, timeoutMs: 250).encode(), RankRequest().encode()])
        #expect(try zmqPoll(harness.router, timeoutMs: 10_000).contains(.readable))
        let frames = try #require(try harness.router.receiveMultipart(dontWait: true))
        #expect(harness.front.handle(IncomingCall(frames: frames)))
        let job = try #require(harness.queue.takeBatch(maxBatch: 1)?.first)
        #expect(job.requestID == 5)
        #expect(job.deadline >= before + .milliseconds(250))
        #expect(job.deadline <= ContinuousClock.now + .milliseconds(250))
        // timeout_ms 0 takes the server default (1000 ms).
        try harness.dealer.send([[], RequestHeader(method: .rank, requestID: 6).encode(), RankRequest().encode()])
        #expect(try zmqPoll(harness.router, timeoutMs: 10_000).contains(.readable))
        let second = try #require(try harness.router.receiveMultipart(dontWait: true))
        let received = ContinuousClock.now
        #expect(harness.front.handle(IncomingCall(frames: second)))
        let defaultJob = try #require(harness.queue.takeBatch(maxBatch: 1)?.first)
        #expect(defaultJob.deadline >= received + .milliseconds(1000))
        #expect(defaultJob.query.query.topK == 100, "top_k 0 over the whole catalogue takes the server default")
    }
}
