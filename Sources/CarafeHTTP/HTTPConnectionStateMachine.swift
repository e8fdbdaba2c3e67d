import NIOCore
import NIOHTTP1

/// The lifecycle of the requests on one connection (or one HTTP/2 stream), as a value: events
/// in, actions out, no I/O and no clock of its own (every event that depends on time takes
/// `now`). `HTTPRequestHandler` feeds it what the channel does and performs what it answers;
/// the unit tests drive it with a manual clock.
///
/// One request is in flight at a time (NIO's `HTTPServerPipelineHandler` holds back pipelined
/// ones). For each, the machine tracks the request side (no body, body arriving, ended) and
/// the response side (not started, head written, ended), and decides:
/// - whether the response closes the connection (`Connection: close`): the client asked to, it
///   half-closed, it asked to switch protocols, the server is draining, or an unread body is
///   left that is too large to discard;
/// - what happens to a body the response did not wait for: up to `maxDiscardedBody` bytes are
///   read and dropped, so the connection stays usable for the next request;
/// - when reading stops: while the body's consumer has enough, and while the socket is not
///   writable (`ReadGate`);
/// - the deadlines: no body byte for `bodyTimeout`, a body slower than `bodyMinRate` after
///   that grace period (408 before a response started, else a close), a socket not writable for
///   `writeTimeout` (close), a handler that has not answered within `handlerTimeout`, or the
///   deadline the responder set for the request's route (`setHandlerTimeout`): 503.
///
/// Draining (`quiesce`): a request in flight is answered with `Connection: close`; an idle
/// connection stays open, so that a request the client is already sending is answered (with
/// `Connection: close`) instead of lost; the keep-alive timeout or the graceful timeout ends it.
struct HTTPConnectionStateMachine {
    /// The limits the machine enforces; nil turns one off.
    struct Timeouts: Sendable, Equatable {
        /// No body byte for this long: 408 (or a close once a response started). Also the
        /// grace period before `bodyMinRate` applies.
        var bodyTimeout: TimeAmount?
        /// After `bodyTimeout`, the body must keep arriving at this many bytes a second on
        /// average (Apache's `RequestReadTimeout body=20,MinRate=500`).
        var bodyMinRate: Int?
        /// The socket not writable for this long (the client stopped reading): close.
        var writeTimeout: TimeAmount?
        /// The handler has not started its response this long after the head: cancel it, 503.
        var handlerTimeout: TimeAmount?
        /// Most bytes of an unread body that are read and dropped after an early response to
        /// keep the connection; a larger remainder closes it.
        var maxDiscardedBody: Int

        init(
            bodyTimeout: TimeAmount? = .seconds(20),
            bodyMinRate: Int? = 500,
            writeTimeout: TimeAmount? = .seconds(60),
            handlerTimeout: TimeAmount? = nil,
            maxDiscardedBody: Int = 64 * 1024
        ) {
            self.bodyTimeout = bodyTimeout
            self.bodyMinRate = bodyMinRate
            self.writeTimeout = writeTimeout
            self.handlerTimeout = handlerTimeout
            self.maxDiscardedBody = maxDiscardedBody
        }
    }

    /// How a request's body is framed, from its head.
    enum BodyLength: Equatable {
        case none
        case known(Int)
        case chunked
        /// `Content-Length` too large for this server to represent (RFC 9110 §8.6: digits only).
        case tooLarge(String)
        /// `Content-Length` that is not a length.
        case invalid(String)

