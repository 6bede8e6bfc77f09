import Foundation
import FuseRankModel
import FuseRankTransport
import FuseRankWire
import Logging

/// The front thread: owns the ROUTER socket (ZeroMQ sockets are not thread-safe), answers Health
/// and GetModelInfo itself, queues Rank jobs for the workers, and sends the workers' replies,
/// which arrive on an inproc PULL socket. It sleeps in `zmq_poll` until a socket or the wake pipe
/// is readable; it never busy-polls.
final class FrontEnd: Sendable {
    let router: ZMQSocket
    let replies: ZMQSocket
    let wake: WakePipe
    let queue: WorkQueue
    let workers: [Worker]
    let models: ModelRegistry
    let configuration: ServerConfiguration
    let control: ServerControl
    let stats: ServerStats
    let logger: Logger

    /// Most requests taken off the ROUTER per poll round, so replies are never starved.
    private static let receiveBurst = 256

    init(
        router: ZMQSocket, replies: ZMQSocket, wake: WakePipe, queue: WorkQueue, workers: [Worker],
        models: ModelRegistry, configuration: ServerConfiguration, control: ServerControl, stats: ServerStats,
        logger: Logger
    ) {
        self.router = router
        self.replies = replies
        self.wake = wake
        self.queue = queue
        self.workers = workers
        self.models = models
        self.configuration = configuration
        self.control = control
        self.stats = stats
        self.logger = logger
    }

    /// Serves until a stop is requested and every queued request is answered, then stops the
    /// workers and closes the sockets. Runs on the front thread.
    func run() {
        var poller = ZMQPoller()
        let routerItem = poller.add(router)
        let repliesItem = poller.add(replies)
        let wakeItem = poller.add(fileDescriptor: wake.fileDescriptor)
        var outstanding = 0  // Rank jobs queued or being ranked
        while true {
            if control.stopRequested && control.state == .serving {
                control.transition(to: .draining)
                logger.info("draining: \(outstanding) request(s) in flight")
            }
            if control.state == .draining && outstanding == 0 { break }
            let ready: [ZMQPollEvents]
            do {
                ready = try poller.poll(timeoutMs: control.state == .draining ? 100 : -1)
            } catch {
                logger.critical("zmq_poll failed, stopping: \(error)")
                control.transition(to: .draining)
                break
            }
            if ready[wakeItem].contains(.readable) { wake.drain() }
            if ready[repliesItem].contains(.readable) { outstanding -= forwardReplies() }
            if ready[routerItem].contains(.readable) { outstanding += receiveRequests().queued }
        }
        shutDown()
    }

    /// Closes the queue, joins the workers, sends their last replies, closes the sockets.
    private func shutDown() {
        // Requests that reached the socket before it closes still get their (UNAVAILABLE) reply.
        while receiveRequests().received == Self.receiveBurst {}
        queue.close()
        for worker in workers { worker.join() }
        _ = forwardReplies()
        replies.close()
        router.close()  // linger: replies already queued are still delivered
        logger.info("replies sent: \(stats.summary)")
    }

    /// Sends every reply the workers have pushed.
    /// - Returns: how many replies arrived.
    private func forwardReplies() -> Int {
        var count = 0
        while true {
            let frames: [[UInt8]]?
            do {
                frames = try replies.receiveMultipart(dontWait: true)
            } catch {
                logger.error("cannot read a worker reply: \(error)")
                return count
            }
            guard let frames else { return count }
            count += 1
            send(frames)
        }
    }

    /// Handles the requests waiting on the ROUTER socket (at most ``receiveBurst``).
    /// - Returns: how many requests were read, and how many of them became queued Rank jobs.
    private func receiveRequests() -> (received: Int, queued: Int) {
        var received = 0
        var queued = 0
        while received < Self.receiveBurst {
            let frames: [[UInt8]]?
            do {
                frames = try router.receiveMultipart(dontWait: true)
            } catch {
                logger.error("cannot receive a request: \(error)")
                break
            }
            guard let frames else { break }
            received += 1
            if handle(IncomingCall(frames: frames)) { queued += 1 }
        }
        return (received, queued)
    }

    /// Sends one reply on the ROUTER socket without blocking; a peer that is gone or not reading
    /// loses its reply (logged), the server does not wait for it.
    func send(_ frames: [[UInt8]]) {
        do {
            if try !router.send(frames, dontWait: true) {
                logger.warning("reply dropped: the client is not reading (send high-water mark reached)")
            }
        } catch where error.isHostUnreachable {
            logger.debug("reply dropped: the client disconnected")
        } catch {
            logger.error("cannot send a reply: \(error)")
        }
    }
}
