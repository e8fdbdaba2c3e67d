// A response's end (`Request.completion` in the framework) and the server's drain, for long-lived responses.
@_exported import class CarafeHTTP.DrainSignal
@_exported import class CarafeHTTP.ResponseCompletion
@_exported import struct CarafeHTTP.ResponseSummary
@_exported import struct Logging.Logger
// The HTTP vocabulary a Carafe app uses: statuses, methods, headers and byte buffers are NIO's own.
@_exported import struct NIOCore.ByteBuffer
@_exported import struct NIOCore.ByteBufferAllocator
@_exported import enum NIOCore.SocketAddress
@_exported import struct NIOHTTP1.HTTPHeaders
@_exported import enum NIOHTTP1.HTTPMethod
@_exported import struct NIOHTTP1.HTTPRequestHead
@_exported import enum NIOHTTP1.HTTPResponseStatus
@_exported import struct NIOHTTP1.HTTPVersion
@_exported import enum NIOWebSocket.WebSocketErrorCode

/// An HTTP response status: `.ok`, `.notFound`, `.custom(code: 418, reasonPhrase: "I'm a teapot")`.
public typealias HTTPStatus = HTTPResponseStatus
