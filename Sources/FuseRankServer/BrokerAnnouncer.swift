import FuseRankTransport
import FuseRankWire

/// What the server tells its brokers on each `--connect` link (docs/wire.md, "Sockets and
/// framing"): `server-ready` every ``Framing/announceIntervalMs`` while serving, so a broker routes
/// calls to it (and not before its models are in), and `server-leaving` once when it starts
/// draining, so the broker stops sending it calls (sessions move to another replica at once).
/// Used by the front thread, which owns the sockets.
struct BrokerAnnouncer {
    /// Indices of the broker links among the front end's sockets.
    let links: [Int]
    private var next = ContinuousClock.now
    private var saidLeaving = false

    init(links: [Int]) {
        self.links = links
    }

    /// Sends what is due on every link. A link not connected now drops it (the next
    /// announcement goes once it is).
    mutating func announce(state: LifecycleState, on sockets: [ZMQSocket]) {
        guard !links.isEmpty else { return }
        let frame: [UInt8]
        switch state {
        case .serving:
            guard ContinuousClock.now >= next else { return }
            next = ContinuousClock.now + .milliseconds(Framing.announceIntervalMs)
            frame = Framing.serverReady
        case .draining:
            guard !saidLeaving else { return }
            saidLeaving = true
            frame = Framing.serverLeaving
        default:
            return
        }
        for link in links { _ = try? sockets[link].send([frame], dontWait: true) }
    }

    /// How long the front thread may sleep in `zmq_poll` (-1: until a socket or the wake pipe):
    /// until the next announcement while serving, 50 ms while starting (to announce soon after the
    /// models are in).
    func pollTimeoutMs(state: LifecycleState) -> Int {
        guard !links.isEmpty else { return -1 }
        switch state {
        case .starting: return 50
        case .serving: return ZMQPoller.timeoutMs(until: next, atMost: Framing.announceIntervalMs)
        default: return -1
        }
    }
}
