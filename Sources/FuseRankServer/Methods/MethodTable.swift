import FuseRankWire

/// The method table: every method of the server and its stages. A call passes them in this order
/// (``FrontEnd/handle(_:)`` runs them, the same way for every method):
///
/// 1. **admit the caller** (``Admission``, before the body is read): the admin key
///    (PERMISSION_DENIED), then the serving state (UNAVAILABLE while starting or draining);
/// 2. **decode** the request body (INVALID_ARGUMENT);
/// 3. **admit the model**: look up the model the request names (NOT_FOUND), where it names one;
/// 4. **run** it where ``MethodPlacement`` says, and **encode** the reply there: on the front thread
///    at once, or on a worker or the loader thread, whose reply comes back through the ``ReplyQueue``.
///
/// | method            | admission          | model | runs on | its code                                        |
/// |-------------------|--------------------|-------|---------|-------------------------------------------------|
/// | Rank              | serving            | yes   | worker  | `FrontEnd+Rank` -> ``Worker`` (RankReply)         |
/// | Forecast          | serving            | yes   | worker  | `FrontEnd+Forecast` -> ``Worker`` (ForecastReply) |
/// | Health            | (none)             | no    | front   | `FrontEnd+Health`                               |
/// | GetModelInfo      | serving            | yes   | front   | `FrontEnd+ModelInfo`                            |
/// | GetItems          | serving            | yes   | front   | `FrontEnd+GetItems`                             |
/// | ReloadModels      | serving            | no    | loader  | `FrontEnd+ReloadModels` -> ``ModelLoader``        |
/// | UpsertItems       | admin key, serving | yes   | loader  | `FrontEnd+UpsertItems` -> ``LiveCatalogues``      |
/// | SetItemsAvailable | admin key, serving | yes   | loader  | `FrontEnd+SetItemsAvailable` -> ``LiveCatalogues``|
extension Method {
    /// This method's stages (the table above).
    var route: MethodRoute {
        switch self {
        case .rank:
            MethodRoute(MethodStages(
                admission: .serving, decode: RankRequest.init(bytes:), model: \.model, placement: .worker,
                run: { front, call, request, model in try front.queueRank(request, model: model!, call: call) }))
        case .forecast:
            MethodRoute(MethodStages(
                admission: .serving, decode: ForecastRequest.init(bytes:), model: \.model, placement: .worker,
                run: { front, call, request, model in try front.queueForecast(request, model: model!, call: call) }))
        case .health:
            MethodRoute(MethodStages(
                admission: [], decode: HealthRequest.init(bytes:), model: nil, placement: .front,
                run: { front, _, request, _ in .reply(front.health(request)) }))
        case .getModelInfo:
            MethodRoute(MethodStages(
                admission: .serving, decode: ModelInfoRequest.init(bytes:), model: \.model, placement: .front,
                run: { front, _, _, model in .reply(front.modelInfo(model!)) }))
        case .getItems:
            MethodRoute(MethodStages(
                admission: .serving, decode: GetItemsRequest.init(bytes:), model: \.model, placement: .front,
                run: { front, _, request, model in .reply(front.getItems(request, model: model!)) }))
        case .reloadModels:
            MethodRoute(MethodStages(
                admission: .serving, decode: ReloadModelsRequest.init(bytes:), model: nil, placement: .loader,
                run: { front, call, _, _ in try front.reloadModels(call: call) }))
        case .upsertItems:
            MethodRoute(MethodStages(
                admission: [.adminKey, .serving], decode: UpsertItemsRequest.init(bytes:), model: \.model, placement: .loader,
                run: { front, call, request, _ in try front.upsertItems(request, call: call) }))
        case .setItemsAvailable:
            MethodRoute(MethodStages(
                admission: [.adminKey, .serving], decode: SetItemsAvailableRequest.init(bytes:), model: \.model,
                placement: .loader,
                run: { front, call, request, _ in try front.setItemsAvailable(request, call: call) }))
        }
    }
}