        /// The framing `head` declares.
        static func of(_ head: HTTPRequestHead) -> BodyLength {
            if head.headers.contains(name: "transfer-encoding") { return .chunked }
            let values = head.headers[canonicalForm: "content-length"]
            guard let first = values.first else { return .none }
            let value = String(first)
            guard !value.isEmpty, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                return .invalid(value)
            }
            guard values.allSatisfy({ $0 == first }) else { return .invalid(values.joined(separator: ", ")) }
            guard let length = Int(value) else { return .tooLarge(value) }
            return length == 0 ? .none : .known(length)
        }
    }

    /// What the machine needs to know of a request head.
    struct RequestInfo: Equatable {
        var keepAlive: Bool
        var body: BodyLength
        var expectContinue: Bool
        /// `Upgrade` or `CONNECT`: NIO's parser reads nothing after such a request.
        var asksToSwitchProtocols: Bool

        init(keepAlive: Bool = true, body: BodyLength = .none, expectContinue: Bool = false, asksToSwitchProtocols: Bool = false) {
            self.keepAlive = keepAlive
            self.body = body
            self.expectContinue = expectContinue
            self.asksToSwitchProtocols = asksToSwitchProtocols
        }

        init(_ head: HTTPRequestHead) {
            self.keepAlive = head.isKeepAlive
            self.body = .of(head)
            self.expectContinue = head.headers.first(name: "expect")?.lowercased() == "100-continue"
            self.asksToSwitchProtocols = head.method == .CONNECT || head.headers.contains(name: "upgrade")
        }
    }

    /// How the server drains (`quiesce`).
    enum DrainMode: Equatable {
        /// Idle connections stay open for one more request (answered with `Connection: close`)
        /// until the keep-alive timeout: nothing a client already sent is lost.
        case linger
        /// Idle connections close at once (a quick stop, Ctrl-C).
        case closeIdle
    }

    private struct BodyProgress {
        var expected: Int?
        var received = 0
        var start: NIODeadline
        var lastByte: NIODeadline
        /// Set while the consumer has paused reading: that time does not count against the client.
        var pausedSince: NIODeadline?

        init(expected: Int?, now: NIODeadline) {
            self.expected = expected
            self.start = now
            self.lastByte = now
        }

        var remaining: Int? { self.expected.map { $0 - self.received } }

        mutating func resume(now: NIODeadline) {
            guard let since = self.pausedSince else { return }
            let paused = now - since
            self.start = self.start + paused
            self.lastByte = self.lastByte + paused
            self.pausedSince = nil
        }

        /// When the client has taken too long, under `timeouts`; nil while paused or unlimited.
        func deadline(_ timeouts: Timeouts) -> (NIODeadline, rate: Bool)? {
            guard self.pausedSince == nil, let idle = timeouts.bodyTimeout else { return nil }
            let idleDeadline = self.lastByte + idle
            guard let rate = timeouts.bodyMinRate, rate > 0 else { return (idleDeadline, false) }
            // Apache's MinRate: the grace period, extended by one second per `rate` bytes received.
            let credit = TimeAmount.nanoseconds(Int64(min(self.received, Int.max / 1_000_000_000)) * 1_000_000_000 / Int64(rate))
            let rateDeadline = self.start + idle + credit
            return rateDeadline < idleDeadline ? (rateDeadline, true) : (idleDeadline, false)
        }
    }

    private enum RequestSide {
        /// A request without a body: only its `.end` is to come.
        case awaitingEnd
        case receiving(BodyProgress)
        case ended
    }

    private struct Exchange {
        var number: Int
        var info: RequestInfo
        var request: RequestSide
        /// nil: not started; else whether its head said `Connection: close`.
        var responseHeadClose: Bool?
        /// The connection cannot be reused after this request (half-close, protocol switch).
        var mustClose: Bool
        var continueSent = false
        /// When the head arrived: what handler deadlines count from.
        var headAt: NIODeadline
        /// The handler deadline in force until the response starts: the app-wide one, or the
        /// one the responder set for the request's route.
        var handlerDeadline: HandlerDeadline?
    }

    /// A handler deadline, with its length and where it was set, for the 503's message.
    struct HandlerDeadline: Equatable {
        var at: NIODeadline
        var timeout: TimeAmount
        /// Where the limit was set: "the handler timeout" (app-wide), "the timeout of route GET /report".
        var origin: String
    }

    private enum State {
        /// Waiting for a request head; `endPending`: the last request was answered before its
        /// (empty) `.end` came through.
        case idle(endPending: Bool)
        case active(Exchange)
        /// The response is out; the rest of the body is read and dropped.
        case discarding(BodyProgress)
        /// `101` is written; the switch happens once the request's `.end` came through.
        case switching
        /// The connection speaks another protocol now: the machine has no say.
        case upgraded
        case closed
    }

    let timeouts: Timeouts
    private var state = State.idle(endPending: false)
    private(set) var readGate = ReadGate()
    private var readReleased = false
    private var notWritableSince: NIODeadline?
    private(set) var draining: DrainMode?
    private var requestCount = 0

    init(timeouts: Timeouts = Timeouts()) {
        self.timeouts = timeouts
    }

    // MARK: Requests

    enum HeadAction: Equatable {
        /// Hand the request to the responder as request `number`; make a body stream if `hasBody`.
        case dispatch(number: Int, hasBody: Bool)
        /// Answer with an error and close: the request cannot be served, nor what follows it.
        case reject(HTTPResponseStatus, String)
        /// A part out of order (NIO never delivers one): close.
        case close
    }

    mutating func receivedHead(_ info: RequestInfo, now: NIODeadline) -> HeadAction {
        guard case .idle = self.state else {
            self.state = .closed
            return .close
        }
        switch info.body {
        case .tooLarge(let value):
            self.state = .closed
            return .reject(.payloadTooLarge, "Content-Length \(value) is larger than this server accepts (at most \(Int.max) bytes).")
        case .invalid(let value):
            self.state = .closed
            return .reject(.badRequest, "Content-Length '\(value)' is not a valid length.")
        case .none, .known, .chunked:
            break
        }
        self.requestCount &+= 1
        let request: RequestSide
        switch info.body {
        case .known(let length): request = .receiving(BodyProgress(expected: length, now: now))
        case .chunked: request = .receiving(BodyProgress(expected: nil, now: now))
        default: request = .awaitingEnd
        }
        let exchange = Exchange(
            number: self.requestCount,
            info: info,
            request: request,
            responseHeadClose: nil,
            mustClose: info.asksToSwitchProtocols,
            headAt: now,
            handlerDeadline: self.timeouts.handlerTimeout.map { HandlerDeadline(at: now + $0, timeout: $0, origin: "the handler timeout") }
        )
        self.state = .active(exchange)
        if case .receiving = request { return .dispatch(number: self.requestCount, hasBody: true) }
        return .dispatch(number: self.requestCount, hasBody: false)
    }

    enum BodyPartAction: Equatable {
        /// Pass it to the body's consumer.
        case deliver
        /// Read and dropped (the response did not wait for it).
        case drop
        /// More than may be discarded, or out of order: close.
        case close
    }

    mutating func receivedBodyPart(bytes: Int, now: NIODeadline) -> BodyPartAction {
        switch self.state {
        case .active(var exchange):
            guard case .receiving(var progress) = exchange.request else { return .drop }
            progress.received += bytes
            progress.lastByte = now
            exchange.request = .receiving(progress)
            self.state = .active(exchange)
            return .deliver
        case .discarding(var progress):
            progress.received += bytes
            progress.lastByte = now
            guard progress.received <= self.timeouts.maxDiscardedBody else {
                self.state = .closed
                return .close
            }
            self.state = .discarding(progress)
            return .drop
        case .idle, .switching, .upgraded:
            return .drop
        case .closed:
            return .drop
        }
    }

    enum EndAction: Equatable {
        /// The body's consumer sees its end.
        case finishBody
        /// Nothing to do (a request without a body, or a discarded one).
        case none
        /// The request that switched protocols has ended: switch now.
        case switchProtocols
        /// The discarded rest of a body has ended: the connection is idle again.
        case discardEnded
    }

    mutating func receivedEnd(now: NIODeadline) -> EndAction {
        switch self.state {
        case .active(var exchange):
            let hadBody: Bool
            if case .receiving = exchange.request { hadBody = true } else { hadBody = false }
            exchange.request = .ended
            self.state = .active(exchange)
            // Nothing more of this request is to be read; what follows is the next request,
            // which NIO's pipeline handler holds back.
            self.setConsumerPaused(false)
            return hadBody ? .finishBody : .none
        case .idle(endPending: true):
            self.state = .idle(endPending: false)
            return .none
        case .discarding:
            self.state = .idle(endPending: false)
            return .discardEnded
        case .switching:
            self.state = .upgraded
            return .switchProtocols
        case .idle, .upgraded, .closed:
            return .none
        }
    }

    /// The responder first reads a body the client holds back (`Expect: 100-continue`): true
    /// to send `100 Continue` now.
    mutating func continueRequested(number: Int) -> Bool {
        guard case .active(var exchange) = self.state, exchange.number == number, exchange.responseHeadClose == nil,
            exchange.info.expectContinue, !exchange.continueSent, case .receiving = exchange.request
        else { return false }
        exchange.continueSent = true
        self.state = .active(exchange)
        return true
    }

    /// The responder set a handler deadline of its own for request `number` (a route's or a
    /// blueprint's `timeout:`): it replaces the app-wide one, and counts from the request head,
    /// as that one does. `origin` names where it was set (`the timeout of route GET /report`),
    /// for the 503's message. False if the request is no longer current or its response started.
    @discardableResult
    mutating func setHandlerTimeout(number: Int, _ timeout: TimeAmount, origin: String) -> Bool {
        guard case .active(var exchange) = self.state, exchange.number == number, exchange.responseHeadClose == nil else {
            return false
        }
        exchange.handlerDeadline = HandlerDeadline(at: exchange.headAt + timeout, timeout: timeout, origin: origin)
        self.state = .active(exchange)
        return true
    }

    // MARK: Responses

    enum ResponseHeadAction: Equatable {
        /// Write the head; with `Connection: close` if `close`.
        case write(close: Bool)
        /// The request is no longer current (the connection closed, a timeout answered it).
        case drop
    }

    /// The responder's head for request `number`; `wantsClose`: its headers say `Connection: close`.
    mutating func startResponse(number: Int, wantsClose: Bool) -> ResponseHeadAction {
        guard case .active(var exchange) = self.state, exchange.number == number, exchange.responseHeadClose == nil else {
            return .drop
        }
        var close = !exchange.info.keepAlive || exchange.mustClose || wantsClose || self.draining != nil
        switch exchange.request {
        case .awaitingEnd, .ended:
            break
        case .receiving(let progress):
            // A body the handler did not read: discard it if it is small and on its way.
            let waitingForContinue = exchange.info.expectContinue && !exchange.continueSent
            if waitingForContinue || (progress.remaining ?? Int.max) > self.timeouts.maxDiscardedBody {
                close = true
            }
        }
        exchange.responseHeadClose = close
        exchange.handlerDeadline = nil
        self.state = .active(exchange)
        return .write(close: close)
    }

    enum ResponseEndAction: Equatable {
        /// Write the end, then keep the connection open for the next request.
        case writeEnd
        /// Write the end, then close.
        case writeEndAndClose
        /// The response cannot be framed (a producer failed, or wrote the wrong length): close
        /// without ending it.
        case close
        /// The request is no longer current.
        case drop
    }

    /// The response to request `number` is complete (`complete`: framed as announced).
    mutating func endResponse(number: Int, complete: Bool, now: NIODeadline) -> ResponseEndAction {
        guard case .active(let exchange) = self.state, exchange.number == number, let close = exchange.responseHeadClose else {
            return .drop
        }
        guard complete else {
            self.state = .closed
            return .close
        }
        if close || self.draining == .closeIdle {
            self.state = .closed
            return .writeEndAndClose
        }
        switch exchange.request {
        case .ended:
            self.state = .idle(endPending: false)
        case .awaitingEnd:
            self.state = .idle(endPending: true)
        case .receiving(var progress):
            // The consumer is gone; from now on the discard's own clock runs.
            progress.pausedSince = nil
            progress.lastByte = now
            self.state = .discarding(progress)
            self.setConsumerPaused(false)
        }
        return .writeEnd
    }

    enum SwitchAction: Equatable {
        /// Replace the HTTP handlers now.
        case switchNow
        /// Once the request's `.end` came through (`receivedEnd` answers `.switchProtocols`).
        case afterEnd
        /// The request is no longer current.
        case drop
    }

    /// `101 Switching Protocols` for request `number` is about to be written.
    mutating func switchingProtocols(number: Int) -> SwitchAction {
        guard case .active(let exchange) = self.state, exchange.number == number, exchange.responseHeadClose == nil else {
            return .drop
        }
        switch exchange.request {
        case .ended:
            self.state = .upgraded
            return .switchNow
        case .awaitingEnd, .receiving:
            self.state = .switching
            return .afterEnd
        }
    }

    /// Request `number`, an HTTP/2 extended CONNECT (RFC 8441), is about to be accepted with
    /// `200`: its stream becomes a tunnel at once. There is no request end to wait for, as
    /// there is after a `101`: the stream's DATA frames from now on are the new protocol's.
    /// False if the request is no longer current or its response has started.
    mutating func openingTunnel(number: Int) -> Bool {
        guard case .active(let exchange) = self.state, exchange.number == number, exchange.responseHeadClose == nil else {
            return false
        }
        self.state = .upgraded
        return true
    }

    /// Request `number`'s streamed response, whose head is out, leaves HTTP: its connection
    /// becomes a detached stream (`DetachedStream`) and will not carry another request. Only
    /// once the request has nothing more to read: `.afterEnd` if its `.end` is still to come;
    /// `.drop` while a body is still arriving (the stream stays with its task) or if the
    /// request is no longer current.
    mutating func detachingStream(number: Int) -> SwitchAction {
        guard case .active(let exchange) = self.state, exchange.number == number, exchange.responseHeadClose != nil else {
            return .drop
        }
        switch exchange.request {
        case .ended:
            self.state = .upgraded
            return .switchNow
        case .awaitingEnd:
            self.state = .switching
            return .afterEnd
        case .receiving:
            return .drop
        }
    }

    // MARK: Backpressure

    /// A `read()` came down the pipeline: true to pass it on.
    mutating func readRequested() -> Bool {
        self.readGate.read()
    }

    /// The body's consumer has enough for now.
    mutating func bodyConsumerPaused(now: NIODeadline) {
        guard case .active(var exchange) = self.state, case .receiving(var progress) = exchange.request else { return }
        if progress.pausedSince == nil { progress.pausedSince = now }
        exchange.request = .receiving(progress)
        self.state = .active(exchange)
        self.setConsumerPaused(true)
    }

    /// The consumer of request `number`'s body wants more, or has gone (then what comes is
    /// dropped).
    mutating func bodyConsumerResumed(number: Int, now: NIODeadline) {
        guard case .active(var exchange) = self.state, exchange.number == number else { return }
        if case .receiving(var progress) = exchange.request {
            progress.resume(now: now)
            exchange.request = .receiving(progress)
            self.state = .active(exchange)
        }
        self.setConsumerPaused(false)
    }

    /// The socket became writable or not.
    mutating func writabilityChanged(writable: Bool, now: NIODeadline) {
        if writable {
            self.notWritableSince = nil
        } else if self.notWritableSince == nil {
            self.notWritableSince = now
        }
        if self.readGate.setSocketFull(!writable) { self.readReleased = true }
    }

    private mutating func setConsumerPaused(_ paused: Bool) {
        if self.readGate.setConsumerPaused(paused) { self.readReleased = true }
    }

    /// True once after an event opened the gate on a held-back `read()`: issue it now.
    mutating func takeReleasedRead() -> Bool {
        defer { self.readReleased = false }
        return self.readReleased
    }

    // MARK: Time

    /// Which limit a deadline enforces.
    enum Limit: Equatable {
        case bodyIdle, bodyRate, discard, write, handler
    }

    /// The earliest deadline now in force, and its limit; nil if none.
    var nextDeadline: (at: NIODeadline, limit: Limit)? {
        var next: (at: NIODeadline, limit: Limit)?
        func consider(_ at: NIODeadline?, _ limit: Limit) {
            guard let at else { return }
            if next == nil || at < next!.at { next = (at, limit) }
        }
        switch self.state {
        case .active(let exchange):
            if case .receiving(let progress) = exchange.request, let (at, rate) = progress.deadline(self.timeouts) {
                consider(at, rate ? .bodyRate : .bodyIdle)
            }
            consider(exchange.handlerDeadline?.at, .handler)
        case .discarding(let progress):
            if let (at, _) = progress.deadline(self.timeouts) { consider(at, .discard) }
        case .idle, .switching, .upgraded, .closed:
            break
        }
        if case .upgraded = self.state {
        } else if let since = self.notWritableSince, let limit = self.timeouts.writeTimeout {
            consider(since + limit, .write)
        }
        return next
    }

    enum TimerAction: Equatable {
        case none
        /// Answer with this error (408, 503) and close; the handler's task is cancelled.
        case reject(HTTPResponseStatus, String, retryAfter: Bool)
        /// Close the connection (a response already started, or the socket is stuck); the
        /// message says why, for the log.
        case close(String)
    }

    /// The timer fired: act on whatever deadline has passed by `now`.
    mutating func timerFired(now: NIODeadline) -> TimerAction {
        guard let (at, limit) = self.nextDeadline, at <= now else { return .none }
        let responseStarted: Bool
        var handlerDeadline: HandlerDeadline?
        if case .active(let exchange) = self.state {
            responseStarted = exchange.responseHeadClose != nil
            handlerDeadline = exchange.handlerDeadline
        } else {
            responseStarted = true
        }
        self.state = .closed
        switch limit {
        case .bodyIdle:
            let message = "No request body bytes arrived for \(Self.describe(self.timeouts.bodyTimeout)) (the body timeout)."
            return responseStarted ? .close(message) : .reject(.requestTimeout, message, retryAfter: false)
        case .bodyRate:
            let message =
                "The request body arrived slower than \(self.timeouts.bodyMinRate ?? 0) bytes/s after "
                + "\(Self.describe(self.timeouts.bodyTimeout)) (the body minimum rate)."
            return responseStarted ? .close(message) : .reject(.requestTimeout, message, retryAfter: false)
        case .discard:
            return .close("the unread rest of a request body did not arrive within \(Self.describe(self.timeouts.bodyTimeout))")
        case .write:
            return .close("the client read nothing for \(Self.describe(self.timeouts.writeTimeout)) (the write timeout)")
        case .handler:
            return .reject(
                .serviceUnavailable,
                "The handler did not answer within \(Self.describe(handlerDeadline?.timeout)) (\(handlerDeadline?.origin ?? "the handler timeout")).",
                retryAfter: true
            )
        }
    }

    static func describe(_ amount: TimeAmount?) -> String {
        guard let amount else { return "-" }
        let ms = amount.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }

    // MARK: The connection

    enum QuiesceAction: Equatable {
        case none
        case close
    }

    /// The server is draining. See the type's description.
    mutating func quiesce(_ mode: DrainMode) -> QuiesceAction {
        if self.draining != .closeIdle { self.draining = mode }
        switch self.state {
        case .idle where mode == .closeIdle:
            self.state = .closed
            return .close
        case .discarding where mode == .closeIdle:
            self.state = .closed
            return .close
        default:
            return .none
        }
    }

    enum InputClosedAction: Equatable {
        /// Nothing is in flight: close.
        case close
        /// A request is in flight: its handler is cancelled and its body fails, as for a
        /// closed connection; whatever response it still makes is written, then the server
        /// closes (a FIN cannot tell a half-close from a close).
        case cancelRequest
        case none
    }

    mutating func inputClosed() -> InputClosedAction {
        switch self.state {
        case .active(var exchange):
            exchange.mustClose = true
            if exchange.responseHeadClose == false { exchange.responseHeadClose = true }
            if case .receiving = exchange.request { exchange.request = .ended }
            self.state = .active(exchange)
            return .cancelRequest
        case .idle, .discarding:
            self.state = .closed
            return .close
        case .switching, .upgraded, .closed:
            return .none
        }
    }

    enum ErrorAction: Equatable {
        /// Answer 400 (or 431) and close; fail the body if one is streaming.
        case reject
        /// Close; fail the body if one is streaming.
        case close
        case none
    }

    /// The parser failed: the bytes that follow cannot be framed.
    mutating func parserError() -> ErrorAction {
        switch self.state {
        case .active(let exchange):
            self.state = .closed
            return exchange.responseHeadClose == nil ? .reject : .close
        case .idle:
            self.state = .closed
            return .reject
        case .discarding:
            self.state = .closed
            return .close
        case .switching, .upgraded, .closed:
            return .none
        }
    }

    /// The server wrote an answer of its own (a limit, an error) and closes.
    mutating func rejected() {
        self.state = .closed
    }

    mutating func channelInactive() {
        if case .upgraded = self.state { return }
        self.state = .closed
    }

    // MARK: For the adapter and the tests

    /// Whether request `number` is the one in flight.
    func isCurrent(_ number: Int) -> Bool {
        if case .active(let exchange) = self.state { return exchange.number == number }
        return false
    }

    var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = self.state { return true }
        return false
    }

    var isUpgraded: Bool {
        switch self.state {
        case .switching, .upgraded: return true
        default: return false
        }
    }

    var isDiscarding: Bool {
        if case .discarding = self.state { return true }
        return false
    }
}
