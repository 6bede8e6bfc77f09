import Foundation
import FuseRankMetrics
import FuseRankModel
import FuseRankTransport
import FuseRankWire
import Logging

/// The front thread: owns every socket (ZeroMQ sockets are not thread-safe). It reads calls from
/// its sockets (the ROUTER it binds, and a DEALER per broker it connects to), answers the front
/// methods (Health, GetModelInfo, GetItems) itself, queues Rank and Forecast jobs for the workers
/// and hands reloads and catalogue changes to the loader thread, and sends every reply: its own and the
/// workers' and the loader's, which arrive in ``finished`` with a signal on the wake pipe. It sleeps in `zmq_poll`
/// until a socket or the wake pipe is readable; it never busy-polls. A reply goes back on the
/// socket its request came from (``IncomingCall/socket``).
///
/// The path of a call: ``run()`` -> ``receiveRequests(from:)`` -> ``handle(_:)`` -> the method
/// table (`Methods/MethodTable.swift`: admit the caller, decode, admit the model, run) -> one file
/// per method in `Methods/` -> a reply sent by ``send(_:)`` (Rank and Forecast: through a
/// ``Worker``; ReloadModels and the catalogue changes: through the ``ModelLoader``; all then
/// ``sendFinished()``).
package final class FrontEnd: Sendable {
    /// The sockets calls arrive on: the bound ROUTER (if any) and a DEALER per `--connect`
    /// endpoint. ``IncomingCall/socket`` and ``Reply/socket`` index this array.
    let sockets: [ZMQSocket]
    /// The kind of each socket in ``sockets``, in the same order.
    let sources: [CallSource]
    let wake: WakePipe
    let queue: WorkQueue
    let finished: ReplyQueue
    let workers: [Worker]
    let models: ModelTable
    let configuration: ServerConfiguration
    let control: ServerControl
    let stats: ServerStats
    let metrics: ServerMetrics
    /// Rescans repositories for ReloadModels; nil in tests that drive the front end alone.
    let loader: ModelLoader?
    /// Who may call UpsertItems and SetItemsAvailable.
    let admin: AdminAccess
    let logger: Logger

    /// Most requests taken off one socket per poll round, so replies are never starved.
    private static let receiveBurst = 256

    /// - Parameter sources: the kind of each socket in `sockets`; nil: all bound ROUTERs.
    package init(
        sockets: [ZMQSocket], sources: [CallSource]? = nil, wake: WakePipe, queue: WorkQueue, finished: ReplyQueue, workers: [Worker],
        models: ModelTable, configuration: ServerConfiguration, control: ServerControl, stats: ServerStats,
        metrics: ServerMetrics = ServerMetrics(), loader: ModelLoader? = nil, admin: AdminAccess = .refused, logger: Logger
    ) {
        self.admin = admin
        self.sockets = sockets
        self.sources = sources ?? Array(repeating: .bound, count: sockets.count)
        self.wake = wake
        self.queue = queue
        self.finished = finished
        self.workers = workers
        self.models = models
        self.configuration = configuration
        self.control = control
        self.stats = stats
        self.metrics = metrics
        self.loader = loader
        self.logger = logger
    }

    /// Serves until a stop is requested and every queued request is answered, then stops the
    /// workers and closes the sockets. Runs on the front thread.
    func run() {
        var poller = ZMQPoller()
        let socketItems = sockets.map { poller.add($0) }
        let wakeItem = poller.add(fileDescriptor: wake.fileDescriptor)
        var outstanding = 0  // Rank and Forecast jobs queued or running, and ReloadModels calls scanning
        var announcer = BrokerAnnouncer(links: sources.indices.filter { sources[$0] != .bound })
        while true {
            if control.stopRequested && (control.state == .serving || control.state == .starting) {
                control.startDraining(inFlight: outstanding)
                logger.info("draining: \(outstanding) request(s) in flight")
            }
            announcer.announce(state: control.state, on: sockets)
            if control.state == .draining && outstanding == 0 { break }
            let ready: [ZMQPollEvents]
            do {
                ready = try poller.poll(timeoutMs: control.state == .draining ? 100 : announcer.pollTimeoutMs(state: control.state))
            } catch {
                logger.critical("zmq_poll failed, stopping: \(error)")
                control.startDraining(inFlight: outstanding)
                break
            }
            if ready[wakeItem].contains(.readable) {
                wake.drain()  // before taking the replies: a reply pushed after this signals again
                outstanding -= sendFinished()
            }
            for (index, item) in socketItems.enumerated() where ready[item].contains(.readable) {
                outstanding += receiveRequests(from: index).queued
            }
            metrics.setQueueDepth(queue.count)
        }
        shutDown()
    }

    /// Closes the queue, joins the workers, sends their last replies, closes the sockets.
    private func shutDown() {
        // Requests that reached a socket before it closes still get their (UNAVAILABLE) reply.
        for index in sockets.indices {
            while receiveRequests(from: index).received == Self.receiveBurst {}
        }
        queue.close()
        for worker in workers { worker.join() }
        _ = sendFinished()
        for socket in sockets { socket.close() }  // linger: replies already queued are still delivered
        logger.info("replies sent: \(stats.summary)")
    }

    /// Sends every reply the workers have finished.
    /// - Returns: how many there were.
    private func sendFinished() -> Int {
        let replies = finished.takeAll()
        for reply in replies { send(reply) }
        return replies.count
    }

    /// Handles the requests waiting on one socket (at most ``receiveBurst``).
    /// - Parameter index: the socket's index in ``sockets``.
    /// - Returns: how many requests were read, and how many of them became queued Rank jobs.
    private func receiveRequests(from index: Int) -> (received: Int, queued: Int) {
        var received = 0
        var queued = 0
        while received < Self.receiveBurst {
            let message: (frames: [[UInt8]], userID: String?)?
            do {
                message = try sockets[index].receiveMessage(dontWait: true)
            } catch {
                logger.error("cannot receive a request: \(error)")
                break
            }
            guard let message else { break }
            received += 1
            let call = IncomingCall(frames: message.frames, socket: index, source: sources[index], userID: message.userID)
            if handle(call) { queued += 1 }
        }
        return (received, queued)
    }

    /// Answers or queues one call; every call gets exactly one reply, here or from a worker.
    /// - Parameter call: the received message.
    /// - Returns: true when the reply comes later: a queued Rank or Forecast job (from a worker)
    ///   or a ReloadModels call (from the loader).
    package func handle(_ call: IncomingCall) -> Bool {
        let received = ContinuousClock.now
        var info = CallInfo(received: received)
        var requestID: UInt64 = 0
        do {
            let content = call.content
            if let problem = call.framingProblem {
                requestID = content.first.flatMap { try? RequestHeader(bytes: $0) }?.requestID ?? 0
                throw RequestError.invalidArgument(problem)
            }
            let size = call.contentBytes
            if size > configuration.maxMessageBytes {
                if content[0].count <= configuration.maxMessageBytes {
                    requestID = (try? RequestHeader(bytes: content[0]))?.requestID ?? 0
                }
                throw RequestError(
                    code: .resourceExhausted,
                    message: "the request is \(size) bytes, the server's limit is \(configuration.maxMessageBytes)")
            }
            let header: RequestHeader
            do {
                header = try RequestHeader(bytes: content[0])
            } catch {
                throw RequestError.invalidArgument("cannot decode the RequestHeader frame: \(error)")
            }
            requestID = header.requestID
            guard let method = Method(path: header.method) else {
                throw RequestError(
                    code: .unimplemented,
                    message: "unknown method \"\(header.method)\"; this server implements "
                        + Method.allCases.map(\.path).joined(separator: ", "))
            }
            info.method = CallInfo.label(method)
            // The method table (Methods/MethodTable.swift): admit the caller, decode, admit the
            // model, run (and encode) where the method runs.
            let route = method.route
            try admit(call, route.admission, method: info.method)
            var methodCall = MethodCall(incoming: call, header: header, info: info)
            defer { info = methodCall.info }  // an error reply carries the admitted model too
            switch try route.decodeAdmitRun(self, &methodCall) {
            case let .reply(body):
                send(Reply.ok(socket: call.socket, envelope: call.envelope, requestID: requestID, body: body).labelled(methodCall.info))
                return false
            case .later:
                return true
            }
        } catch {
            let reply = Reply.failure(socket: call.socket, envelope: call.envelope, requestID: requestID, error: error).labelled(info)
            if reply.code == .internal {
                logger.error("request \(requestID): unexpected error \(error)")
            } else {
                logger.debug("request \(requestID): \(reply.code.name): \(reply.message)")
            }
            send(reply)
        }
        return false
    }

    /// The model version a request names (the empty name selects the default), or NOT_FOUND.
    /// The caller holds the instance for the whole request.
    func servedModel(named name: String) throws -> ServedModel {
        guard let model = models.model(named: name) else {
            throw RequestError(code: .notFound, message: models.notFoundMessage(name))
        }
        return model
    }

    /// Sends one reply on the socket its request came from, without blocking, and counts it: every
    /// reply of the server passes here. A peer that is gone or not reading loses its reply
    /// (logged); the server does not wait for it.
    package func send(_ reply: Reply) {
        stats.record(reply.code)
        if let received = reply.call.received {
            metrics.recordReply(
                method: reply.call.method, model: reply.call.model, code: reply.code.name, duration: .now - received)
        }
        do {
            if try !sockets[reply.socket].send(reply.frames, dontWait: true) {
                logger.warning("reply dropped: the client is not reading (send high-water mark reached)")
            }
        } catch where error.isHostUnreachable {
            logger.debug("reply dropped: the client disconnected")
        } catch {
            logger.error("cannot send a reply: \(error)")
        }
    }
}
