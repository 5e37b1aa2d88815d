import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What `HTTPTestClient` got back.
public struct HTTPAnswer {
    public let status: Int
    /// Header fields, names lower-cased.
    public let headers: [String: String]
    /// The body, chunked transfer encoding removed.
    public let body: [UInt8]

    /// The body as a JSON object (empty when it is not one).
    public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    /// A newline-delimited JSON body, one object per line.
    public var jsonLines: [[String: Any]] {
        body.split(separator: 0x0A).map { (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] ?? [:] }
    }
}

/// A minimal HTTP/1.1 client over a POSIX socket for the node's tests: one request per connection
/// (`Connection: close`) to 127.0.0.1, the whole answer read to the end, chunked bodies decoded.
public enum HTTPTestClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Sends `method path` with `body` (as JSON) and reads the answer.
    public static func request(port: Int, _ method: String, _ path: String, body: [UInt8] = []) throws -> HTTPAnswer {
        let connection = try Connection(port: port)
        let head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        connection.send(Array(head.utf8) + body)
        return try parse(connection.readToEnd(timeout: nil).bytes)
    }

    /// One connection to 127.0.0.1 that sends bytes as they are — a request, or a part of one —
    /// for tests of what the server does with slow, partial or malformed requests.
    public final class Connection {
        private let fd: Int32

        public init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { close(fd); throw Failure(description: "connect to port \(port): \(errno)") }
        }

        deinit { close(fd) }

        /// Closes this side: the server reads the end of the stream.
        public func shutDown() { shutdown(fd, Int32(SHUT_RDWR)) }

        /// Sends `bytes`, stopping early if the server no longer reads (it may answer 413 and
        /// close before reading everything).
        public func send(_ bytes: [UInt8]) {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                sent += n
            }
        }

        /// Reads until the server ends the stream, or until `timeout` seconds pass without it.
        /// - Returns: the bytes read, and whether the stream ended (false: the time ran out).
        public func readToEnd(timeout: Double?) -> (bytes: [UInt8], ended: Bool) {
            let deadline = timeout.map { Date().addingTimeInterval($0) }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                if let deadline {
                    let left = deadline.timeIntervalSinceNow
                    if left <= 0 { return (answer, false) }
                    var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    if poll(&poller, 1, Int32(left * 1000) + 1) == 0 { return (answer, false) }
                }
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { return (answer, true) }
                answer += buffer[0 ..< n]
            }
        }

        /// The answer read to the end of the stream within `timeout` seconds; nil when the
        /// stream did not end in time.
        public func answer(timeout: Double) throws -> HTTPAnswer? {
            let (bytes, ended) = readToEnd(timeout: timeout)
            return ended ? try parse(bytes) : nil
        }
    }

    private static func parse(_ answer: [UInt8]) throws -> HTTPAnswer {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0 ..< max(answer.count - 3, 0)).first(where: { Array(answer[$0 ..< $0 + 4]) == separator }) else {
            throw Failure(description: "no HTTP head in \(answer.count) bytes")
        }
        let lines = String(decoding: answer[0 ..< end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(answer[(end + 4)...])
        if headers["transfer-encoding"] == "chunked" { body = try dechunk(body) }
        return HTTPAnswer(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = [], i = 0
        while true {
            guard let lineEnd = (i ..< max(bytes.count - 1, i)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
                  let size = Int(String(decoding: bytes[i ..< lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16) else {
                throw Failure(description: "bad chunk at byte \(i)")
            }
            if size == 0 { return out }
            let start = lineEnd + 2
            guard start + size + 2 <= bytes.count else { throw Failure(description: "short chunk at byte \(i)") }
            out += bytes[start ..< start + size]
            i = start + size + 2
        }
    }
}
