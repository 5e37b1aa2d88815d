import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client has stopped reading its answer: when the connection stays
/// unwritable — what the node has to send fills the system's buffers and the channel's, past its
/// high-water mark — for `limit`, the answer is abandoned and the connection closed. Without it a
/// client that asks for a trace or a streamed generation and never reads would hold a file, a
/// buffer and, for a stream, the generation's place in the queue for as long as it liked. The
/// idle close (30 s) does not apply while an answer is being written.
final class CloseStalledConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    /// How long a connection may stay unwritable.
    let limit: TimeAmount
    /// The close scheduled while the connection is unwritable.
    private var pending: Scheduled<Void>?

    init(limit: TimeAmount = .seconds(30)) { self.limit = limit }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            pending?.cancel()
            pending = nil
        } else if pending == nil {
            pending = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { context.close(promise: nil) }
        }
        context.fireChannelWritabilityChanged()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pending?.cancel()
        pending = nil
    }
}
