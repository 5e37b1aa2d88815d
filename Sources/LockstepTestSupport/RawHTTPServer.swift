import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP server that reads each request's head and then answers with `behave(fd)`, on a
/// thread per connection: a hostile or broken node for the client's and the verifier's tests.
public final class RawHTTPServer: @unchecked Sendable {
    /// The loopback port it listens on.
    public let port: Int
    private let fd: Int32

    /// - Parameter behave: what to do with a connection once its request head is read (the
    ///   connection is closed when it returns).
    public init(_ behave: @escaping @Sendable (_ connection: Int32) -> Void) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw HTTPTestClient.Failure(description: "raw server: \(errno)") }
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                Thread.detachNewThread {
                    // Read the request head first, as a server would, so that the answer is never unsolicited.
                    var seen: [UInt8] = [], byte: UInt8 = 0
                    while !seen.suffix(4).elementsEqual([13, 10, 13, 10]), recv(client, &byte, 1, 0) == 1 { seen.append(byte) }
                    behave(client)
                    close(client)
                }
            }
        }
    }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
