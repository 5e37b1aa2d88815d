import XCTest
import NIOCore
import NIOEmbedded
import HTTPTypes
import NIOHTTPTypes
@testable import LockstepServer

/// The node's two connection guards on an embedded channel, with time advanced by hand.
final class ConnectionGuardTests: XCTestCase {
    /// A connection unwritable for the whole limit is closed; one that becomes writable again in
    /// time is not, and its clock starts over.
    func testAStalledConnectionIsClosedAfterItsLimit() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: CloseStalledConnection(limit: .seconds(30)), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        func stall(_ stalled: Bool) {
            channel.isWritable = !stalled
            channel.pipeline.fireChannelWritabilityChanged()
        }
        stall(true)
        loop.advanceTime(by: .seconds(20))
        stall(false)   // the client read again
        loop.advanceTime(by: .seconds(20))
        XCTAssertTrue(channel.isActive)
        stall(true)
        loop.advanceTime(by: .seconds(29))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        XCTAssertFalse(channel.isActive)
    }

    /// A response that says `Connection: close` is written whole, and then the connection is
    /// closed (by `linger` at the latest: an embedded channel has no half-closed state, so the
    /// output's shutdown closes it at once); any other response leaves it open. (That a client
    /// reads the whole answer before the end of the stream is tested over a real socket in
    /// `NodeHTTPServerTests`.)
    func testARefusalClosesTheConnectionAfterItsAnswer() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: CloseAfterRefusal(), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        loop.advanceTime(by: .seconds(10))
        XCTAssertTrue(channel.isActive)
        let refusal = HTTPResponse(status: .contentTooLarge, headerFields: [.connection: "close"])
        try channel.writeOutbound(HTTPResponsePart.head(refusal))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        loop.advanceTime(by: CloseAfterRefusal.linger)
        XCTAssertFalse(channel.isActive)
        var written: [HTTPResponsePart] = []
        while let part = try channel.readOutbound(as: HTTPResponsePart.self) { written.append(part) }
        XCTAssertEqual(written.suffix(2), [.head(refusal), .end(nil)])
    }
}