/// What a call must pass before its body is read; checked in the order declared here.
struct Admission: OptionSet, Sendable {
    let rawValue: Int
    /// PERMISSION_DENIED unless the caller's key is an admin key (``AdminAccess``).
    static let adminKey = Admission(rawValue: 1 << 0)
    /// UNAVAILABLE unless the server is serving (it is starting or draining).
    static let serving = Admission(rawValue: 1 << 1)
}

/// Where a method runs, and so where its reply is encoded.
enum MethodPlacement: Sendable {
    /// On the front thread, at once.
    case front
    /// On a worker thread, queued in the ``WorkQueue``.
    case worker
    /// On the loader thread, after the scan in progress.
    case loader
}

/// What the run stage did.
enum MethodOutcome {
    /// Answered on the front thread: the encoded reply, sent at once.
    case reply([UInt8])
    /// Handed to a worker or the loader thread; exactly one reply comes later through the ``ReplyQueue``.
    case later
}

/// A call past its header: what every run stage may need.
struct MethodCall {
    /// The received message (socket, envelope, caller key).
    let incoming: IncomingCall
    /// Its header (request id, timeout).
    let header: RequestHeader
    /// Its metric labels, the model set once admitted; `received` starts the deadline.
    var info: CallInfo

    var requestID: UInt64 { header.requestID }
}

/// One method's stages, typed by its request message.
struct MethodStages<Request> {
    /// The caller's admission, before the body is read.
    let admission: Admission
    /// The body's decoder.
    let decode: ([UInt8]) throws -> Request
    /// The model name the request selects (the empty name: the default); nil = no model stage.
    let model: ((Request) -> String)?
    /// Where ``run`` does its work.
    let placement: MethodPlacement
    /// Runs the method (the model is the admitted one, nil without a model stage).
    let run: (FrontEnd, MethodCall, Request, ServedModel?) throws -> MethodOutcome
}

/// A method's stages, its request type erased: what ``FrontEnd/handle(_:)`` drives.
struct MethodRoute {
    let admission: Admission
    let placement: MethodPlacement
    /// Decode, admit the model, run.
    let decodeAdmitRun: (FrontEnd, inout MethodCall) throws -> MethodOutcome

    init<Request>(_ stages: MethodStages<Request>) {
        admission = stages.admission
        placement = stages.placement
        decodeAdmitRun = { front, call in
            let request = try stages.decode(call.incoming.content[1])
            var model: ServedModel?
            if let name = stages.model {
                let found = try front.servedModel(named: name(request))
                call.info.model = found.name
                model = found
            }
            return try stages.run(front, call, request, model)
        }
    }
}

extension FrontEnd {
    /// The admission stage every method passes (its ``Admission``), before its body is read.
    /// - Throws: ``RequestError`` PERMISSION_DENIED or UNAVAILABLE.
    func admit(_ call: IncomingCall, _ admission: Admission, method: String) throws {
        if admission.contains(.adminKey) { try admin.check(call.userID, method: method) }
        if admission.contains(.serving) && control.state != .serving {
            throw RequestError(code: .unavailable, message: "the server is \(control.state.rawValue) and takes no new requests")
        }
    }

    /// Queues a job for the workers.
    /// - Throws: ``RequestError`` UNAVAILABLE when the queue is full.
    func enqueue(_ push: () -> Bool) throws -> MethodOutcome {
        guard push() else {
            throw RequestError(
                code: .unavailable,
                message: "the server is overloaded: \(queue.capacity) requests are already queued; retry with backoff")
        }
        return .later
    }

    /// The deadline of a call: its header's timeout from when it was read (0: the server's default).
    func deadline(of call: MethodCall) -> ContinuousClock.Instant {
        let timeoutMs = call.header.timeoutMs == 0 ? configuration.defaultTimeoutMs : call.header.timeoutMs
        return (call.info.received ?? .now) + .milliseconds(Int64(timeoutMs))
    }
}
