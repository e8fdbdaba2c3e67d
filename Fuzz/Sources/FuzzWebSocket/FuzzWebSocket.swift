// WebSocket frames as a client sends them: NIO's frame decoder (with the 1 MiB frame limit
// Carafe uses), then each frame through `WebSocketStateMachine` as `WebSocketHandler` feeds
// it, with the socket's writability and the ping timer driven by the input too.
@testable import CarafeHTTP
import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOWebSocket

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let events = input.byte()
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish() }
    try! channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
    let bytes = input.restBytes()
    do {
        try channel.writeInbound(ByteBuffer(bytes: bytes))
    } catch {
        return 0  // a protocol error NIO's decoder refused: the connection would close
    }
    var machine = WebSocketStateMachine()
    var index = 0
    while let frame = try? channel.readInbound(as: WebSocketFrame.self) {
        let writable = (events >> (index % 8)) & 1 == 0
        index += 1
        switch frame.opcode {
        case .connectionClose:
            _ = machine.receivedClose(WebSocketStateMachine.parseClose(frame.unmaskedData))
        case .ping:
            _ = machine.receivedPing(frame.unmaskedData, writable: writable)
        case .pong:
            _ = machine.receivedPong(frame.unmaskedData)
        default:
            if writable { _ = machine.becameWritable() } else { _ = machine.pingTimerFired() }
        }
    }
    if events & 0x80 != 0 { _ = machine.closeRequested(.normalClosure) }
    _ = machine.pingTimerFired()
    machine.channelClosed()
    check(machine.state == .closed, "not closed after the channel closed: \(machine.state)")
    return 0
}

runFuzzer { data, count in fuzz(data, count) }
