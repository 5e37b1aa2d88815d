import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection after a response that says `Connection: close`, which the node sends
/// when it refuses a request before reading all of its body (`NodeError.closesConnection`).
/// Once the answer is written the output is shut, so the client reads the whole answer and then
/// the end of the stream; the socket itself closes `linger` later, so that body bytes still on
/// their way do not make the client's system reset the connection before the answer is read.
final class CloseAfterRefusal: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long a refused connection stays open, reading and dropping, after its answer.
    static let linger: TimeAmount = .seconds(2)
    /// The response being written says `Connection: close`.
    private var closing = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case let .head(head):
            closing = head.headerFields[.connection] == "close"
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closing else { return context.write(data, promise: promise) }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) { context.close(promise: nil) }
            }
            if let promise { written.futureResult.cascade(to: promise) }
            context.writeAndFlush(data, promise: written)
        }
    }
}
